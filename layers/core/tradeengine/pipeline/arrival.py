"""A signal's first record, shared by the two stages that may be the first to see a signal.

Ingest records a signal before it queues it (HTTP, webhooks, flatten); a signal from the NATS bridge reaches
sizing unrecorded, and sizing records it (``size._ensure_record``). Both make the same RECEIVED record
(``received``), tell a retry of the same signal from another signal under a used signal_id the same way
(``same_content``, ``conflict_reason``), and record a signal that fails validation as
REJECTED(INVALID_SIGNAL) under its signal_id (``record_invalid``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.rejection import RejectionCode
from contracts.signal import Signal, content_digest, shown
from contracts.status import SignalState
from tradeengine.pipeline.ports import SignalRecord, Step, Transition
from tradeengine.pipeline.recorder import Recorder


def received(
    signal_id: str, source: str, now: datetime, fields: Mapping[str, Any], signal: Signal | None = None
) -> SignalRecord:
    """A new signal's first record (RECEIVED); ``fields`` supply symbol and strategy when it did not validate."""
    return SignalRecord(
        signal_id=signal_id,
        state=SignalState.RECEIVED,
        version=1,
        # An invalid signal's own text may not be valid UTF-8 (a lone surrogate): escaped, so the record can be read.
        symbol=signal.symbol if signal else shown(str(fields.get("symbol", "")), 20),
        strategy_id=signal.strategy_id if signal else shown(str(fields.get("strategy_id", "")), 128),
        created_at=now,
        updated_at=now,
        source=source,
        signal=signal.model_dump(mode="json", exclude_none=True) if signal else {},
        history=(Transition(SignalState.RECEIVED, now, stage="ingest", detail={"source": source}),),
    )


def same_content(record: SignalRecord, signal: Signal) -> bool:
    """Whether ``signal`` is the one ``record`` was made for (a retry), not another under a reused id."""
    mine = content_digest(signal.model_dump(mode="json", exclude_none=True))
    return bool(record.signal) and content_digest(record.signal) == mine


def conflict_reason(record: SignalRecord, signal: Signal) -> str:
    """Why ``signal`` cannot have ``record``'s id; names the key, never the other signal's content."""
    whose = "its content" if signal.signal_id is None else "the client"
    earlier = "a signal that was refused as invalid" if not record.signal else "a different signal"
    return (
        f"signal_id {record.signal_id!r} (given by {whose}) is already used by {earlier}; "
        "a retry must repeat the same signal, a new signal needs a new signal_id"
    )


def record_invalid(
    signal_id: str, fields: Mapping[str, Any], errors: list[dict[str, str]], source: str, recorder: Recorder
) -> tuple[SignalRecord | None, bool]:
    """Record a signal that failed validation as REJECTED(INVALID_SIGNAL). Returns (record, newly recorded)."""
    reason = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if not recorder.create(received(signal_id, source, recorder.clock(), fields)):
        return recorder.store.get(signal_id), False
    rejected = recorder.advance(
        signal_id,
        Step(SignalState.REJECTED, code=RejectionCode.INVALID_SIGNAL.value, reason=reason, detail={"errors": errors}),
    )
    return rejected, True
