"""An execution event as the stores and the bridge's relay tests publish them (one signal's QUEUED step)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import EventKind, ExecutionEvent


def state_event(sid: str, seq: int, symbol: str = "BTCUSDT") -> ExecutionEvent:
    return ExecutionEvent(
        event_id=f"{sid}:{seq}",
        kind=EventKind.SIGNAL_STATE,
        strategy_id="momentum_v1",
        symbol=symbol,
        signal_id=sid,
        seq=seq,
        state="QUEUED",
        at=datetime.now(UTC),
        mode="simulation",
        detail={"price": "45000.10"},
    )
