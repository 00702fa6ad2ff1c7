"""Execution events: what the engine tells the world about a signal, a fill and a position (versioned).

One event per step of a signal's history (``signal.state``), per fill the strategy book records
(``fill``), per change of a position (``position``) and per trip of an automatic protection
(``protection``: strategy ``*`` when it guards the account, ``symbol`` empty). ``event_id`` is stable
(the signal id and the step's place in its history; the book's own fill key; the position and its fill
count; the protection and its time), so a consumer, or JetStream's ``Nats-Msg-Id``, drops a republished
event. ``seq`` orders one signal's events. Amounts are decimal strings, never floats. A change to a
field's meaning is a new ``schema``, never an edit of this one.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA: Literal["petrosa.execution.v1"] = "petrosa.execution.v1"
SUBJECT_PREFIX = "executions"
_UNSAFE_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


class EventKind(StrEnum):
    SIGNAL_STATE = "signal.state"
    FILL = "fill"
    POSITION = "position"
    PROTECTION = "protection"  # an automatic protection tripped (tradeengine.protections): added in v1, additive


class ExecutionEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["petrosa.execution.v1"] = Field(default=SCHEMA, alias="schema")
    event_id: str = Field(min_length=1, max_length=300)
    kind: EventKind
    strategy_id: str
    symbol: str
    signal_id: str | None = None  # None for a position, which belongs to no one signal
    seq: int = Field(ge=0)  # the step's place in the signal's history; the position's fill count
    state: str | None = None  # the signal's state after the step (signal.state)
    code: str | None = None  # a refusal's or a failure's stable code
    reason: str | None = None  # its sentence
    at: datetime
    mode: str  # simulation, testnet, mainnet
    detail: dict[str, Any] = Field(default_factory=dict)  # amounts as decimal strings

    def subject(self, prefix: str = SUBJECT_PREFIX) -> str:
        """``executions.<strategy_id>.<symbol>``: each token made safe for NATS (no '.', '*', '>', spaces)."""
        return f"{prefix}.{subject_token(self.strategy_id)}.{subject_token(self.symbol)}"

    def wire(self) -> str:
        return self.model_dump_json(by_alias=True)


def subject_token(text: str) -> str:
    """One NATS subject token: characters outside ``[A-Za-z0-9_-]`` become ``_`` (empty: ``_``)."""
    return _UNSAFE_TOKEN.sub("_", text) or "_"
