"""Execution events out, best effort: published after the state and the book are written, never on their way.

Where they come from: ``Recorder.flush`` hands over, once per message, each touched signal with the steps
this stage added (``tradeengine.events.signal_events``) and the book's fill and position events booked
meanwhile (``tradeengine.events.book_events``), published together in one batch; ``booking._audit``
publishes the book's alone where no recorder is at hand. Both are derived from what is already durable,
with stable ids.

What is never allowed: an event stopping or slowing an order. ``EventsOut`` catches every failure; a
failed publish puts the events in the outbox (``EventOutbox``: a signal by id and the first step to send,
a book event whole) and opens a breaker for ``BREAKER_S`` seconds, during which this process does not try
the bus at all (one outbox write instead of a bus timeout per message). The monitor's scheduled run
publishes what the outbox holds (``drain``) and removes only what was published. An outbox that is down
too is counted (``tradeengine_errors_total{type="events_lost"}``) and logged, and trading still goes on.

Pure orchestration: the bus and the outbox are ports (``pipeline.ports``); no I/O library here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.events import ExecutionEvent
from contracts.status import AuditEvent
from tradeengine.events import book_events, signal_events
from tradeengine.metrics import ERRORS, EVENTS_PUBLISHED
from tradeengine.pipeline.ports import Counters, EventOutbox, EventPublisher, SignalRecord, SignalStateStore

log = logging.getLogger(__name__)

BREAKER_S = 30.0  # after a failed publish, how long this process goes straight to the outbox
DRAIN_LIMIT = 200  # outbox entries one monitor run publishes


class LoggedPublisher:
    """No bus configured (EXECUTION_EVENTS_TOPIC_ARN unset): a debug line per event, its kind, id and state only
    (the audit trail has the rest; a strategy's free text is not repeated into the log)."""

    def publish(self, events: Sequence[ExecutionEvent]) -> None:
        for event in events:
            log.debug("execution event (no bus) %s %s %s", event.kind.value, event.event_id, event.state or "")


class MemoryPublisher:
    """In-process bus for tests: ``events`` in publish order; ``down`` makes every publish raise."""

    def __init__(self) -> None:
        self.events: list[ExecutionEvent] = []
        self.down = False
        self.calls = 0

    def publish(self, events: Sequence[ExecutionEvent]) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("events bus unavailable")
        self.events.extend(events)


class MemoryOutbox:
    """EventOutbox in memory (tests; and a process without a durable outbox, where it lives as long as the process)."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.down = False

    def add(self, entries: Mapping[str, str]) -> None:
        if self.down:
            raise ConnectionError("outbox unavailable")
        self.entries.update(entries)

    def pending(self, limit: int) -> dict[str, str]:
        return dict(sorted(self.entries.items())[: max(limit, 0)])

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.entries.pop(key, None)


def signal_key(signal_id: str, after_seq: int) -> str:
    return f"signal:{signal_id}:{after_seq}"


@dataclass
class EventsOut:
    publisher: EventPublisher
    outbox: EventOutbox
    counters: Counters
    mode: str
    monotonic: Callable[[], float] = time.monotonic
    _closed_until: float = field(default=0.0, init=False, repr=False)

    def signal(self, record: SignalRecord, after_seq: int = 0) -> None:
        """Publish ``record``'s steps past ``after_seq``; never raises."""
        self.publish([(record, after_seq)], ())

    def book(self, audit: Iterable[AuditEvent]) -> None:
        """Publish the book's fill and position events; never raises."""
        self.publish((), audit)

    def publish(self, signals: Sequence[tuple[SignalRecord, int]], book: Iterable[AuditEvent]) -> None:
        """One message's events in one publish: the book's fill and position events, then each signal's steps
        past its ``after_seq`` (the order they happened in: execution books a fill before its step). Never raises."""
        events: list[ExecutionEvent] = []
        keep: dict[str, str] = {}
        audit = list(book)
        if audit:
            try:
                found = book_events(audit)
            except Exception as exc:
                self._count_lost(1, "book events", exc)
            else:
                events += found
                keep |= {f"event:{e.event_id}": e.wire() for e in found}
        for record, after_seq in signals:
            try:
                events += signal_events(record, self.mode, after_seq)
            except Exception as exc:  # a record the schema cannot carry is a bug to see, not a reason to stop
                self._count_lost(len(record.history) - after_seq, f"signal {record.signal_id}", exc)
                continue
            keep[signal_key(record.signal_id, after_seq)] = ""
        self._send(events, keep)

    def _send(self, events: list[ExecutionEvent], keep: Mapping[str, str]) -> None:
        if not events:
            return
        if self.monotonic() >= self._closed_until:
            try:
                self.publisher.publish(events)
                self.counters.incr(EVENTS_PUBLISHED, {"via": "direct"}, by=len(events))
                return
            except Exception as exc:  # the bus is down or slow: trading goes on, the outbox catches up
                self._closed_until = self.monotonic() + BREAKER_S
                self.counters.incr(ERRORS, {"type": "events_publish"})
                log.warning("execution events not published (kept for the monitor): %s", type(exc).__name__)
        try:
            self.outbox.add(keep)
        except Exception as exc:
            self._count_lost(len(events), ", ".join(sorted(keep))[:200], exc)

    def _count_lost(self, n: int, what: str, exc: Exception) -> None:
        self.counters.incr(ERRORS, {"type": "events_lost"}, by=max(n, 1))
        log.error("execution events lost (%s): %s", what, type(exc).__name__)


@dataclass(frozen=True, slots=True)
class DrainReport:
    published: int = 0  # events sent to the bus
    cleared: int = 0  # outbox entries removed
    left: int = 0  # entries still in the outbox after this run (the bus failed again)
    error: str = ""


def drain(
    publisher: EventPublisher,
    outbox: EventOutbox,
    store: SignalStateStore,
    counters: Counters,
    mode: str,
    limit: int = DRAIN_LIMIT,
) -> DrainReport:
    """Publish what the outbox holds and remove what went out; stop at the first failure. Never raises."""
    try:
        entries = outbox.pending(limit)
    except Exception as exc:
        log.warning("events outbox unreadable: %s", type(exc).__name__)
        return DrainReport(error=type(exc).__name__)
    published, cleared = 0, 0
    for keys, load in _batches(entries):
        try:
            events = load(store, mode)
            if events:
                publisher.publish(events)
            outbox.remove(keys)
        except Exception as exc:  # the bus is still down: stop here, the next run goes on
            counters.incr(ERRORS, {"type": "events_publish"})
            log.warning("events outbox not drained: %s", type(exc).__name__)
            return DrainReport(published, cleared, len(entries) - cleared, type(exc).__name__)
        published += len(events)
        cleared += len(keys)
    if published:
        counters.incr(EVENTS_PUBLISHED, {"via": "outbox"}, by=published)
    return DrainReport(published, cleared, len(entries) - cleared)


Loader = Callable[[SignalStateStore, str], list[ExecutionEvent]]


def _batches(entries: Mapping[str, str]) -> list[tuple[list[str], Loader]]:
    """One publish per signal (from the first step any of its entries missed) and per book event, in order."""
    firsts: dict[str, tuple[int, list[str]]] = {}
    book: list[tuple[tuple[str, int, str], str, str]] = []
    for key, body in entries.items():
        kind, _, rest = key.partition(":")
        if kind == "signal":
            signal_id, _, after = rest.rpartition(":")
            first, keys = firsts.get(signal_id, (int(after) if after.isdigit() else 0, []))
            firsts[signal_id] = (min(first, int(after) if after.isdigit() else 0), [*keys, key])
        else:
            book.append((_order(body, key), key, body))
    out: list[tuple[list[str], Loader]] = [
        (keys, _signal_loader(signal_id, after)) for signal_id, (after, keys) in sorted(firsts.items())
    ]
    out.extend(([key], _book_loader(body)) for _, key, body in sorted(book))
    return out


def _signal_loader(signal_id: str, after: int) -> Loader:
    def load(store: SignalStateStore, mode: str) -> list[ExecutionEvent]:
        record = store.get(signal_id)
        # every step from the first one not sent: later ones again too, harmless (stable ids), in order
        return signal_events(record, mode, after) if record else []

    return load


def _book_loader(body: str) -> Loader:
    def load(store: SignalStateStore, mode: str) -> list[ExecutionEvent]:
        try:
            return [ExecutionEvent.model_validate_json(body)]
        except ValueError:  # damaged: dropped (counted), never a poison entry that stops the drain
            log.error("events outbox entry unreadable, dropped")
            return []

    return load


def _order(body: str, key: str) -> tuple[str, int, str]:
    """A book event's place: its time, then its seq (a position's fill count)."""
    try:
        event = ExecutionEvent.model_validate_json(body)
        return (event.at.isoformat(), event.seq, key)
    except ValueError:
        return ("", 0, key)


def drain_deps(deps: Any, limit: int = DRAIN_LIMIT) -> DrainReport:
    """``drain`` with a Deps' bus, outbox, store and counters (the monitor function's call)."""
    out = deps.events_out()
    return drain(out.publisher, out.outbox, deps.store, deps.counters, deps.settings.mode, limit)
