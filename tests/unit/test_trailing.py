"""Trailing stops: meta.trailing_delta_bps (or trailing_stop_pct) → Binance's trailingDelta on a stop entry or
on the stop-loss exit (alone, or the stop leg of an OCO), within the symbol's TRAILING_DELTA filter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from tradeengine.engine import decide
from tradeengine.exchange.base import OcoRequest
from tradeengine.exchange.paper import oco_legs
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message
from tradeengine.sizing import Market

from contracts import OrderPlan, OrderRequest, Rejection, Side, Signal
from contracts.orders import BinanceOrderType, BracketKind
from contracts.status import SignalState
from tests.conftest import INFO_2026, NOW, load_info, signal_dict
from tests.support.memory import memory_deps

MARKET = Market(D("45000"))


def plan_for(rules: Any, **overrides: Any) -> OrderPlan | Rejection:
    out = decide(Signal.model_validate(signal_dict(**overrides)), rules, MARKET, NOW, {"USDT": D(10000)})
    assert not isinstance(out, OrderPlan) or not out.notes, out.notes
    return out  # type: ignore[return-value]


def test_a_trailing_stop_loss_exit_trails_from_the_fill_with_no_stop_price(rules_2026: Any) -> None:
    plan = plan_for(rules_2026, meta={"trailing_delta_bps": 150})
    assert isinstance(plan, OrderPlan), plan
    b = plan.brackets
    assert b is not None and b.kind is BracketKind.STOP_LOSS and b.stop_loss is not None
    params = b.stop_loss.to_binance()
    assert params["type"] == "STOP_LOSS" and params["trailingDelta"] == "150" and "stopPrice" not in params
    assert plan.order.trailing_delta is None  # the market entry itself does not trail
    assert rules_2026["BTCUSDT"].check(b.stop_loss) == []


def test_trailing_stop_pct_is_converted_to_bips_and_pairs_with_a_take_profit_as_an_oco(rules_2026: Any) -> None:
    plan = plan_for(rules_2026, meta={"trailing_stop_pct": "1.25", "take_profit_pct": 3})
    assert isinstance(plan, OrderPlan), plan
    b = plan.brackets
    assert b is not None and b.kind is BracketKind.OCO and b.stop_loss is not None and b.take_profit is not None
    assert b.stop_loss.trailing_delta == 125 and b.take_profit.price == D("46350")


def test_a_stop_entry_carries_the_trailing_delta_itself(rules_2026: Any) -> None:
    plan = plan_for(rules_2026, meta={"order_type": "stop", "stop_price": 46000, "trailing_delta_bps": 200})
    assert isinstance(plan, OrderPlan), plan
    params = plan.order.to_binance()
    assert params["type"] == "STOP_LOSS" and params["side"] == "BUY" and params["trailingDelta"] == "200"
    assert params["stopPrice"] == "46000" and plan.brackets is None  # the activation price, as Binance reads it


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"trailing_delta_bps": 5}, "10..2000"),
        ({"trailing_delta_bps": 2001, "take_profit_pct": 3}, "10..2000"),
        ({"order_type": "stop", "stop_price": 46000, "trailing_delta_bps": 9}, "TrailingAbove"),
    ],
)
def test_a_delta_outside_the_trailing_delta_filter_is_refused_with_its_code(
    rules_2026: Any, meta: dict[str, Any], words: str
) -> None:
    out = plan_for(rules_2026, meta=meta)
    assert isinstance(out, Rejection) and out.code == "TRAILING_DELTA_OUT_OF_RANGE", out
    assert words in out.reason and "BTCUSDT" in out.reason


def test_a_symbol_without_trailing_stops_refuses_them(rules_2021: Any) -> None:
    out = plan_for(rules_2021, meta={"trailing_delta_bps": 100})
    assert isinstance(out, Rejection) and out.code in ("ORDER_TYPE_NOT_ALLOWED", "INVALID_BRACKET"), out


def test_the_filter_check_knows_trailing_delta(rules_2026: Any) -> None:
    rules = rules_2026["BTCUSDT"]
    order = OrderRequest(
        symbol="BTCUSDT", side=Side.SELL, type=BinanceOrderType.STOP_LOSS, quantity=D("0.001"),
        trailing_delta=3000, new_client_order_id="x",
    )  # fmt: skip
    (problem,) = rules.check(order)
    assert problem.filter == "TRAILING_DELTA" and problem.message == "Filter failure: TRAILING_DELTA"
    assert rules.check(order.model_copy(update={"trailing_delta": 100})) == []  # no stopPrice needed


def test_the_oco_request_carries_the_trailing_stop_to_the_paper_legs() -> None:
    request = OcoRequest(
        symbol="BTCUSDT", side="SELL", quantity=D("0.001"), take_profit_price=D("46350"), stop_loss_price=None,
        list_client_order_id="l", take_profit_client_order_id="t", stop_loss_client_order_id="s",
        stop_loss_trailing_delta=125,
    )  # fmt: skip
    stop, take = oco_legs(request)
    assert stop.type is BinanceOrderType.STOP_LOSS and stop.trailing_delta == 125 and stop.stop_price is None
    assert take.type is BinanceOrderType.LIMIT_MAKER and take.trailing_delta is None


def test_a_trailing_exit_on_the_paper_exchange_follows_the_price_up_and_sells_on_the_way_down() -> None:
    deps = memory_deps(load_info(INFO_2026), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    body = signal_dict(
        signal_id="trail-1", quantity="0.001", timestamp=datetime.now(UTC).isoformat(),
        meta={"trailing_delta_bps": 100, "take_profit_pct": 20},
    )  # fmt: skip
    ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    entry = deps.store.get("trail-1")
    assert entry.state is SignalState.FILLED and entry.execution["protection"] == "protected", entry.execution
    for price in ("45500", "46000", "47000", "46600"):  # up, then back less than 1 % from the best (47000)
        deps.exchange.market.set("BTCUSDT", D(price))
        run_monitor(deps)
    assert "exit_result" not in deps.store.get("trail-1").execution  # 46600 is above 47000 less 1 % (46530)
    deps.exchange.market.set("BTCUSDT", D("46500"))
    run_monitor(deps)
    result = deps.store.get("trail-1").execution["exit_result"]
    assert result["closed_by"] == "stop_loss", result
    stop = result["legs"]["stop_loss"]
    assert stop["status"] == "FILLED" and D(stop["avg_price"]) == D("46500")
