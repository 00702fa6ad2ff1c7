"""Exchange rules parsed from real exchangeInfo, judged the way Binance judges them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradeengine.decimals import ceil_to_step, floor_to_step
from tradeengine.exchange_info import parse_symbol
from tradeengine.rules import OrderContext

from contracts import OrderRequest, Side
from contracts.orders import BinanceOrderType as T

D = Decimal


def order(symbol="BTCUSDT", side=Side.BUY, type=T.LIMIT, **kw):
    if type.needs_time_in_force:
        kw.setdefault("time_in_force", "GTC")
    return OrderRequest(symbol=symbol, side=side, type=type, new_client_order_id="te-x", **kw)


def filters_of(violations):
    return sorted(v.filter for v in violations)


def test_current_shape_is_parsed(rules_2026):
    btc = rules_2026["BTCUSDT"]
    assert btc.notional.filter_type == "NOTIONAL"
    assert (btc.notional.min_notional, btc.notional.max_notional) == (D("5"), D("9000000"))
    assert btc.notional.apply_min_to_market and not btc.notional.apply_max_to_market
    assert btc.price_band.filter_type == "PERCENT_PRICE_BY_SIDE"
    assert (btc.price_band.bid_up, btc.price_band.ask_down) == (D("1.2"), D("0.8"))
    assert btc.max_num_order_lists == 20 and btc.trailing_delta.max_above == 2000
    assert btc.oto_allowed and "MAX_NUM_ORDER_AMENDS" in btc.unknown_filters


def test_legacy_shape_is_parsed(rules_2021):
    btc = rules_2021["BTCUSDT"]
    assert btc.notional.filter_type == "MIN_NOTIONAL" and btc.notional.min_notional == D("10")
    assert btc.notional.max_notional == 0  # MIN_NOTIONAL has no maximum
    assert btc.price_band.filter_type == "PERCENT_PRICE" and btc.price_band.ask_up == D("5")
    assert btc.market_lot_size.step_size == 0  # "0.00000000": rule disabled, never a divisor
    assert not btc.oto_allowed


def test_every_symbol_of_both_snapshots_parses(rules_2021, rules_2026):
    for rules in (*rules_2021.values(), *rules_2026.values()):
        assert rules.price_filter is not None and rules.lot_size is not None and rules.notional is not None
    assert any(not r.trading for r in rules_2021.values())  # BREAK symbols are kept, marked not trading


def test_float_flooring_regression():
    # 0.29 / 0.01 is 28.999999999999996 in floats: a float floor sends 0.28.
    assert floor_to_step(D("0.29"), D("0.01")) == D("0.29")
    assert int(0.29 / 0.01) == 28  # the trap, for the record
    assert ceil_to_step(D("0.29"), D("0.01")) == D("0.29")
    assert floor_to_step(D("1.23456789"), D("0")) == D("1.23456789")  # zero step: no rule


def test_step_rule_is_quantity_mod_step_not_offset_from_min():
    # Binance (2023): quantity % stepSize == 0, not (quantity - minQty) % stepSize.
    raw = {
        "symbol": "XUSDT",
        "filters": [{"filterType": "LOT_SIZE", "minQty": "0.15", "maxQty": "100", "stepSize": "0.1"}],
    }
    rules = parse_symbol(raw)
    assert filters_of(rules.check(order(symbol="XUSDT", type=T.MARKET, quantity=D("0.2")))) == []
    assert filters_of(rules.check(order(symbol="XUSDT", type=T.MARKET, quantity=D("0.25")))) == ["LOT_SIZE"]


def test_price_filter(rules_2026):
    btc = rules_2026["BTCUSDT"]
    assert btc.check(order(quantity=D("0.001"), price=D("45000.01"))) == []
    bad = btc.check(order(quantity=D("0.001"), price=D("45000.005")))
    assert filters_of(bad) == ["PRICE_FILTER"] and bad[0].message == "Filter failure: PRICE_FILTER"
    assert "tickSize 0.01" in bad[0].detail
    assert filters_of(btc.check(order(quantity=D("0.001"), price=D("1000000.01")))) == ["PRICE_FILTER"]


def test_stop_price_is_checked_too(rules_2026):
    btc = rules_2026["BTCUSDT"]
    leg = order(side=Side.SELL, type=T.STOP_LOSS, quantity=D("0.001"), stop_price=D("44000.001"))
    assert filters_of(btc.check(leg)) == ["PRICE_FILTER"]


def test_lot_size_and_market_lot_size(rules_2026):
    btc = rules_2026["BTCUSDT"]
    ctx = OrderContext(average_price=D("100000"))
    assert filters_of(btc.check(order(type=T.MARKET, quantity=D("0.000105")), ctx)) == ["LOT_SIZE"]
    # MARKET_LOT_SIZE maxQty 119.27356195 binds market orders, not limit orders.
    assert "MARKET_LOT_SIZE" in filters_of(btc.check(order(type=T.MARKET, quantity=D("120")), ctx))
    assert btc.check(order(quantity=D("120"), price=D("70000")), ctx) == []


def test_market_lot_size_zero_step_falls_back_to_lot_size(rules_2021):
    lot = rules_2021["BTCUSDT"].lot_for(T.MARKET)
    assert lot.step_size == D("0.000001") and lot.max_qty == D("93.6651373")


@pytest.mark.parametrize(("qty", "expected"), [(D("0.0001"), ["MIN_NOTIONAL"]), (D("0.00023"), [])])
def test_min_notional_applies_to_market_at_average_price(rules_2021, qty, expected):
    ctx = OrderContext(average_price=D("45000"))
    assert filters_of(rules_2021["BTCUSDT"].check(order(type=T.MARKET, quantity=qty), ctx)) == expected


def test_apply_to_market_false_skips_market_notional():
    raw = {
        "symbol": "XUSDT",
        "filters": [
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": False, "avgPriceMins": 5},
        ],
    }
    rules = parse_symbol(raw)
    tiny = D("0.001")
    assert rules.check(order(symbol="XUSDT", type=T.MARKET, quantity=tiny), OrderContext(D("1"))) == []
    assert filters_of(rules.check(order(symbol="XUSDT", quantity=tiny, price=D("1")))) == ["MIN_NOTIONAL"]


def test_notional_max_applies_to_market_only_when_flagged(rules_2026):
    btc = rules_2026["BTCUSDT"]
    ctx = OrderContext(average_price=D("100000"))
    assert btc.check(order(type=T.MARKET, quantity=D("100")), ctx) == []  # applyMaxToMarket false
    assert filters_of(btc.check(order(quantity=D("100"), price=D("100000")), ctx)) == ["NOTIONAL"]


def test_quote_order_qty_is_valued_as_is(rules_2026):
    btc = rules_2026["BTCUSDT"]
    ctx = OrderContext(average_price=D("100000"))
    assert btc.check(order(type=T.MARKET, quote_order_qty=D("5")), ctx) == []
    assert filters_of(btc.check(order(type=T.MARKET, quote_order_qty=D("4.99")), ctx)) == ["NOTIONAL"]


def test_percent_price_by_side(rules_2026):
    btc = rules_2026["BTCUSDT"]
    ctx = OrderContext(average_price=D("100000"))
    # bid: 0.5..1.2 of average; ask: 0.8..2
    assert btc.check(order(quantity=D("0.001"), price=D("119000")), ctx) == []
    assert filters_of(btc.check(order(quantity=D("0.001"), price=D("121000")), ctx)) == ["PERCENT_PRICE_BY_SIDE"]
    assert btc.check(order(side=Side.SELL, quantity=D("0.001"), price=D("190000")), ctx) == []
    assert filters_of(btc.check(order(side=Side.SELL, quantity=D("0.001"), price=D("79000")), ctx)) == [
        "PERCENT_PRICE_BY_SIDE"
    ]


def test_max_num_orders_and_max_position():
    raw = {
        "symbol": "XUSDT",
        "filters": [
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 2},
            {"filterType": "MAX_POSITION", "maxPosition": "10.00000000"},
        ],
    }
    rules = parse_symbol(raw)
    o = order(symbol="XUSDT", quantity=D("1"), price=D("1"))
    assert filters_of(rules.check(o, OrderContext(open_orders=2, base_position=D("9.5")))) == [
        "MAX_NUM_ORDERS",
        "MAX_POSITION",
    ]
    assert rules.check(o, OrderContext(open_orders=1, base_position=D("9"))) == []


def test_zero_values_disable_rules():
    raw = {
        "symbol": "XUSDT",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000000", "maxPrice": "0.00000000", "tickSize": "0"},
            {"filterType": "LOT_SIZE", "minQty": "0", "maxQty": "0", "stepSize": "0"},
            {"filterType": "NOTIONAL", "minNotional": "0", "maxNotional": "0"},
        ],
    }
    rules = parse_symbol(raw)
    assert rules.check(order(symbol="XUSDT", quantity=D("123.456789"), price=D("0.000000017"))) == []


def test_every_violation_is_reported_at_once(rules_2026):
    bad = order(quantity=D("0.0000001"), price=D("0.001"))
    assert filters_of(rules_2026["BTCUSDT"].check(bad)) == ["LOT_SIZE", "NOTIONAL", "PRICE_FILTER"]
