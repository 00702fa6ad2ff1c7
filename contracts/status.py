"""A signal's life, with the legal transitions in one place, and the audit event of each step.

The life has one state more than the public ``SignalState``: EXITING, a FILLED entry whose exit orders are still
working (the monitor follows them until every leg has ended). It is a sub-state of FILLED: stored, shown
(``GET /signals/{id}`` answers FILLED with ``exits_working: true``), audited and published as FILLED
(``public``). Its moves are in ``TRANSITIONS`` with the others: an order's fill enters it, each step while the
exits work (an attempt at placing them, a retry that placed them) stays in it, and the exits' end leaves it
for FILLED.
"""

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

    @property
    def public(self) -> SignalState:
        """The state as stored, shown and audited."""
        return self

    def can_become(self, new: Life) -> bool:
        return new in TRANSITIONS[self]


class SubState(StrEnum):
    """A state of the life that the outside sees as its ``public`` state."""

    EXITING = "EXITING"  # FILLED, and its exit orders (stop-loss / take-profit) are still working

    @property
    def terminal(self) -> bool:
        return False

    @property
    def public(self) -> SignalState:
        return SignalState.FILLED

    def can_become(self, new: Life) -> bool:
        return new in TRANSITIONS[self]


Life = SignalState | SubState
EXITING = SubState.EXITING


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
_FILLS: frozenset[Life] = frozenset({_S.FILLED, EXITING})  # an entry fills with its exits working or without
TRANSITIONS: dict[Life, frozenset[Life]] = {
    _S.RECEIVED: frozenset({_S.QUEUED, _S.REJECTED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.SIZED, _S.REJECTED, _S.HELD, _S.FAILED}),
    _S.SIZED: frozenset({_S.SUBMITTED, _S.REJECTED, _S.FAILED}),
    _S.SUBMITTED: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED, _S.FAILED}) | _FILLS,
    _S.OPEN: frozenset({_S.PARTIALLY_FILLED, _S.CANCELED, _S.EXPIRED, _S.FAILED}) | _FILLS,
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.CANCELED, _S.EXPIRED, _S.FAILED}) | _FILLS,
    # one more step while the exits work (an attempt, a retry that placed them), or their end
    EXITING: frozenset({EXITING, _S.FILLED}),
    **{state: frozenset() for state in TERMINAL},
}
EXIT_MOVES: frozenset[Life] = frozenset({EXITING})  # where the exits' own steps move from: only while they work
ORDER_MOVES: frozenset[Life] = frozenset(_S)  # where an order's own status moves a signal from: never EXITING, whose
# fill is recorded already (a late delivery of the same fill must find nothing to do, not record it again)


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
