"""Exits that always stand (tradeengine.pipeline.protection): a filled entry whose exits are refused is
retried by the monitor with backoff, an unknown answer is resolved by client order id, and when they
cannot stand the position is flattened or alerted, as UNPROTECTED_POSITION_ACTION says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from tradeengine.config import Settings
from tradeengine.exchange.base import Rejected, Unknown
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message

from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

PRICES = {"BTCUSDT": "45000"}


def make(**settings):
    return memory_deps(load_info(INFO_2021), PRICES, {"USDT": "10000"}, Settings(exit_retry_seconds=30, **settings))


def refuse_ocos(deps, times, outcome=None, reach_the_book=True):
    """The next ``times`` OCO placements are answered ``outcome`` (Binance -2010 by default), nothing placed
    (an Unknown answer's request reaches the book unless ``reach_the_book`` is False)."""
    real = deps.exchange.place_oco
    left = {"n": times}

    def place_oco(request):
        if left["n"] > 0:
            left["n"] -= 1
            if isinstance(outcome, Unknown) and reach_the_book:
                real(request)  # it did reach the book: the answer is what got lost
            return outcome or Rejected(-2010, "Order would immediately trigger.")
        return real(request)

    deps.exchange.place_oco = place_oco


def bracketed_buy(deps):
    body = signal_dict(
        timestamp=datetime.now(UTC).isoformat(),
        quantity="0.001",
        meta={"order_type": "market", "stop_loss_pct": 2, "take_profit_pct": 3},
    )
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    size_message(deps.signals.drain()[0], deps)
    execute_message(deps.plans.drain()[0], deps)
    return r.signal_id


def later(deps, seconds):
    deps.clock = lambda: datetime.now(UTC) + timedelta(seconds=seconds)


def test_refused_exits_are_retried_with_backoff_until_they_stand():
    deps = make()
    refuse_ocos(deps, 1)
    sid = bracketed_buy(deps)
    record = deps.store.get(sid)
    assert record.execution["protection"] == "pending" and record.watching_exits
    assert run_monitor(deps).changed == {}  # not due yet: the retry waits its backoff, in the schedule
    later(deps, 31)
    assert run_monitor(deps).changed == {sid: "PROTECTION_PROTECTED"}
    assert deps.store.get(sid).execution["protection"] == "protected"
    assert len([o for o in deps.exchange.open_orders("BTCUSDT") if o.status.is_open]) == 2
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_errors_total", (("type", "exits_not_placed"),))] == 1


def test_exits_that_never_stand_are_flattened_once():
    deps = make(exit_placement_attempts=2)
    refuse_ocos(deps, 5)
    sid = bracketed_buy(deps)
    later(deps, 31)
    assert run_monitor(deps).changed == {sid: "PROTECTION_FLATTENED"}
    record = deps.store.get(sid)
    assert record.execution["protection"] == "flattened" and not record.watching_exits
    assert record.execution["exit_result"]["closed_by"] == "flatten"
    (position,) = deps.ledger.positions("momentum_v1")
    assert position.quantity == 0 and position.realized_pnl < 0  # two fees paid, nothing gained
    sells = [f for f in deps.ledger.fills("momentum_v1", "BTCUSDT") if f.side == "SELL"]
    assert len(sells) == 1 and sells[0].role == "close"
    later(deps, 600)
    assert run_monitor(deps).changed == {}  # done: nothing is sold twice
    assert deps.counters.snapshot()[("tradeengine_trades_total", (("status", "flattened"), ("type", "market")))] == 1


def test_with_the_alert_policy_the_position_stays_and_is_counted_unprotected():
    deps = make(exit_placement_attempts=1, unprotected_position_action="alert")
    refuse_ocos(deps, 5)
    sid = bracketed_buy(deps)
    later(deps, 31)
    assert run_monitor(deps).changed == {sid: "PROTECTION_UNPROTECTED"}
    assert deps.store.get(sid).execution["protection"] == "unprotected"
    assert deps.ledger.positions("momentum_v1")[0].quantity == D("0.000999")
    assert deps.counters.snapshot()[("tradeengine_errors_total", (("type", "unprotected_position"),))] == 1


def test_an_unknown_answer_is_resolved_by_client_order_id_and_never_placed_twice():
    deps = make()
    refuse_ocos(deps, 1, Unknown("timeout"))
    sid = bracketed_buy(deps)
    assert deps.store.get(sid).execution["protection"] == "pending"
    later(deps, 31)
    assert run_monitor(deps).changed == {sid: "PROTECTION_PROTECTED"}
    working = [o for o in deps.exchange.open_orders("BTCUSDT") if o.status.is_open]
    assert len(working) == 2  # the pair placed by the lost request, and no second pair


@pytest.mark.parametrize("action", ["flatten", "alert"])
def test_get_signal_shows_the_protection(action):
    from fastapi.testclient import TestClient
    from tradeengine.api.app import create_app

    from tests.unit.api_support import bearer, settings

    deps = memory_deps(
        load_info(INFO_2021),
        PRICES,
        {"USDT": "10000"},
        settings(exit_placement_attempts=1, unprotected_position_action=action),
    )
    refuse_ocos(deps, 5)
    sid = bracketed_buy(deps)
    api = TestClient(create_app(lambda: deps))
    assert api.get(f"/signals/{sid}", headers=bearer("orders:read")).json()["protection"] == "pending"
    later(deps, 31)
    run_monitor(deps)
    expected = "flattened" if action == "flatten" else "unprotected"
    assert api.get(f"/signals/{sid}", headers=bearer("orders:read")).json()["protection"] == expected


def test_a_venue_that_never_answers_ends_in_the_policy_not_in_retries_for_ever():
    deps = make(exit_placement_attempts=3)
    refuse_ocos(deps, 99, Unknown("timeout"), reach_the_book=False)
    sid = bracketed_buy(deps)
    seen = []
    for minutes in (1, 2, 4, 8):
        later(deps, 60 * minutes)
        seen += run_monitor(deps).changed.values()
    assert seen == ["PROTECTION_PENDING", "PROTECTION_FLATTENED"], seen
    assert deps.store.get(sid).execution["protection"] == "flattened"
