"""The queue bodies, as models: what ingest and the bridge put on signals.fifo, and what sizing puts on orders.fifo.

Each end goes through these models: the producer builds one and sends ``wire()``, the consumer parses the body
with ``model_validate``. ``v`` is the body's version: a change to a body's shape is a new version, so a consumer
meeting a body it cannot read says so (dead letter with the reason) instead of guessing. Bodies written before
``v`` existed carry no ``v`` and are version 1 (the shape is the same), so messages in flight in a deployed queue
still parse (tests/unit/test_messages.py keeps a body of each as it was on the wire).

Unknown keys are ignored: a producer one release ahead may add one without the consumer dead-lettering it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from contracts.orders import OrderPlan
from contracts.signal import Signal


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on the queue."""
        return self.model_dump(mode="json")


class SignalMessage(_Message):
    """The body on signals.fifo: one signal, where it came from and when.

    ``signal`` is kept as JSON, not as a ``Signal``: sizing validates it itself, so that a signal that fails
    validation is recorded REJECTED(INVALID_SIGNAL) under its id (a strategy can look up why) instead of
    leaving the message unreadable."""

    v: Literal[1] = 1
    signal_id: str = ""  # none, or not a signal id: sizing goes by the signal's own (``Signal.id``)
    source: str = "nats"  # api, nats, a webhook, flatten; a body without one came from the bridge
    received_at: datetime | None = None
    signal: dict[str, Any] = Field(default_factory=dict)
    # Ingest recorded this very signal QUEUED before sending it, and left its audit and events to sizing;
    # sizing then decides without reading the record first (the bridge's bodies, and older ones, say False).
    recorded: bool = False

    @classmethod
    def of(cls, signal: Signal, source: str, received_at: datetime, *, recorded: bool = False) -> SignalMessage:
        body = {**signal.model_dump(mode="json", exclude_none=True), "signal_id": signal.id}
        return cls(signal_id=signal.id, source=source, received_at=received_at, signal=body, recorded=recorded)

    @field_serializer("received_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None  # as ingest always wrote it: +00:00, not Z


class PlannedSignal(BaseModel):
    """The parts of the sized signal that execution reads (whom to book the fills for, whether it closes);
    the rest of the signal rides along as it was sized."""

    model_config = ConfigDict(frozen=True, extra="allow")

    strategy_id: str = ""
    action: str = ""


class PlanMessage(_Message):
    """The body on orders.fifo: the plan to place, and the signal it was sized from."""

    v: Literal[1] = 1
    signal_id: str
    received_at: datetime | None = None  # when the signal reached the engine: execution measures its latency
    signal: PlannedSignal = Field(default_factory=PlannedSignal)
    plan: OrderPlan

    @classmethod
    def of(cls, signal: Signal, plan: OrderPlan, received_at: datetime | None) -> PlanMessage:
        planned = PlannedSignal.model_validate(signal.model_dump(mode="json", exclude_none=True))
        return cls(signal_id=plan.signal_id, received_at=received_at, signal=planned, plan=plan)

    @field_serializer("received_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    @property
    def closes(self) -> bool:
        return self.signal.action == "close"
