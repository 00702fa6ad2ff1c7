"""The pipeline's use-cases end to end in one process: ingest → size → execute → monitor, on the paper
exchange with in-memory ports. What is proven here: one order per signal whatever the redeliveries,
nothing lost on a crash between steps, every step audited (and healed after an audit outage)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tradeengine.exchange.base import Unknown
from tradeengine.pipeline.errors import MalformedMessage, RetryLater
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.ports import Step
from tradeengine.pipeline.recorder import AuditBacklog
from tradeengine.pipeline.size import size_message

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

PRICES = {"BTCUSDT": "45000", "ETHUSDT": "3000", "DOGEUSDT": "0.08"}


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), PRICES, {"USDT": "10000", "BTC": "0"})


def now_signal(**kw):
    return signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)


def later(deps, seconds):
    """Move the pipeline's clock forward (a redelivery after the visibility timeout)."""
    from datetime import timedelta

    deps.clock = lambda: datetime.now(UTC) + timedelta(seconds=seconds)


def run_all(deps):
    """Drain both queues once, as the two SQS-triggered functions would."""
    for body in deps.signals.drain():
        size_message(body, deps)
    for body in deps.plans.drain():
        execute_message(body, deps)


def orders_on_exchange(deps, symbol="BTCUSDT"):
    return [t for t in deps.exchange.recent_fills(symbol, 500)]


def test_market_signal_flows_to_filled_with_audit_and_counters(deps):
    result = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert result.accepted and result.state is SignalState.QUEUED
    run_all(deps)
    record = deps.store.get(result.signal_id)
    assert record.state is SignalState.FILLED
    entry = record.execution["entry"]
    assert entry["status"] == "FILLED" and Decimal(entry["executed_qty"]) == Decimal("0.000225")
    assert [e.state for e in deps.audit.events(result.signal_id)] == [
        SignalState.RECEIVED,
        SignalState.QUEUED,
        SignalState.SIZED,
        SignalState.SUBMITTED,
        SignalState.FILLED,
    ]
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_trades_total", (("status", "filled"), ("type", "market")))] == 1
    assert snapshot[("tradeengine_latency_seconds_count", ())] == 1


def test_same_signal_five_times_and_redelivered_places_one_order(deps):
    body = now_signal(signal_id="strategy-42-0001")
    results = [ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals) for _ in range(5)]
    assert [r.duplicate for r in results] == [False, True, True, True, True]
    assert len({r.signal_id for r in results}) == 1
    signals = deps.signals.drain()
    assert len(signals) == 1
    for _ in range(5):  # SQS redelivers the signal message
        size_message(signals[0], deps)
    plans = deps.plans.drain()
    for _ in range(5):  # and the plan message
        execute_message(plans[0], deps)
    assert len(orders_on_exchange(deps)) == 1
    assert deps.store.get("strategy-42-0001").state is SignalState.FILLED


def test_crash_after_submitted_resumes_by_client_order_id(deps):
    result = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    # The first attempt got as far as SUBMITTED and the order reached the exchange, then it crashed.
    deps.recorder("execution").advance(result.signal_id, Step(SignalState.SUBMITTED))
    from contracts.orders import OrderPlan

    deps.exchange.place_order(OrderPlan.model_validate(plan_body["plan"]).order)
    outcome = execute_message(plan_body, deps)  # the redelivery
    assert outcome.state is SignalState.FILLED and not outcome.placed
    assert len(orders_on_exchange(deps)) == 1


def test_crash_after_submitted_before_sending_places_it_once(deps):
    result = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    deps.recorder("execution").advance(result.signal_id, Step(SignalState.SUBMITTED))  # crashed before sending
    with pytest.raises(RetryLater) as early:  # not found yet may still mean "in flight": wait it out
        execute_message(plan_body, deps)
    assert 5 < early.value.delay_s <= 15
    later(deps, seconds=16)
    assert execute_message(plan_body, deps).placed
    assert execute_message(plan_body, deps).placed is False
    assert len(orders_on_exchange(deps)) == 1


