"""What a signal's record keeps once it is placed (``SignalRecord.execution``), read as models.

The stages write these records as JSON objects (``pipeline/exits.order_summary``, ``pipeline/protection.py``);
they read them back through these models, so the keys a decision depends on (the entry's executed quantity and
fills, the exits' protection and its retry schedule, what the exits were placed for, how they ended) are named
once. Records already stored carry keys no model names (``venue``, ``exits``, ``order_list``, ``notes``,
``flatten``, ...), and a release may add one: every model here keeps the keys it does not name (extra allowed)
and gives a default to every key it does, so any record written so far reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.money import Money


class Protection(StrEnum):
    """Where a filled entry's exits stand (``pipeline/protection.py`` says what each means)."""

    PROTECTED = "protected"
    PENDING = "pending"
    FLATTENED = "flattened"
    UNPROTECTED = "unprotected"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class RecordedFill(_Record):
    trade_id: int | str | None = None
    price: Money | None = None
    qty: Money | None = None
    commission: Money | None = None
    commission_asset: str | None = None


class RecordedOrder(_Record):
    """An exchange order as the record keeps it (``pipeline/exits.order_summary``)."""

    order_id: int | str | None = None
    client_order_id: str | None = None
    status: str | None = None
    executed_qty: Money | None = None
    avg_price: Money | None = None
    fills: tuple[RecordedFill, ...] = ()


class ExitResult(_Record):
    """How a filled entry's exits ended (``execution.exit_result``): which leg closed the position, if one did
    (``stop_loss``, ``take_profit``, ``flatten``, or None), and each leg as it ended."""

    closed_by: str | None = None
    legs: dict[str, RecordedOrder] = Field(default_factory=dict)
    canceled_by: str | None = None  # a close of the engine canceled the legs


class Execution(_Record):
    """``SignalRecord.execution``: the entry as the exchange answered, then what became of its exits."""

    entry: RecordedOrder | None = None
    venue: str | None = None
    protection: Protection | None = None  # None: no exits asked
    exit_attempts: int = 1  # placements of the exits tried so far
    next_exit_attempt_at: datetime | None = None  # a pending protection's next try
    exit_quantity: Money | None = None  # what the exits were placed for
    exit_result: ExitResult | None = None

    @classmethod
    def read(cls, stored: Mapping[str, Any] | None) -> Execution:
        """A record's execution (none yet: an empty one)."""
        return cls.model_validate(dict(stored or {}))

    @property
    def exits_working(self) -> bool:
        """Exits that stand at the exchange, or that are still to be placed."""
        return self.protection in (Protection.PROTECTED, Protection.PENDING)
