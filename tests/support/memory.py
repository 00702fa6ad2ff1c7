"""In-memory adapters of the pipeline's ports, and ``memory_deps`` that wires them with the paper exchange: the
whole pipeline in one process, for fast unit tests of the use-cases. Test doubles, so not in the Lambda layer
(tests/unit/test_layering.py keeps them out)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tradeengine.book import BookFill, Position
from tradeengine.hooks import Hook
from tradeengine.pipeline.ports import (
    OpenPosition,
    SignalQuery,
    SignalRecord,
    Step,
    TradingStateInfo,
    Transition,
    walk_group,
)
from tradeengine.risk import TradingState

from contracts.status import EXITING, AuditEvent


class MemorySignalStore:
    def __init__(self) -> None:
        self._rows: dict[str, SignalRecord] = {}
        self._lock = threading.Lock()

    def create(self, record: SignalRecord) -> bool:
        with self._lock:
            if record.signal_id in self._rows:
                return False
            history = record.history or (Transition(record.state, record.created_at),)
            self._rows[record.signal_id] = replace(record, version=len(history), history=history)
            return True

    def forget(self, signal_id: str, version: int) -> bool:
        with self._lock:
            row = self._rows.get(signal_id)
            if row is None or row.version != version:
                return False
            del self._rows[signal_id]
            return True

    def get(self, signal_id: str) -> SignalRecord | None:
        return self._rows.get(signal_id)

    def advance(self, signal_id: str, step: Step) -> SignalRecord | None:
        with self._lock:
            row = self._rows.get(signal_id)
            if row is None or row.life not in step.sources():
                return None
            when = step.at or datetime.now(UTC)
            new = replace(
                row,
                state=step.to.public,
                version=row.version + 1,
                updated_at=when,
                code=step.code if step.code is not None else row.code,
                reason=step.reason if step.reason is not None else row.reason,
                plan=step.plan if step.plan is not None else row.plan,
                execution=step.execution if step.execution is not None else row.execution,
                history=(*row.history, step.transition(when)),
                watching_exits=step.to is EXITING,
            )
            self._rows[signal_id] = new
            return new

    def list_signals(self, query: SignalQuery, limit: int = 100, after: str | None = None) -> list[SignalRecord]:
        rows = [r for sid, r in sorted(self._rows.items()) if (after is None or sid > after) and query.matches(r)]
        return rows[: max(limit, 0)]

    def open_signals(self, limit: int = 100, after: OpenPosition | None = None) -> Sequence[SignalRecord]:
        rows = sorted((OpenPosition.of(r), r) for r in self._rows.values() if walk_group(r) is not None)
        return [r for position, r in rows if after is None or position > after][: max(limit, 0)]


class MemoryCursors:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str | None) -> None:
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value


class MemoryQueue:
    """A FIFO queue with SQS FIFO's deduplication on the deduplication id (signal id)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self._seen: set[str] = set()
        self.fail_next = 0  # make the next N sends raise, as an unreachable SQS would

    def send(self, signal_id: str, symbol: str, body: Mapping[str, Any]) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("queue unreachable")
        if signal_id not in self._seen:
            self._seen.add(signal_id)
            self.messages.append((signal_id, symbol, dict(body)))
        return f"msg-{signal_id}"

    def drain(self) -> list[dict[str, Any]]:
        out = [body for _, _, body in self.messages]
        self.messages.clear()
        return out


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []  # (body, reason)

    def send(self, body: str, reason: str) -> None:
        self.messages.append((body, reason))


class MemoryAudit:
    def __init__(self) -> None:
        self._events: dict[tuple[str, int], AuditEvent] = {}
        self.down = False
        self.writes = 0  # record() calls: one bulk write each on MongoDB

    def record(self, events: Sequence[AuditEvent]) -> None:
        self.writes += 1
        if self.down:
            raise ConnectionError("audit store unreachable")
        for event in events:
            self._events.setdefault((event.signal_id, event.seq), event)

    def events(self, signal_id: str) -> Sequence[AuditEvent]:
        return sorted((e for (sid, _), e in self._events.items() if sid == signal_id), key=lambda e: e.seq)