def test_unknown_outcome_is_resolved_by_lookup_not_resend(deps, monkeypatch):
    ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    real_place = deps.exchange.place_order

    def accepted_then_timeout(order):
        real_place(order)  # the exchange took it ...
        return Unknown("read timeout", order.new_client_order_id)  # ... but the answer was lost

    monkeypatch.setattr(deps.exchange, "place_order", accepted_then_timeout)
    assert execute_message(plan_body, deps).state is SignalState.FILLED
    assert len(orders_on_exchange(deps)) == 1


def test_unknown_and_not_found_is_retried_later_not_resent(deps, monkeypatch):
    ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    monkeypatch.setattr(deps.exchange, "place_order", lambda order: Unknown("connection reset"))
    with pytest.raises(RetryLater):
        execute_message(plan_body, deps)
    monkeypatch.undo()
    with pytest.raises(RetryLater):  # the redelivery comes too soon: the first send may still arrive
        execute_message(plan_body, deps)
    later(deps, seconds=16)
    assert execute_message(plan_body, deps).state is SignalState.FILLED  # quiet period over: placed once
    assert len(orders_on_exchange(deps)) == 1


def test_rejections_are_recorded_with_their_code(deps):
    r = ingest(now_signal(confidence=0.2), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    record = deps.store.get(r.signal_id)
    assert record.state is SignalState.REJECTED and record.code == "CONFIDENCE_TOO_LOW"
    assert deps.plans.drain() == []


def test_exchange_rejection_fails_the_signal(deps):
    r = ingest(now_signal(quantity="0.5"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    deps_settings_balances = deps  # 0.5 BTC = 22,500 USDT > 10,000 USDT free
    run_all(deps_settings_balances)
    record = deps.store.get(r.signal_id)
    assert record.state in (SignalState.REJECTED, SignalState.FAILED)
    assert record.code in ("INSUFFICIENT_BALANCE", "EXCHANGE_REJECTED")


def test_invalid_signal_with_id_is_rejected_and_without_id_is_not_queued(deps):
    bad = now_signal(signal_id="bad-1", price=-1)
    r = ingest(bad, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert r.errors and r.state is SignalState.REJECTED
    assert deps.store.get("bad-1").code == "INVALID_SIGNAL"
    nameless = ingest(now_signal(price=-1), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert nameless.signal_id is None and nameless.errors and deps.signals.drain() == []


def test_unreadable_queue_message_goes_to_the_dlq(deps):
    with pytest.raises(MalformedMessage):
        size_message({"signal": {"symbol": 42}}, deps)
    out = size_message({"signal_id": "nats-7", "signal": {"symbol": 42}, "source": "nats"}, deps)
    assert out.code == "INVALID_SIGNAL" and deps.store.get("nats-7").state is SignalState.REJECTED


def test_bridge_signals_are_recorded_by_sizing(deps):
    from contracts.messages import SignalMessage
    from contracts.signal import Signal

    signal = Signal.model_validate(now_signal(signal_id="nats-1"))
    size_message(SignalMessage.of(signal, "nats", datetime.now(UTC)).wire(), deps)
    record = deps.store.get("nats-1")
    assert record.state is SignalState.SIZED and record.source == "nats"


def test_queue_outage_takes_the_record_back_and_a_retry_finishes_it(deps):
    body = now_signal(signal_id="retry-1")
    deps.signals.fail_next = 1
    with pytest.raises(ConnectionError):
        ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert deps.store.get("retry-1") is None  # not queued, so not recorded: the 503 says "send it again"
    again = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert again.state is SignalState.QUEUED and not again.duplicate and len(deps.signals.messages) == 1


def test_a_record_left_queued_without_its_message_is_sent_by_the_repeat(deps):
    """The process died between the put and the send: the client's retry sends it, and it trades once."""
    from tradeengine.pipeline.arrival import received
    from tradeengine.pipeline.ingest import queued

    from contracts.signal import Signal

    body = now_signal(signal_id="crash-1")
    signal = Signal.model_validate(body)
    assert deps.store.create(queued(received(signal.id, "api", datetime.now(UTC), body, signal)))  # the put, no send
    again = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert again.duplicate and again.state is SignalState.QUEUED
    sent = deps.signals.drain()
    assert len(sent) == 1 and sent[0]["recorded"] is True
    size_message(sent[0], deps)
    size_message(sent[0], deps)  # and its redelivery is a replay, not a second decision
    plans = deps.plans.drain()
    assert len({p["signal_id"] for p in plans}) == 1
    execute_message(plans[0], deps)
    assert deps.store.get("crash-1").state is SignalState.FILLED


def test_ingest_records_in_one_write_and_leaves_audit_and_events_to_sizing(deps):
    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    stored = deps.store.get(r.signal_id)
    assert [t.state for t in stored.history] == [SignalState.RECEIVED, SignalState.QUEUED] and stored.version == 2
    assert deps.audit.events(r.signal_id) == []  # written by sizing, with its own step
    size_message(deps.signals.drain()[0], deps)
    assert [e.state for e in deps.audit.events(r.signal_id)] == [
        SignalState.RECEIVED,
        SignalState.QUEUED,
        SignalState.SIZED,
    ]


def test_audit_outage_never_blocks_trading_and_heals(deps):
    deps.audit.down = True
    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    body = deps.signals.drain()[0]
    with pytest.raises(AuditBacklog):
        size_message(body, deps)  # sized and sent on, then asks for a retry to write the audit
    plans = deps.plans.drain()
    assert len(plans) == 1
    deps.audit.down = False
    size_message(body, deps)  # the redelivery writes the whole history
    execute_message(plans[0], deps)
    assert [e.seq for e in deps.audit.events(r.signal_id)] == [1, 2, 3, 4, 5]


def test_limit_order_rests_then_monitor_sees_it_fill_and_exits_work(deps):
    body = now_signal(
        price="44000", quantity="0.001", meta={"order_type": "limit", "stop_loss_pct": 2, "take_profit_pct": 5}
    )
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    assert deps.store.get(r.signal_id).state is SignalState.OPEN
    assert run_monitor(deps).changed == {}
    deps.exchange.market.set("BTCUSDT", Decimal("43900"))
    report = run_monitor(deps)
    assert report.changed == {r.signal_id: "FILLED"}
    record = deps.store.get(r.signal_id)
    exits = record.execution["exits"]
    assert exits["result"] == "accepted" and len(exits["orders"]) == 2
    # 0.001 BTC bought, 0.1 % commission in BTC: the exits sell 0.000999 floored to the 0.000001 step.
    assert record.execution["exit_quantity"] == "0.000999"
    assert record.watching_exits and deps.store.open_signals() == [record]  # the exits are followed now

    assert run_monitor(deps).changed == {}  # 43900: between the stop (43120) and the target (46200)
    deps.exchange.market.set("BTCUSDT", Decimal("43000"))  # through the stop
    assert run_monitor(deps).changed == {r.signal_id: "EXITED"}
    closed = deps.store.get(r.signal_id)
    result = closed.execution["exit_result"]
    assert result["closed_by"] == "stop_loss"
    assert result["legs"]["stop_loss"]["status"] == "FILLED" and result["legs"]["take_profit"]["status"] != "NEW"
    assert result["legs"]["stop_loss"]["executed_qty"] == "0.000999"
    assert closed.state is SignalState.FILLED and not closed.watching_exits
    assert (closed.history[-1].state, closed.history[-1].stage) == (SignalState.FILLED, "monitor")
    assert [e.seq for e in deps.audit.events(r.signal_id)] == list(range(1, len(closed.history) + 1))
    assert deps.store.open_signals() == [] and run_monitor(deps).changed == {}
    assert deps.counters.snapshot()[("tradeengine_trades_total", (("status", "exit_filled"), ("type", "stop_loss")))]


def test_market_entry_exits_are_followed_until_the_take_profit_closes_the_position(deps):
    body = now_signal(quantity="0.001", meta={"order_type": "market", "stop_loss_pct": 2, "take_profit_pct": 3})
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    filled = deps.store.get(r.signal_id)
    assert filled.state is SignalState.FILLED and filled.execution["exits"]["result"] == "accepted"
    assert filled.watching_exits
    assert run_monitor(deps).changed == {}
    deps.exchange.market.set("BTCUSDT", Decimal("47000"))  # past the 3 % target
    assert run_monitor(deps).changed == {r.signal_id: "EXITED"}
    result = deps.store.get(r.signal_id).execution["exit_result"]
    assert result["closed_by"] == "take_profit"
    assert result["legs"]["take_profit"]["status"] == "FILLED"
    assert result["legs"]["stop_loss"]["status"] in ("EXPIRED", "CANCELED")  # the OCO's other leg


def test_a_fill_without_exits_is_not_followed(deps):
    r = ingest(now_signal(quantity="0.001"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    record = deps.store.get(r.signal_id)
    assert record.state is SignalState.FILLED and not record.watching_exits
    assert deps.store.open_signals() == []


def test_monitor_follows_every_open_order_across_runs_from_where_the_last_stopped(deps):
    """More open orders than one run follows: each run goes on from the last one's place, and the walk
    wraps, so no order is left unfollowed however many rest."""
    from tradeengine.pipeline.monitor import CURSOR

    ids = []
    for i in range(7):
        r = ingest(
            now_signal(price="44000", quantity="0.001", meta={"order_type": "limit"}, signal_id=f"rest-{i}"),
            source="api",
            recorder=deps.recorder("ingest"),
            queue=deps.signals,
        )
        ids.append(r.signal_id)
    run_all(deps)
    assert {deps.store.get(sid).state for sid in ids} == {SignalState.OPEN}
    looked_up = []
    real_get_order = deps.exchange.get_order

    def get_order(symbol, client_order_id=None, **kw):
        looked_up.append(client_order_id)
        return real_get_order(symbol, client_order_id=client_order_id, **kw)

    deps.exchange.get_order = get_order
    reports = [run_monitor(deps, limit=3) for _ in range(3)]
    assert [(r.checked, r.completed) for r in reports] == [(3, False), (3, False), (1, True)]
    assert len(looked_up) == len(set(looked_up)) == 7  # every order once, none twice
    assert deps.cursors.get(CURSOR) is None  # the walk ended: the next run starts from the beginning
    assert run_monitor(deps, limit=3).checked == 3 and looked_up[7] == looked_up[0]

    deps.exchange.market.set("BTCUSDT", Decimal("43900"))  # they all fill, whichever run sees them
    changed = {}
    for _ in range(4):
        changed.update(run_monitor(deps, limit=3).changed)
    assert changed == {sid: "FILLED" for sid in ids}
    assert run_monitor(deps, limit=3).checked == 0


def test_monitor_stops_when_its_time_budget_is_spent_and_goes_on_next_run(deps, monkeypatch):
    from itertools import count

    from tradeengine.pipeline import monitor

    for i in range(3):
        ingest(
            now_signal(price="44000", quantity="0.001", meta={"order_type": "limit"}, signal_id=f"slow-{i}"),
            source="api",
            recorder=deps.recorder("ingest"),
            queue=deps.signals,
        )
    run_all(deps)
    ticks = count()
    monkeypatch.setattr(monitor, "monotonic", lambda: float(next(ticks)))  # one second per look at the clock
    first = run_monitor(deps, budget_s=2.5)  # deadline 2.5: the loop (1), the first order (2), not the second (3)
    assert (first.checked, first.completed) == (1, False)
    assert deps.cursors.get(monitor.CURSOR).endswith("|slow-0")
    monkeypatch.undo()
    second = run_monitor(deps)
    assert (second.checked, second.completed) == (2, True)  # went on after slow-0

    deps.cursors.set(monitor.CURSOR, "not a position")  # a damaged cursor restarts the walk, it does not crash it
    assert run_monitor(deps).checked == 3


def test_trading_halt_rejects_at_sizing(deps):
    from tradeengine.risk import TradingState

    deps.trading_state.set(TradingState.HALTED)
    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    assert deps.store.get(r.signal_id).code == "TRADING_HALTED"


def test_unknown_symbol_is_rejected(deps):
    r = ingest(now_signal(symbol="NOPEUSDT"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    assert deps.store.get(r.signal_id).code == "SYMBOL_UNKNOWN"


def test_unreadable_records_reach_the_dead_letter_queue_with_a_reason(deps):
    from tradeengine.pipeline.sqs_batch import run_record

    for text, reason in [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object but list"),
        ('{"signal": {"symbol": 1}}', "unreadable signal without a signal_id"),
    ]:
        run_record(text, lambda body: size_message(body, deps), deps.dead_letters)
        body, why = deps.dead_letters.messages[-1]
        assert body == text and reason in why
    run_record('{"plan": {}}', lambda body: execute_message(body, deps), deps.order_dead_letters)
    assert "not an order plan message" in deps.order_dead_letters.messages[-1][1]


def test_a_dependency_failure_is_raised_for_redelivery_not_dead_lettered(deps, monkeypatch):
    from tradeengine.exchange.base import ExchangeError
    from tradeengine.pipeline.sqs_batch import run_record

    ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    text = __import__("json").dumps(deps.signals.drain()[0])

    def down(symbol):
        raise ExchangeError(-1001, "Internal error; unable to process your request.", 503)

    monkeypatch.setattr(deps.exchange, "ticker_price", down)
    with pytest.raises(RetryLater):
        run_record(text, lambda body: size_message(body, deps), deps.dead_letters)
    assert deps.dead_letters.messages == []


def test_retry_later_postpones_the_message_when_it_knows_how_long(deps):
    from tradeengine.pipeline.sqs_batch import run_record

    waits = []

    def too_early(body):
        raise RetryLater("not yet", 12.5)

    with pytest.raises(RetryLater):
        run_record('{"signal_id": "x"}', too_early, deps.order_dead_letters, postpone=waits.append)
    assert waits == [12.5]


def test_an_order_still_in_flight_is_not_sent_twice(deps, monkeypatch):
    """The send times out before the exchange has booked it; a quick redelivery looks it up, does not
    find it yet, and must not resend: the in-flight request books the order a moment later."""
    from contracts.orders import OrderPlan

    ingest(now_signal(signal_id="inflight-1"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    real_place = deps.exchange.place_order
    monkeypatch.setattr(deps.exchange, "place_order", lambda order: Unknown("read timeout", order.new_client_order_id))
    with pytest.raises(RetryLater):
        execute_message(plan_body, deps)  # unknown, and the lookup does not find it (yet)
    later(deps, seconds=3)
    with pytest.raises(RetryLater):
        execute_message(plan_body, deps)  # redelivered quickly: still inside the quiet period, nothing sent
    real_place(OrderPlan.model_validate(plan_body["plan"]).order)  # the first request reaches the book now
    later(deps, seconds=20)
    monkeypatch.undo()
    assert execute_message(plan_body, deps).state is SignalState.FILLED
    assert len(orders_on_exchange(deps)) == 1


def test_closing_without_a_position_is_nothing_to_close_not_unknown():
    # The account lists no BTC (exchanges omit empty balances) and the book holds none for the strategy:
    # the close is refused for what it is, not as an unknown balance.
    deps = memory_deps(load_info(INFO_2021), PRICES, {"USDT": "10000"})
    assert "BTC" not in deps.exchange.balances()
    r = ingest(now_signal(action="close"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    assert deps.store.get(r.signal_id).code == "NOTHING_TO_CLOSE"


def test_create_audits_the_record_as_stored_without_reading_it_back() -> None:
    from tradeengine.pipeline.ports import SignalRecord, Transition
    from tradeengine.pipeline.recorder import Recorder, audit_events

    from tests.support.memory import MemoryAudit, MemoryCounters, MemorySignalStore

    at = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    first = Transition(SignalState.RECEIVED, at, stage="ingest", detail={"source": "api", "qty": Decimal("0.10")})
    extra = Transition(SignalState.QUEUED, at)
    record = SignalRecord("sig-c1", SignalState.RECEIVED, 7, "BTCUSDT", "s", at, at, history=(first, extra))
    store, audit = MemorySignalStore(), MemoryAudit()
    recorder = Recorder(store, audit, MemoryCounters(), "simulation", "ingest")

    reads = []
    original_get = store.get
    store.get = lambda sid: reads.append(sid) or original_get(sid)  # type: ignore[method-assign]
    assert recorder.create(record)
    assert reads == []  # no round trip to read back what was just written
    recorder.flush()
    written = audit.events("sig-c1")
    assert len(written) == 2 and written[0].detail == {"source": "api", "qty": "0.1"}  # as the store keeps it (JSON)
    stored = original_get("sig-c1")
    assert stored is not None and stored.version == 2 and len(stored.history) == 2  # every step, one write
    assert [e.model_dump(exclude={"detail"}) for e in written] == [
        e.model_dump(exclude={"detail"}) for e in audit_events(stored, "simulation")
    ]
    assert not recorder.create(record)  # a repeat creates nothing and audits nothing new
    recorder.flush()
    assert len(audit.events("sig-c1")) == 2


def test_a_stage_writes_its_steps_to_the_audit_once_even_when_it_fails_midway() -> None:
    from tradeengine.pipeline.ports import SignalRecord, Transition
    from tradeengine.pipeline.recorder import Recorder

    from tests.support.memory import MemoryAudit, MemoryCounters, MemorySignalStore

    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store, audit = MemorySignalStore(), MemoryAudit()
    writes: list[int] = []
    original_record = audit.record
    audit.record = lambda events: writes.append(len(events)) or original_record(events)  # type: ignore[method-assign]
    first = Transition(SignalState.RECEIVED, at, stage="ingest")
    store.create(SignalRecord("sig-a1", SignalState.RECEIVED, 1, "BTCUSDT", "s", at, at, history=(first,)))

    with Recorder(store, audit, MemoryCounters(), "simulation", "ingest") as recorder:
        recorder.advance("sig-a1", Step(SignalState.QUEUED))
        recorder.advance("sig-a1", Step(SignalState.SIZED))
        assert writes == []  # nothing yet: the steps are written together
        recorder.raise_if_backlog()
    assert writes == [3]  # one write, the whole history (RECEIVED, QUEUED, SIZED)

    with pytest.raises(RuntimeError), Recorder(store, audit, MemoryCounters(), "simulation", "execution") as recorder:
        recorder.advance("sig-a1", Step(SignalState.SUBMITTED))
        raise RuntimeError("the exchange went away")
    assert writes == [3, 4]  # the step taken before the failure still reached the audit trail
    assert [e.state for e in audit.events("sig-a1")][-1] is SignalState.SUBMITTED


def test_one_signal_the_monitor_cannot_follow_does_not_stop_the_others(deps):
    ids = []
    for i in range(3):
        body = now_signal(price="44000", quantity="0.001", meta={"order_type": "limit"}, signal_id=f"poison-{i}")
        ids.append(ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals).signal_id)
    run_all(deps)
    real_get_order = deps.exchange.get_order
    from tradeengine.sizing_base import client_order_id as client_order_id_of

    def get_order(symbol, client_order_id=None, **kw):
        if client_order_id == client_order_id_of(ids[0]):
            raise ValueError("a record this code cannot read")
        return real_get_order(symbol, client_order_id=client_order_id, **kw)

    deps.exchange.get_order = get_order
    deps.exchange.market.set("BTCUSDT", Decimal("43900"))
    report = run_monitor(deps)
    assert report.failures == ["poison-0: ValueError"] and report.completed
    assert report.changed == {ids[1]: "FILLED", ids[2]: "FILLED"}  # the ones behind it were followed
    assert deps.counters.snapshot()[("tradeengine_errors_total", (("type", "monitor"),))] == 1


def test_a_partial_fill_step_carries_only_its_new_fills(deps):
    from tradeengine.pipeline.monitor import _new_fills

    from contracts.execution import RecordedOrder

    before = {"fills": [{"trade_id": 1, "qty": "0.1"}, {"trade_id": 2, "qty": "0.2"}]}
    after = {"fills": [*before["fills"], {"trade_id": 3, "qty": "0.3"}]}
    assert _new_fills(RecordedOrder.model_validate(before), after) == [{"trade_id": 3, "qty": "0.3"}]
    assert _new_fills(None, after) == after["fills"]


def test_execution_places_the_plan_sizing_recorded_not_a_different_body(deps):
    """The payload check the idempotency table used to make, kept by the conditional write's answer: a plan
    body that differs from the recorded plan (a bug upstream, a forged message) places the recorded one."""
    r = ingest(now_signal(quantity="0.001"), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    body = deps.plans.drain()[0]
    recorded = body["plan"]["order"]["quantity"]
    forged = {**body, "plan": {**body["plan"], "order": {**body["plan"]["order"], "quantity": "0.05"}}}
    execute_message(forged, deps)
    record = deps.store.get(r.signal_id)
    assert record.state is SignalState.FILLED
    assert record.execution["entry"]["executed_qty"] == recorded != "0.05"
    counted = {k: v for k, v in deps.counters.snapshot().items() if ("type", "plan_mismatch") in k[1]}
    assert list(counted.values()) == [1]
    execute_message(body, deps)  # the real body, redelivered: nothing more is sent
    assert deps.store.get(r.signal_id).version == record.version


def test_a_recorded_signal_sizing_must_retry_still_has_its_steps_in_the_audit(deps):
    """Ingest leaves RECEIVED and QUEUED to sizing's audit write: a signal that waits (market data down) and
    ends in the DLQ after its receives is in the audit trail all the same."""
    from tradeengine.exchange.base import ExchangeError

    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    body = deps.signals.drain()[0]

    def down(symbol):
        raise ExchangeError(-1003, "venue unreachable")

    deps.exchange.ticker_price = down
    with pytest.raises(RetryLater):
        size_message(body, deps)
    assert [e.state for e in deps.audit.events(r.signal_id)] == [SignalState.RECEIVED, SignalState.QUEUED]


def test_each_step_says_how_long_its_stage_had_been_at_the_message(deps):
    """took_ms: the engine's own share of a latency (make demo prints it beside MiniStack's dispatch)."""
    from tradeengine.api.encode import record_json

    from local.stack.demo import engine_ms

    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    run_all(deps)
    history = record_json(deps.store.get(r.signal_id))["history"]
    assert [s["stage"] for s in history] == ["ingest", "ingest", "sizing", "execution", "execution"]
    assert history[0]["took_ms"] is None and all(isinstance(s["took_ms"], int) for s in history[1:])
    longest = {}
    for step in history[1:]:
        longest[step["stage"]] = max(longest.get(step["stage"], 0), step["took_ms"])
    assert engine_ms(record_json(deps.store.get(r.signal_id))) == sum(longest.values())

    now = [100.0]
    recorder = replace(deps.recorder("sizing"), monotonic=lambda: now[0])  # began at 100.0
    sid = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals).signal_id
    now[0] = 100.0375
    moved = recorder.advance(sid, Step(SignalState.REJECTED, code="TEST", reason="a test"))
    assert moved.history[-1].took_ms == 37


def test_the_demos_engine_share_is_each_stages_longest_step_without_the_monitor():
    from local.stack.demo import engine_ms

    def step(stage, took):
        return {"stage": stage, "took_ms": took}

    history = [step("ingest", None), step("ingest", 3), step("sizing", 20), step("execution", 5)]
    history += [step("execution", 41), step("monitor", 900)]
    assert engine_ms({"history": history}) == 3 + 20 + 41
    assert engine_ms({"history": [step("ingest", None)]}) is None


def test_a_redelivered_recorded_signal_is_replayed_even_while_the_market_data_is_down(deps):
    """A recorded signal is decided without reading its record; whatever fails on that way (the plan's send, the
    venue's prices) reads the record before giving up: a signal already decided is finished (its recorded
    plan sent), never made to wait for market data it no longer needs."""
    from tradeengine.exchange.base import ExchangeError

    r = ingest(now_signal(), source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    body = deps.signals.drain()[0]
    deps.plans.fail_next = 1  # SIZED is written, then the plan's send fails once
    first = size_message(body, deps)
    assert first.replayed and first.state is SignalState.SIZED  # the same attempt sent the recorded plan
    plans = deps.plans.drain()
    assert len(plans) == 1

    def down(symbol):
        raise ExchangeError(-1003, "venue unreachable")

    deps.exchange.ticker_price = down
    again = size_message(body, deps)  # SQS redelivers it (the first attempt's ack was lost)
    assert again.replayed and again.state is SignalState.SIZED
    execute_message(plans[0], deps)
    assert deps.store.get(r.signal_id).state is SignalState.FILLED
    counted = {k: v for k, v in deps.counters.snapshot().items() if ("type", "plan_mismatch") in k[1]}
    assert counted == {}  # the body's plan is the recorded one: one compare, no mismatch
