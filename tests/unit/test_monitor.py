"""What the monitor records for the two ends the README and docs/OPERATIONS.md promise and no other test
reaches: an order the exchange never got (FAILED(ORDER_NOT_FOUND) after ten minutes, and nothing placed
after that), and exit legs canceled by hand on the exchange (noticed, and handled by the unprotected-position
policy: alerted with ``closed_by`` null, or flattened). In one process, on
the paper exchange with in-memory ports and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.ports import Step
from tradeengine.pipeline.size import size_message

from contracts.orders import OrderPlan
from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

PRICES = {"BTCUSDT": "45000"}


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), PRICES, {"USDT": "10000", "BTC": "0"})


def at(deps, after: timedelta) -> None:
    deps.clock = lambda: datetime.now(UTC) + after


def submitted_but_never_sent(deps):
    """The execution function wrote SUBMITTED, then died before its request left: the exchange has nothing."""
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), signal_id="lost-1")
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    plan_body = deps.plans.drain()[0]
    assert deps.recorder("execution").advance(r.signal_id, Step(SignalState.SUBMITTED)) is not None
    return r.signal_id, plan_body


def test_an_order_the_exchange_never_got_fails_as_not_found_after_ten_minutes(deps):
    sid, plan_body = submitted_but_never_sent(deps)
    assert run_monitor(deps).changed == {}
    at(deps, timedelta(minutes=9, seconds=30))
    assert run_monitor(deps).changed == {}  # not found yet, but not long enough to say it never will be
    assert deps.store.get(sid).state is SignalState.SUBMITTED

    at(deps, timedelta(minutes=10, seconds=30))
    assert run_monitor(deps).changed == {sid: "FAILED"}
    record = deps.store.get(sid)
    assert (record.state, record.code) == (SignalState.FAILED, "ORDER_NOT_FOUND")
    assert deps.audit.events(sid)[-1].state is SignalState.FAILED
    assert deps.store.open_signals() == []  # its fate is known: no longer followed

    # The plan's message, redelivered after that, places nothing: the signal is past execution.
    outcome = execute_message(plan_body, deps)
    assert (outcome.state, outcome.placed) == (SignalState.FAILED, False)
    assert deps.exchange.recent_fills("BTCUSDT", 50) == [] and deps.exchange.open_orders("BTCUSDT") == []


def test_an_order_found_late_is_followed_not_failed(deps):
    sid, plan_body = submitted_but_never_sent(deps)
    deps.exchange.place_order(OrderPlan.model_validate(plan_body["plan"]).order)  # the request did arrive
    at(deps, timedelta(minutes=10, seconds=30))
    assert run_monitor(deps).changed == {sid: "FILLED"}


def _bracketed_entry_then_legs_canceled_by_hand(deps):
    body = signal_dict(
        timestamp=datetime.now(UTC).isoformat(),
        quantity="0.001",
        meta={"order_type": "market", "stop_loss_pct": 2, "take_profit_pct": 3},
    )
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    execute_message(deps.plans.drain()[0], deps)
    filled = deps.store.get(r.signal_id)
    assert filled.state is SignalState.FILLED and filled.watching_exits
    assert filled.execution["protection"] == "protected"
    assert run_monitor(deps).changed == {}  # both legs working

    stop_loss = OrderPlan.model_validate(filled.plan).brackets.stop_loss
    canceled = deps.exchange.cancel_order("BTCUSDT", client_order_id=stop_loss.new_client_order_id)
    assert canceled.order.status.value == "CANCELED"  # an OCO: canceling one leg cancels both
    return r.signal_id


def test_exit_legs_canceled_by_hand_are_noticed_and_alerted_with_closed_by_null():
    from tradeengine.config import Settings

    deps = memory_deps(
        load_info(INFO_2021), PRICES, {"USDT": "10000", "BTC": "0"}, Settings(unprotected_position_action="alert")
    )
    sid = _bracketed_entry_then_legs_canceled_by_hand(deps)
    assert run_monitor(deps).changed == {sid: "PROTECTION_UNPROTECTED"}
    closed = deps.store.get(sid)
    result = closed.execution["exit_result"]
    assert result["closed_by"] is None and closed.execution["protection"] == "unprotected"
    assert "canceled on the exchange" in result["why"]
    assert closed.state is SignalState.FILLED and not closed.watching_exits
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_errors_total", (("type", "unprotected_position"),))] == 1
    assert run_monitor(deps).changed == {}  # no longer followed


def test_exit_legs_canceled_by_hand_flatten_the_position_by_default(deps):
    sid = _bracketed_entry_then_legs_canceled_by_hand(deps)
    assert run_monitor(deps).changed == {sid: "PROTECTION_FLATTENED"}
    closed = deps.store.get(sid)
    assert closed.execution["protection"] == "flattened"
    assert closed.execution["exit_result"]["closed_by"] == "flatten"
    assert closed.execution["flatten"]["status"] == "FILLED"
    (position,) = deps.ledger.positions("momentum_v1")
    assert position.quantity == 0
    assert run_monitor(deps).changed == {}
