"""Execution events derived from what is already written: a signal's history and the book's audit events.

Deriving them (instead of emitting them beside each write) is what keeps publishing off the trading path:
the history and the audit trail are written whatever happens to an events bus, and the same record always
gives the same events with the same ids, so a publisher that was down publishes them later, and one that
publishes twice publishes nothing new to a consumer that drops repeated ids (JetStream's ``Nats-Msg-Id``).

Pure: no I/O. ``contracts.events`` is the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from contracts.events import EventKind, ExecutionEvent
from contracts.money import dumps
from contracts.status import AuditEvent
from tradeengine.pipeline.ports import SignalRecord


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe detail, Decimals as strings (never floats on the wire)."""
    return dict(json.loads(dumps(dict(detail))))


def signal_events(record: SignalRecord, mode: str, after_seq: int = 0) -> list[ExecutionEvent]:
    """One ``signal.state`` event per step of ``record``'s history past ``after_seq`` (seq counts from 1)."""
    return [
        ExecutionEvent(
            event_id=f"{record.signal_id}:{seq}",
            kind=EventKind.SIGNAL_STATE,
            strategy_id=record.strategy_id,
            symbol=record.symbol,
            signal_id=record.signal_id,
            seq=seq,
            state=step.state.value,
            code=step.code,
            reason=step.reason,
            at=step.at,
            mode=mode,
            detail={"stage": step.stage or "ingest", **_plain(step.detail)},
        )
        for seq, step in enumerate(record.history, start=1)
        if seq > after_seq
    ]


def book_events(audit: Iterable[AuditEvent]) -> list[ExecutionEvent]:
    """``fill`` and ``position`` events from the strategy book's audit events (``pipeline.booking``), and
    ``protection`` events from an automatic protection's (``pipeline.entry_guard``)."""
    out: list[ExecutionEvent] = []
    for event in audit:
        fill = event.detail.get("fill")
        position = event.detail.get("position")
        if isinstance(fill, Mapping):
            out.append(_book_event(EventKind.FILL, event, fill, str(fill.get("signal_id") or "") or None))
        elif isinstance(position, Mapping):
            out.append(_book_event(EventKind.POSITION, event, position, None))
        elif event.stage == "protection":
            out.append(protection_event(event))
    return out


def protection_event(event: AuditEvent) -> ExecutionEvent:
    """An account-wide protection's trip (``pipeline.entry_guard``): strategy ``*``, no symbol."""
    return ExecutionEvent(
        event_id=f"{event.signal_id}:{event.seq}",
        kind=EventKind.PROTECTION,
        strategy_id="*",
        symbol="",
        seq=event.seq,
        state=str(event.detail.get("trading_state", "")) or None,
        code=event.code,
        reason=str(event.detail.get("reason", "")) or None,
        at=event.at,
        mode=event.mode,
        detail=_plain(event.detail),
    )


def _book_event(kind: EventKind, event: AuditEvent, body: Mapping[str, Any], signal_id: str | None) -> ExecutionEvent:
    return ExecutionEvent(
        event_id=f"{event.signal_id}:{event.seq}",
        kind=kind,
        strategy_id=str(body.get("strategy_id", "")),
        symbol=str(body.get("symbol", "")),
        signal_id=signal_id,
        seq=event.seq,
        state=event.state.value if kind is EventKind.FILL else None,
        at=event.at,
        mode=event.mode,
        detail=_plain(event.detail),
    )
