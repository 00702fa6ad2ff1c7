"""The ports the pipeline's use-cases depend on. Adapters live in ``tradeengine.stores`` (DynamoDB, SQS,
MongoDB); in-memory versions, for fast unit tests, in ``tests/support/memory.py`` (not in the layer).

Guarantees these ports carry:
- ``SignalStateStore.create`` is a conditional put: exactly one caller creates a signal id; a repeat
  sees ``False`` and reads the existing record (the API answers ``duplicate: true``).
- ``SignalStateStore.advance`` only moves forward (``SignalState.can_become``), conditional on the
  stored state being one the move is legal from, so concurrent workers never overwrite a later state
  with an earlier one, and every legal step lands.
- ``SignalQueue`` / ``PlanQueue`` are SQS FIFO: group = symbol, deduplication id = signal id.
- ``AuditSink.record`` is idempotent on (signal_id, seq).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contracts.events import ExecutionEvent
from contracts.status import EXITING as EXITING_STATE
from contracts.status import AuditEvent, Life, SignalState, SubState
from tradeengine.book import BookFill, Position
from tradeengine.risk import TradingState
from tradeengine.rules import SymbolRules


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of a signal's history; the audit trail is written from these (seq = position + 1)."""

    state: SignalState
    at: datetime
    code: str | None = None
    reason: str | None = None
    stage: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    # How long the stage had been at its message when it wrote this step (ms; None: not measured). The
    # engine's own share of a signal's latency; the rest between two stages is the queues' and the platform's.
    took_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One move of a signal, as a stage asks for it and the store writes it: the state it moves to, why (``code``,
    ``reason``), what it stores with the move (``plan``, ``execution``: kept unless given), the detail its history
    keeps, and who moved it when (``stage``, ``at``: the recorder fills both in).

    ``to`` is a state of the life (``contracts.status.Life``): EXITING for a fill whose exits the monitor follows,
    and for each step while they work. ``source``: the move is made only from these of the states
    ``TRANSITIONS`` allows it from (``ORDER_MOVES`` for a move an order's status makes)."""

    to: Life
    code: str | None = None
    reason: str | None = None
    plan: Mapping[str, Any] | None = None
    execution: Mapping[str, Any] | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    source: frozenset[Life] | None = None
    stage: str = ""
    at: datetime | None = None
    took_ms: int | None = None

    def transition(self, when: datetime) -> Transition:
        """The step as the record's history keeps it (EXITING is FILLED there)."""
        return Transition(self.to.public, when, self.code, self.reason, self.stage, dict(self.detail), self.took_ms)

    def sources(self) -> list[Life]:
        """The states this step may move a signal from: the table's, narrowed by ``source``."""
        return [
            s for s in (*SignalState, *SubState) if s.can_become(self.to) and (self.source is None or s in self.source)
        ]


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A signal's row in the signal-state table."""

    signal_id: str
    state: SignalState
    version: int
    symbol: str
    strategy_id: str
    created_at: datetime
    updated_at: datetime
    code: str | None = None
    reason: str | None = None
    source: str = "api"  # api | nats
    signal: Mapping[str, Any] = field(default_factory=dict)  # the validated signal, JSON form
    plan: Mapping[str, Any] | None = None  # the OrderPlan, JSON form, once sized
    execution: Mapping[str, Any] | None = None  # exchange order ids, fills, fees, once submitted
    history: tuple[Transition, ...] = ()
    watching_exits: bool = False  # FILLED, and its exit orders (stop-loss / take-profit) are still working

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def life(self) -> Life:
        """Where the signal is in ``TRANSITIONS``: its state, or EXITING for a FILLED one whose exits work."""
        return EXITING_STATE if self.watching_exits and self.state is SignalState.FILLED else self.state


@dataclass(frozen=True, slots=True)
class SignalQuery:
    """The list view's filters (each optional)."""

    strategy_id: str | None = None
    symbol: str | None = None
    state: str | None = None
    since: datetime | None = None

    def matches(self, record: SignalRecord) -> bool:
        return (
            (self.strategy_id is None or record.strategy_id == self.strategy_id)
            and (self.symbol is None or record.symbol == self.symbol)
            and (self.state is None or record.state.value == self.state)
            and (self.since is None or record.created_at >= self.since)
        )


class SignalStateStore(Protocol):
    def create(self, record: SignalRecord) -> bool:
        """Insert if no record has this signal id. False: it exists already (nothing written).

        The record is stored with its whole history (ingest records RECEIVED and QUEUED in one write),
        ``version`` = the number of its steps."""
        ...

    def forget(self, signal_id: str, version: int) -> bool:
        """Delete the record if it is still at ``version`` (nobody moved it since): ingest takes back a record
        whose signal it could not queue, so the retry it answers 503 for records it again."""
        ...

    def get(self, signal_id: str) -> SignalRecord | None: ...

    def advance(self, signal_id: str, step: Step) -> SignalRecord | None:
        """Move forward to ``step.to`` if that is a legal transition from the stored life (``SignalRecord.life``).

        Returns the new record, or None when the transition is not legal any more (someone else moved
        the signal on first): the caller treats that as "already done", never as an error.
        To EXITING: the record is FILLED and the monitor follows its exits (``open_signals``); out of EXITING
        to FILLED: their end, and the monitor stops following it.
        """
        ...

    def list_signals(self, query: SignalQuery, limit: int = 100, after: str | None = None) -> list[SignalRecord]:
        """At most ``limit`` signals matching ``query``, in the store's own order, after the signal id ``after``."""
        ...

    def open_signals(self, limit: int = 100, after: OpenPosition | None = None) -> Sequence[SignalRecord]:
        """Signals with orders still working, for the monitor: at most ``limit``, in ``OpenPosition`` order
        (SUBMITTED, OPEN, PARTIALLY_FILLED, then FILLED with exits working; oldest first in each),
        starting after ``after``."""
        ...


class SignalQueue(Protocol):
    """signals.fifo: validated signals waiting to be sized."""

    def send(self, signal_id: str, symbol: str, body: Mapping[str, Any]) -> str:
        """Enqueue; returns the SQS message id. FIFO dedup on signal_id makes a resend harmless."""
        ...


class PlanQueue(Protocol):
    """orders.fifo: sized order plans waiting to be executed."""

    def send(self, signal_id: str, symbol: str, body: Mapping[str, Any]) -> str: ...


class AuditSink(Protocol):
    def record(self, events: Sequence[AuditEvent]) -> None:
        """Write audit events; idempotent on (signal_id, seq), so writing a signal's whole history again
        heals any earlier failed write. Raises when the store is unreachable."""
        ...

    def events(self, signal_id: str) -> Sequence[AuditEvent]: ...


class EventPublisher(Protocol):
    """The execution events' bus (SNS FIFO on AWS): best effort, off the trading path (pipeline.events_out)."""

    def publish(self, events: Sequence[ExecutionEvent]) -> None:
        """Publish in the given order; a repeated ``event_id`` is harmless. Raises when the bus is unreachable."""
        ...


class EventOutbox(Protocol):
    """What could not be published yet, kept for the monitor to publish (``pipeline.events_out.drain``)."""

    def add(self, entries: Mapping[str, str]) -> None:
        """Keep each key (``signal:<id>:<after_seq>`` or ``event:<event_id>``) with its body. Raises when down."""
        ...

    def pending(self, limit: int) -> dict[str, str]: ...

    def remove(self, keys: Sequence[str]) -> None: ...


class Counters(Protocol):
    """Monotonic counters shared by every function instance (so /metrics agrees whoever answers)."""

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None: ...

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        """Add one observation to a histogram (bucket counters + sum + count)."""
        ...

    def snapshot(self) -> Mapping[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every counter, keyed by (name, sorted label pairs)."""
        ...

    def flush(self) -> None:
        """Write counts held in memory (a buffered adapter); nothing to do for one that writes at once."""
        ...


OPEN_STATES = (SignalState.SUBMITTED, SignalState.OPEN, SignalState.PARTIALLY_FILLED)
EXITING = EXITING_STATE.value  # the walk's group of a FILLED signal whose exit orders are still working
WALK = (*(s.value for s in OPEN_STATES), EXITING)  # what the monitor follows, in the order it walks


def walk_group(record: SignalRecord) -> str | None:
    """The monitor's group for ``record`` (one of WALK), None when there is nothing to follow."""
    if record.state in OPEN_STATES:
        return record.state.value
    return EXITING if record.watching_exits and record.state is SignalState.FILLED else None


@dataclass(frozen=True, slots=True, order=True)
class OpenPosition:
    """Where a signal stands in the monitor's walk: its group (in WALK order), created_at, id."""

    rank: int
    created_at: datetime
    signal_id: str

    @classmethod
    def of(cls, record: SignalRecord) -> OpenPosition:
        group = walk_group(record)
        return cls(WALK.index(group) if group else len(WALK), record.created_at, record.signal_id)

    @property
    def group(self) -> str:
        return WALK[self.rank]

    def dumps(self) -> str:
        return f"{self.group}|{self.created_at.isoformat()}|{self.signal_id}"

    @classmethod
    def loads(cls, text: str) -> OpenPosition | None:
        """None for text that is not a position (an old or damaged cursor restarts the walk)."""
        try:
            group, at, signal_id = text.split("|", 2)
            return cls(WALK.index(group), datetime.fromisoformat(at), signal_id)
        except ValueError:
            return None


class Cursors(Protocol):
    """Small named bookmarks that outlive an invocation (the monitor's place in its walk)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class TradingStateInfo:
    """The trading state with who set it, why and when (GET /trading/state answers all four)."""

    state: TradingState
    set_by: str = ""
    reason: str = ""
    set_at: datetime | None = None  # None: never set, the configured default applies


class TradingStateStore(Protocol):
    """ACTIVE / REDUCING / HALTED, set by an operator (PUT /trading/state), read by sizing."""

    def get(self) -> TradingState: ...

    def describe(self) -> TradingStateInfo: ...

    def set(self, state: TradingState, by: str = "", reason: str = "") -> None: ...


class RulesSource(Protocol):
    """One symbol's exchange filters: the DynamoDB RulesCache (stores/rules_cache.py), refreshed from the venue."""

    def get(self, symbol: str) -> SymbolRules | None:
        """None: the venue does not list the symbol."""
        ...


class Ledger(Protocol):
    """The strategy book: every fill once, and a position summary per (strategy, symbol)."""

    def add(self, fills: Sequence[BookFill]) -> list[BookFill]:
        """Record each fill unless its key is recorded already; returns the fills this call recorded."""
        ...

    def fills(self, strategy_id: str, symbol: str) -> list[BookFill]:
        """Every recorded fill of one position (strongly consistent: a fill just added is in it)."""
        ...

    def save_position(self, position: Position) -> bool:
        """Store the summary unless one replaying as many fills or more is stored. True: written."""
        ...

    def positions(self, strategy_id: str | None = None) -> list[Position]:
        """Every position summary (of one strategy), open and closed."""
        ...
