"""A signal's life, with the legal transitions in one place, and the audit event of each step."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SignalState(StrEnum):
    RECEIVED = "RECEIVED"
    QUEUED = "QUEUED"
    SIZED = "SIZED"
    REJECTED = "REJECTED"
    HELD = "HELD"
    SUBMITTED = "SUBMITTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    def can_become(self, new: SignalState) -> bool:
        return new in TRANSITIONS[self]


TERMINAL = frozenset(
    {
        SignalState.REJECTED,
        SignalState.HELD,
        SignalState.FILLED,
        SignalState.CANCELED,
        SignalState.EXPIRED,
        SignalState.FAILED,
    }
)

_S = SignalState
TRANSITIONS: dict[SignalState, frozenset[SignalState]] = {
    _S.RECEIVED: frozenset({_S.QUEUED, _S.REJECTED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.SIZED, _S.REJECTED, _S.HELD, _S.FAILED}),
    _S.SIZED: frozenset({_S.SUBMITTED, _S.REJECTED, _S.FAILED}),
    _S.SUBMITTED: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED, _S.FAILED}),
    _S.OPEN: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.FAILED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.FAILED}),
    **{state: frozenset() for state in TERMINAL},
}


class SignalStatus(BaseModel):
    """Where a signal stands now (the signal-state record)."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    state: SignalState
    code: str | None = None  # rejection or failure code
    reason: str | None = None
    symbol: str | None = None
    strategy_id: str | None = None
    updated_at: datetime
    version: int = Field(default=1, ge=1)


class AuditEvent(BaseModel):
    """One step of one signal, as written to the audit trail. ``seq`` orders a signal's events."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    seq: int = Field(ge=0)
    stage: str  # ingest, sizing, execution, monitor
    state: SignalState
    at: datetime
    mode: str  # simulation, testnet, mainnet
    code: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    latency_ms: float | None = None  # a duration, not money: float is right here
