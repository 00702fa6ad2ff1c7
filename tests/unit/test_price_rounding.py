"""How each kind of price is put on the symbol's tick (BTCUSDT 2026: tickSize 0.01), as the README states it:
limit prices in the trader's favour, trigger prices (stopPrice) to the nearest tick, exits away from the entry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradeengine.sizing import Market, size

from contracts import OrderPlan, Signal
from tests.conftest import signal_dict

D = Decimal


def sized(rules, **overrides) -> OrderPlan:
    result = size(Signal.model_validate(signal_dict(**overrides)), rules, Market(D("45000")), None)
    assert isinstance(result, OrderPlan), result
    return result


@pytest.mark.parametrize(
    ("order_type", "action", "asked", "stop_price"),
    [
        ("stop", "sell", "44000.004", "44000.00"),  # down to the nearer tick
        ("stop", "sell", "44000.005", "44000.01"),  # a half rounds up, whichever the side
        ("stop", "buy", "46000.005", "46000.01"),
        ("stop", "buy", "46000.004", "46000.00"),
        ("take_profit", "sell", "46000.006", "46000.01"),
        ("take_profit", "buy", "44000.003", "44000.00"),
    ],
)
def test_a_trigger_price_rounds_to_the_nearest_tick_half_up(rules_2026, order_type, action, asked, stop_price):
    plan = sized(rules_2026["BTCUSDT"], action=action, meta={"order_type": order_type, "stop_price": asked})
    assert plan.order.stop_price == D(stop_price)
    assert D(plan.order.to_binance()["stopPrice"]) == D(stop_price)


def test_a_stop_limit_rounds_its_limit_in_the_traders_favour_and_its_trigger_to_the_nearest(rules_2026):
    meta = {"order_type": "stop_limit", "stop_price": "44000.004"}
    sell = sized(rules_2026["BTCUSDT"], action="sell", price="43990.001", meta=meta)
    assert (sell.order.price, sell.order.stop_price) == (D("43990.01"), D("44000.00"))  # sells ask more
    meta = {"order_type": "stop_limit", "stop_price": "46000.005"}
    buy = sized(rules_2026["BTCUSDT"], action="buy", price="46010.009", meta=meta)
    assert (buy.order.price, buy.order.stop_price) == (D("46010.00"), D("46000.01"))  # buys pay less


@pytest.mark.parametrize(
    ("action", "stop_loss", "take_profit", "expected_sl", "expected_tp"),
    [
        ("buy", "44000.006", "46000.004", "44000.00", "46000.01"),  # long: stop down, target up
        ("sell", "46000.004", "44000.006", "46000.01", "44000.00"),  # short: stop up, target down
    ],
)
def test_exit_prices_round_away_from_the_entry(rules_2026, action, stop_loss, take_profit, expected_sl, expected_tp):
    plan = sized(
        rules_2026["BTCUSDT"],
        action=action,
        price="45000",
        quantity="0.001",
        meta={"order_type": "limit", "stop_loss": stop_loss, "take_profit": take_profit},
    )
    b = plan.brackets
    assert (b.stop_loss.stop_price, b.take_profit.price) == (D(expected_sl), D(expected_tp))