class MemoryCounters:
    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
        self._values[(name, tuple(sorted(labels.items())))] += by

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        for bound in buckets:
            if value <= bound:
                self.incr(f"{name}_bucket", {**labels, "le": repr(float(bound))})
        self.incr(f"{name}_bucket", {**labels, "le": "+Inf"})
        self.incr(f"{name}_sum", labels, value)
        self.incr(f"{name}_count", labels)

    def snapshot(self) -> Mapping[tuple[str, tuple[tuple[str, str], ...]], float]:
        return dict(self._values)

    def flush(self) -> None:
        """Counted at once: nothing held back."""


class MemoryLedger:
    def __init__(self) -> None:
        self._fills: dict[tuple[str, str], dict[str, BookFill]] = defaultdict(dict)
        self._positions: dict[tuple[str, str], Position] = {}
        self._lock = threading.Lock()

    def add(self, fills: Sequence[BookFill]) -> list[BookFill]:
        added = []
        with self._lock:
            for fill in fills:
                book = self._fills[(fill.strategy_id, fill.symbol)]
                if fill.key not in book:
                    book[fill.key] = fill
                    added.append(fill)
        return added

    def fills(self, strategy_id: str, symbol: str) -> list[BookFill]:
        with self._lock:
            return list(self._fills.get((strategy_id, symbol), {}).values())

    def save_position(self, position: Position) -> bool:
        with self._lock:
            key = (position.strategy_id, position.symbol)
            stored = self._positions.get(key)
            if stored is not None and stored.fills >= position.fills:
                return False
            self._positions[key] = position
            return True

    def positions(self, strategy_id: str | None = None) -> list[Position]:
        with self._lock:
            return [p for (s, _), p in sorted(self._positions.items()) if strategy_id is None or s == strategy_id]


class MemoryTradingState:
    def __init__(self, state: TradingState = TradingState.ACTIVE) -> None:
        self.info = TradingStateInfo(state)

    def get(self) -> TradingState:
        return self.info.state

    def describe(self) -> TradingStateInfo:
        return self.info

    def set(self, state: TradingState, by: str = "", reason: str = "") -> None:
        self.info = TradingStateInfo(TradingState(state), by, reason, datetime.now(UTC))


class StaticRules:
    """Rules straight from an exchangeInfo document (the DynamoDB RulesCache in production)."""

    def __init__(self, rules: Mapping[str, Any]) -> None:
        self._rules = dict(rules)

    def get(self, symbol: str) -> Any:
        return self._rules.get(symbol)


class MemoryHookStore:
    def __init__(self) -> None:
        self.hooks: dict[str, Hook] = {}

    def get(self, hook_id: str) -> Hook | None:
        return self.hooks.get(hook_id)

    def put(self, hook: Hook, *, new: bool = False) -> bool:
        if new and hook.hook_id in self.hooks:
            return False
        self.hooks[hook.hook_id] = hook
        return True

    def list(self) -> Iterator[Hook]:
        return iter(sorted(self.hooks.values(), key=lambda h: h.hook_id))


class MemoryAuthFailures:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def _key(self, source: str) -> tuple[str, int]:
        return source, int(self._clock().timestamp() // 60)

    def count(self, source: str) -> int:
        return self._counts.get(self._key(source), 0)

    def add(self, source: str) -> int:
        with self._lock:
            key = self._key(source)
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


def memory_deps(
    exchange_info: Mapping[str, Any],
    prices: Mapping[str, Any],
    balances: Mapping[str, Any] | None = None,
    settings: Any = None,
) -> Any:
    """Deps wired with in-memory adapters and the paper exchange: the whole pipeline in one process."""
    from decimal import Decimal

    from tradeengine.config import Settings
    from tradeengine.exchange.market_data import FixedMarketData
    from tradeengine.exchange.paper import PaperExchange
    from tradeengine.pipeline.deps import Deps

    market = FixedMarketData({s: Decimal(str(p)) for s, p in prices.items()})
    start = {a: Decimal(str(v)) for a, v in balances.items()} if balances is not None else None
    exchange = PaperExchange(exchange_info, market, starting_balances=start)
    return Deps(
        settings=settings or Settings(),
        store=MemorySignalStore(),
        signals=MemoryQueue(),
        plans=MemoryQueue(),
        audit=MemoryAudit(),
        counters=MemoryCounters(),
        trading_state=MemoryTradingState(),
        cursors=MemoryCursors(),
        dead_letters=MemoryDeadLetters(),
        order_dead_letters=MemoryDeadLetters(),
        exchange=exchange,
        rules=StaticRules(exchange.rules),
        ledger=MemoryLedger(),
        hooks=MemoryHookStore(),
        auth_failures=MemoryAuthFailures(),
    )
