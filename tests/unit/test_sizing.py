"""Sizing: the seed's dynamic-minimum semantics, made exact, on real exchange rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradeengine.sizing import Market, SizingConfig, client_order_id, size

from contracts import Hold, OrderPlan, Rejection, Signal
from contracts.orders import BinanceOrderType as T
from contracts.orders import BracketKind, BracketPlacement
from tests.conftest import signal_dict

D = Decimal


def sized(rules, market="45000", balances=None, config=None, market_avg=None, **overrides) -> OrderPlan:
    result = size(
        Signal.model_validate(signal_dict(**overrides)), rules, Market(D(market), market_avg), balances, config
    )
    assert isinstance(result, OrderPlan), result
    return result


def refused(rules, market="45000", balances=None, **overrides) -> Rejection:
    result = size(Signal.model_validate(signal_dict(**overrides)), rules, Market(D(market)), balances)
    assert isinstance(result, Rejection), result
    return result


def test_quantity_zero_is_the_dynamic_minimum_btc(rules_2021):
    plan = sized(rules_2021["BTCUSDT"])
    # minNotional 10 / (45000 * 0.99 market margin) = 0.000224466.. -> ceil to step 0.000001
    assert plan.order.quantity == D("0.000225") and plan.sizing == "dynamic_minimum"
    assert plan.order.to_binance()["quantity"] == "0.000225"


def test_dynamic_minimum_doge_whole_units(rules_2021):
    plan = sized(rules_2021["DOGEUSDT"], market="0.08", price="0.08", symbol="DOGEUSDT")
    doge_step = rules_2021["DOGEUSDT"].lot_size.step_size
    assert plan.order.quantity % doge_step == 0
    assert plan.order.quantity * D("0.08") * D("0.99") >= 10


def test_dynamic_minimum_without_margin_is_exactly_min_notional(rules_2021):
    plan = sized(
        rules_2021["ETHUSDT"],
        market="3000",
        price="3000",
        symbol="ETHUSDT",
        config=SizingConfig(market_margin_pct=D(0)),
    )
    # 10 / 3000 = 0.00333.. -> ceil to step 0.00001 = 0.00334
    assert plan.order.quantity == D("0.00334")


def test_minimum_uses_the_lower_of_last_and_average_price(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], market="45000", price="45000", market_avg=D("40000"))
    assert plan.order.quantity * D("40000") >= 10


def test_valid_quantity_is_floored_to_step(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], quantity="0.0012349")
    assert plan.order.quantity == D("0.001234") and plan.sizing == "explicit"


def test_float_quantity_regression(rules_2021):
    # DOGE quantities like 0.29 units scale: a step of 0.01 must keep 0.29 whole.
    raw = {
        "symbol": "XUSDT",
        "status": "TRADING",
        "baseAsset": "X",
        "quoteAsset": "USDT",
        "orderTypes": ["MARKET", "LIMIT"],
        "filters": [{"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "1000", "stepSize": "0.01"}],
    }
    from tradeengine.exchange_info import parse_symbol

    plan = sized(parse_symbol(raw), market="1", price="1", symbol="XUSDT", quantity=0.29)
    assert plan.order.quantity == D("0.29")


def test_below_minimum_becomes_minimum(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], quantity="0.00001")
    assert plan.order.quantity == D("0.000225") and plan.sizing == "raised_to_minimum"


def test_above_max_is_rejected(rules_2021):
    r = refused(rules_2021["BTCUSDT"], quantity="100")
    assert r.code == "QUANTITY_ABOVE_MAX" and "93.6651373" in r.reason


def test_limit_order_price_to_tick_in_traders_favour(rules_2026):
    buy = sized(rules_2026["BTCUSDT"], market="100000", meta={"order_type": "limit"}, price="99999.999")
    assert buy.order.price == D("99999.99") and buy.order.type is T.LIMIT and buy.order.time_in_force == "GTC"
    sell = sized(
        rules_2026["BTCUSDT"], market="100000", action="sell", meta={"order_type": "limit"}, price="100000.001"
    )
    assert sell.order.price == D("100000.01")


def test_limit_minimum_uses_limit_price_without_margin(rules_2026):
    plan = sized(rules_2026["BTCUSDT"], market="100000", meta={"order_type": "limit"}, price="100000")
    # NOTIONAL minNotional 5 / 100000 = 0.00005 -> exactly minQty multiple
    assert plan.order.quantity == D("0.00005")


@pytest.mark.parametrize(
    ("order_type", "action", "stop", "btype", "has_price"),
    [
        ("market", "buy", None, T.MARKET, False),
        ("limit", "buy", None, T.LIMIT, True),
        ("stop", "sell", "44000", T.STOP_LOSS, False),
        ("stop_limit", "sell", "44000", T.STOP_LOSS_LIMIT, True),
        ("take_profit", "sell", "46000", T.TAKE_PROFIT, False),
        ("take_profit_limit", "sell", "46000", T.TAKE_PROFIT_LIMIT, True),
        ("stop", "buy", "46000", T.STOP_LOSS, False),
        ("take_profit", "buy", "44000", T.TAKE_PROFIT, False),
    ],
)
def test_all_six_order_types_map_to_binance(rules_2026, order_type, action, stop, btype, has_price):
    meta = {"order_type": order_type}
    if stop:
        meta["stop_price"] = stop
    plan = sized(rules_2026["BTCUSDT"], action=action, meta=meta)
    params = plan.order.to_binance()
    assert params["type"] == btype.value
    assert ("price" in params) is has_price
    assert ("stopPrice" in params) is (stop is not None)
    assert ("timeInForce" in params) is has_price


def test_stop_on_the_wrong_side_would_trigger_immediately(rules_2026):
    r = refused(rules_2026["BTCUSDT"], action="sell", meta={"order_type": "stop", "stop_price": "46000"})
    assert r.code == "PRICE_OUT_OF_RANGE" and "trigger immediately" in r.reason


def test_quote_quantity_market(rules_2026):
    plan = sized(rules_2026["BTCUSDT"], market="100000", price="100000", meta={"quote_quantity": "25.123456789"})
    params = plan.order.to_binance()
    assert params["quoteOrderQty"] == "25.12345678" and "quantity" not in params
    assert plan.notional == D("25.12345678")


def test_quote_quantity_below_minimum_is_raised(rules_2026):
    plan = sized(rules_2026["BTCUSDT"], market="100000", price="100000", meta={"quote_quantity": "1"})
    assert plan.order.quote_order_qty >= 5 and plan.sizing == "raised_to_minimum"


def test_position_size_pct_of_free_quote_for_buys(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], balances={"USDT": D("1000")}, meta={"position_size_pct": 10})
    # 100 USDT / 45000 = 0.0022222.. -> floor to 0.000001
    assert plan.order.quantity == D("0.002222") and plan.sizing == "position_size_pct"


def test_position_size_pct_of_free_base_for_sells(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], action="sell", balances={"BTC": D("0.5")}, meta={"position_size_pct": 50})
    assert plan.order.quantity == D("0.25")


def test_position_size_pct_needs_the_balance(rules_2021):
    assert refused(rules_2021["BTCUSDT"], meta={"position_size_pct": 10}).code == "BALANCE_UNKNOWN"
    assert refused(rules_2021["BTCUSDT"], balances={"BTC": D(1)}, meta={"position_size_pct": 10}).code == (
        "BALANCE_UNKNOWN"
    )


def test_close_sells_the_free_base_balance(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], action="close", balances={"BTC": D("0.0123456789")})
    assert plan.order.side == "SELL" and plan.order.type is T.MARKET
    assert plan.order.quantity == D("0.012345") and plan.sizing == "close_free_balance"


def test_close_of_dust_is_refused(rules_2021):
    r = refused(rules_2021["BTCUSDT"], action="close", balances={"BTC": D("0.0001")})
    assert r.code == "DUST" and "0.0001 BTC" in r.reason


def test_close_without_balance_is_balance_unknown(rules_2021):
    assert refused(rules_2021["BTCUSDT"], action="close").code == "BALANCE_UNKNOWN"


def test_hold_sends_nothing(rules_2021):
    result = size(Signal.model_validate(signal_dict(action="hold")), rules_2021["BTCUSDT"], Market(D("45000")))
    assert isinstance(result, Hold)


def test_client_order_ids_are_deterministic_and_binance_safe():
    import re

    ids = [client_order_id("x" * 128), client_order_id("sig-1", "sl"), client_order_id("sig-1", "ls")]
    assert all(re.fullmatch(r"[a-zA-Z0-9-_]{1,36}", i) for i in ids)
    assert client_order_id("sig-1") == client_order_id("sig-1") != client_order_id("sig-2")


def test_percent_brackets_on_a_limit_entry_use_otoco(rules_2026):
    plan = sized(
        rules_2026["BTCUSDT"],
        market="100000",
        price="100000",
        quantity="0.001",
        meta={"order_type": "limit", "stop_loss_pct": 2.0, "take_profit_pct": 5.0},
    )
    b = plan.brackets
    assert b.kind is BracketKind.OCO and b.placement is BracketPlacement.WITH_ENTRY and b.side == "SELL"
    assert b.stop_loss.stop_price == D("98000") and b.take_profit.price == D("105000")
    assert b.take_profit.type is T.LIMIT_MAKER
    # Binance takes the buy's commission in BTC: the exits sell what was received, floored to step.
    assert b.quantity == D("0.00099")


def test_brackets_after_a_market_fill_on_legacy_symbols(rules_2021):
    plan = sized(rules_2021["BTCUSDT"], meta={"stop_loss": 44000, "take_profit": 47000})
    assert plan.brackets.placement is BracketPlacement.AFTER_FILL  # no OTO on the 2021 exchange
    # Every exit leg must still meet MIN_NOTIONAL after commission, valued at the stop price.
    assert plan.brackets.quantity * D("44000") >= 10


def test_dynamic_minimum_grows_so_the_stop_leg_passes_notional(rules_2021):
    plain_plan = sized(rules_2021["BTCUSDT"])
    bracketed = sized(rules_2021["BTCUSDT"], meta={"stop_loss_pct": 10})
    assert bracketed.order.quantity > plain_plan.order.quantity
    assert bracketed.brackets.kind is BracketKind.STOP_LOSS


@pytest.mark.parametrize(
    ("action", "meta"),
    [
        ("buy", {"stop_loss": 46000}),
        ("buy", {"take_profit": 44000}),
        ("sell", {"stop_loss": 44000}),
        ("sell", {"take_profit": 46000}),
    ],
)
def test_brackets_on_the_wrong_side_are_invalid(rules_2026, action, meta):
    r = refused(rules_2026["BTCUSDT"], action=action, meta=meta)
    assert r.code == "INVALID_BRACKET"


def test_bracket_outside_the_price_band_is_invalid(rules_2026):
    # Ask multiplier up is 2: a take-profit at +150 % would be refused by the exchange.
    r = refused(rules_2026["BTCUSDT"], market="100000", price="100000", quantity="0.001", meta={"take_profit_pct": 150})
    assert r.code == "INVALID_BRACKET" and "PERCENT_PRICE_BY_SIDE" in r.reason


def test_order_type_the_symbol_does_not_take(rules_2021):
    # In 2021 BTCUSDT took STOP_LOSS_LIMIT but not STOP_LOSS.
    r = refused(rules_2021["BTCUSDT"], action="sell", meta={"order_type": "stop", "stop_price": 44000})
    assert r.code == "ORDER_TYPE_NOT_ALLOWED"
