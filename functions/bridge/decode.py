"""Payload → an SQS entry, or the reason it can never become one (the same rules as the API's ingest).

A stale timestamp is not malformed: it is a valid signal, and the sizing stage rejects it as
STALE_SIGNAL with a record the strategy can look up. Malformed means the bytes are not a Signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contracts import wire
from contracts.errors import describe
from contracts.messages import SignalMessage
from contracts.signal import Signal

SOURCE = "nats"


@dataclass(frozen=True, slots=True)
class Entry:
    """One SendMessageBatch entry: group = symbol (per-symbol order), dedup = signal_id."""

    signal_id: str
    symbol: str
    body: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str
    errors: list[dict[str, str]] = field(default_factory=list)


def decode(data: bytes, received_at: datetime, max_bytes: int) -> Entry | Malformed:
    """``received_at`` should be the stream's timestamp, so a redelivery produces the same body."""
    if len(data) > max_bytes:
        return Malformed(f"payload too large: {len(data)} bytes > {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Malformed(f"payload is not UTF-8 text: {exc.reason} at byte {exc.start}")
    try:
        raw: Any = wire.loads(text)  # as the API reads a body: duplicate keys, NaN, 100+ digit integers refused
    except wire.WireError as exc:
        kind = "is not JSON" if exc.status == 400 else "refused"
        return Malformed(f"payload {kind}: {exc.message}")
    if not isinstance(raw, dict):
        return Malformed(f"payload is a JSON {type(raw).__name__}, not an object")
    try:
        signal = Signal.model_validate(raw)
    except ValidationError as exc:
        errors = describe(exc)
        return Malformed("invalid signal: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    body = json.dumps(SignalMessage.of(signal, SOURCE, received_at).wire(), separators=(",", ":"))
    return Entry(signal.id, signal.symbol, body)
