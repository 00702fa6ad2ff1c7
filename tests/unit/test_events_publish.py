"""Publishing the execution events (pipeline.events_out): each stage publishes the steps it took, the book its
fills and positions, in order and once; a bus that is down costs trading nothing (one failed call, then the
breaker) and the monitor's drain catches every event up, in order; an outbox that is down too is counted."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.events import signal_events
from tradeengine.pipeline.events_out import (
    BREAKER_S,
    EventsOut,
    MemoryOutbox,
    MemoryPublisher,
    drain,
    drain_deps,
)
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.ports import EventOutbox, EventPublisher
from tradeengine.pipeline.size import size_message

from contracts.events import EventKind
from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import MemoryCounters, memory_deps
from tests.support.ports import assert_implements


@pytest.fixture
def deps() -> Any:
    d = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    d.events, d.outbox = MemoryPublisher(), MemoryOutbox()
    return d


def trade(deps: Any, **kw: Any) -> str:
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    with deps.recorder("ingest") as recorder:  # as the API and the webhooks call it: flushed on the way out
        sid = ingest(body, source="api", recorder=recorder, queue=deps.signals).signal_id
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    assert sid is not None
    return str(sid)


def of_signal(events: list[Any], sid: str) -> list[Any]:
    return [e for e in events if e.kind is EventKind.SIGNAL_STATE and e.signal_id == sid]


def test_the_memory_adapters_implement_the_ports() -> None:
    assert_implements(MemoryPublisher(), EventPublisher)
    assert_implements(MemoryOutbox(), EventOutbox)


def test_each_step_is_published_once_in_order_with_the_fill_and_the_position(deps: Any) -> None:
    sid = trade(deps)
    published = deps.events.events
    steps = of_signal(published, sid)
    assert [e.state for e in steps] == ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"]
    assert [e.event_id for e in steps] == [f"{sid}:{n}" for n in range(1, 6)]  # each once, none skipped
    assert steps == signal_events(deps.store.get(sid), "simulation")  # the same events the history gives
    fill = next(e for e in published if e.kind is EventKind.FILL)
    position = next(e for e in published if e.kind is EventKind.POSITION)
    assert fill.signal_id == sid and fill.detail["fill"]["price"] == "45000"  # a decimal string
    held, bought = position.detail["position"]["quantity"], fill.detail["fill"]["qty"]
    assert isinstance(held, str) and 0 < Decimal(held) <= Decimal(bought)  # less the commission taken in BTC
    assert deps.outbox.entries == {}


def test_one_audit_write_and_one_publish_per_stage_message_none_at_ingest(deps: Any) -> None:
    """The cost of one signal (docs/MEASUREMENTS.md): ingest leaves its two steps to sizing; execution's
    SUBMITTED, FILLED, fill and position leave in one audit write and one publish."""
    body = signal_dict(timestamp=datetime.now(UTC).isoformat())
    with deps.recorder("ingest") as recorder:
        sid = ingest(body, source="api", recorder=recorder, queue=deps.signals).signal_id
    assert (deps.audit.writes, deps.events.calls) == (0, 0)
    size_message(deps.signals.drain()[0], deps)
    assert (deps.audit.writes, deps.events.calls) == (1, 1)
    assert [e.state for e in deps.events.events] == ["RECEIVED", "QUEUED", "SIZED"]
    execute_message(deps.plans.drain()[0], deps)
    assert (deps.audit.writes, deps.events.calls) == (2, 2)
    kinds = [(e.kind, e.state) for e in deps.events.events[3:]]
    assert kinds == [  # the order they happened in: the fill is booked before the step that records it
        (EventKind.FILL, "FILLED"),
        (EventKind.POSITION, None),
        (EventKind.SIGNAL_STATE, "SUBMITTED"),
        (EventKind.SIGNAL_STATE, "FILLED"),
    ]
    assert [e.seq for e in deps.audit.events(str(sid))] == [1, 2, 3, 4, 5]


def test_a_bus_that_is_down_costs_trading_nothing_and_the_drain_catches_up_in_order(deps: Any) -> None:
    deps.events.down = True
    sids = [trade(deps, signal_id=f"down-{n}") for n in range(3)]
    assert all(deps.store.get(s).state is SignalState.FILLED for s in sids)  # trading unaffected
    assert deps.events.calls == 1  # one failed publish, then the breaker: no bus call per message
    assert deps.events.events == [] and deps.outbox.entries
    errors = deps.counters.snapshot()
    assert errors[("tradeengine_errors_total", (("type", "events_publish"),))] == 1

    deps.events.down = False
    report = drain_deps(deps)
    assert report.left == 0 and deps.outbox.entries == {}
    for sid in sids:
        steps = of_signal(deps.events.events, sid)
        assert [e.seq for e in steps] == [1, 2, 3, 4, 5]  # every step, in order, none twice
    assert sum(e.kind is EventKind.FILL for e in deps.events.events) == 3
    positions = [e for e in deps.events.events if e.kind is EventKind.POSITION]
    assert [e.seq for e in positions] == [1, 2, 3]  # the position's changes in order
    assert drain_deps(deps).published == 0  # nothing left to publish twice


def test_the_breaker_closes_again_after_its_time() -> None:
    now = [0.0]
    bus, outbox = MemoryPublisher(), MemoryOutbox()
    out = EventsOut(bus, outbox, MemoryCounters(), "simulation", monotonic=lambda: now[0])
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    deps.events = bus
    sid = trade(deps)
    record = deps.store.get(sid)
    bus.events.clear()
    bus.calls, bus.down = 0, True
    out.signal(record)
    out.signal(record)
    assert bus.calls == 1 and list(outbox.entries) == [f"signal:{sid}:0"]
    bus.down, now[0] = False, BREAKER_S + 1
    out.signal(record, after_seq=4)
    assert bus.calls == 2 and [e.seq for e in bus.events] == [5]


def test_a_drain_that_fails_keeps_what_it_did_not_publish(deps: Any) -> None:
    deps.events.down = True
    trade(deps)
    kept = dict(deps.outbox.entries)
    report = drain(deps.events, deps.outbox, deps.store, deps.counters, "simulation")
    assert report.left == len(kept) and report.error and deps.outbox.entries == kept


def test_an_outbox_that_is_down_too_is_counted_and_trading_goes_on(deps: Any) -> None:
    deps.events.down, deps.outbox.down = True, True
    sid = trade(deps)
    assert deps.store.get(sid).state is SignalState.FILLED
    lost = deps.counters.snapshot()[("tradeengine_errors_total", (("type", "events_lost"),))]
    assert lost >= 5  # the signal's five steps, and the book's events, counted


def test_a_heal_republishes_the_whole_history(deps: Any) -> None:
    sid = trade(deps)
    record = deps.store.get(sid)
    deps.events.events.clear()
    with deps.recorder("execution") as recorder:
        recorder.write_audit(record)  # a redelivery healing the audit trail of a signal already done
    assert [e.seq for e in deps.events.events] == [1, 2, 3, 4, 5]
