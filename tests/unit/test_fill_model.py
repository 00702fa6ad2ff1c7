"""The fill model's depth (partial fills across price levels) and trailing stops, on the real 2026 sample.

The trailing scenarios are Binance's own (faqs/trailing-stop-faq.md, scenarios A to E), price by price.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from tradeengine.exchange.matching import Book, MatchingConfig, MatchingError, Order
from tradeengine.rules import TrailingDelta

from contracts.orders import BinanceOrderType, OrderRequest, Side
from tests.unit.test_matching import RULES, T0, req

D = Decimal
P = D("50000")
# 50 USDT a level, levels 10 bps apart: at 50000 a level holds 0.001 BTC, at 50050 0.00099 (floored to the step).
DEPTH = MatchingConfig(top_of_book_qty=D("50"), level_bps=D("10"))
DEPTH49 = dataclasses.replace(DEPTH, top_of_book_qty=D("49"))  # 0.001 BTC at 49000


def book(config: MatchingConfig = DEPTH, usdt: str = "100000", btc: str = "1", rules: object = None) -> Book:
    return Book(rules or RULES, config, {"USDT": D(usdt), "BTC": D(btc)})  # type: ignore[arg-type]


def fills(b: Book, order: Order) -> list[tuple[Decimal, Decimal, bool]]:
    return [(t.price, t.qty, t.is_maker) for t in b.fills_of(order)]


def assert_books_balance(b: Book, usdt: str, btc: str) -> None:
    """Nothing created or lost: what is free and locked equals the start plus what the trades moved."""
    spent = sum((t.quote_qty if t.side == "BUY" else -t.quote_qty for t in b.trades), D(0))
    got = sum((t.qty if t.side == "BUY" else -t.qty for t in b.trades), D(0))
    fees = {a: sum((t.commission for t in b.trades if t.commission_asset == a), D(0)) for a in ("USDT", "BTC")}
    assert sum(b.balance("USDT")) == D(usdt) - spent - fees["USDT"]
    assert sum(b.balance("BTC")) == D(btc) + got - fees["BTC"]


# ---- depth ---------------------------------------------------------------------------------------
def test_a_market_order_larger_than_the_top_of_book_walks_the_levels_one_fill_each() -> None:
    b = book()
    order = b.place(req("BUY", "MARKET", qty="0.003"), T0, P)
    assert order.status == "FILLED" and order.executed_qty == D("0.003")
    assert fills(b, order) == [
        (D("50000"), D("0.001"), False),
        (D("50050"), D("0.00099"), False),
        (D("50100"), D("0.00099"), False),
        (D("50150"), D("0.00002"), False),
    ]
    assert len({t.trade_id for t in b.fills_of(order)}) == 4
    assert order.cummulative_quote_qty == D("50") + D("49.5495") + D("49.599") + D("1.003")
    assert b.balance("USDT")[1] == 0  # the walk's lock was spent exactly
    assert_books_balance(b, "100000", "1")


def test_defaults_keep_one_whole_fill_at_the_reference_price() -> None:
    b = book(MatchingConfig())
    order = b.place(req("BUY", "MARKET", qty="0.5"), T0, P)
    assert fills(b, order) == [(P, D("0.5"), False)]


def test_a_market_order_that_exhausts_the_levels_expires_with_what_it_got() -> None:
    b = book(dataclasses.replace(DEPTH, book_levels=2))
    order = b.place(req("SELL", "MARKET", qty="0.005"), T0, P)
    assert (order.status, order.executed_qty) == ("EXPIRED", D("0.002"))  # 0.001 at 50000, 0.001 at 49950
    assert [f[0] for f in fills(b, order)] == [D("50000"), D("49950")]
    assert b.balance("BTC") == (D("1") - D("0.002"), D(0))  # the unsold rest is free again
    assert_books_balance(b, "100000", "1")


def test_a_resting_limit_fills_one_level_per_price_update_and_is_partially_filled_meanwhile() -> None:
    b = book(DEPTH49)
    order = b.place(req("BUY", "LIMIT", qty="0.003", price="49000", time_in_force="GTC"), T0, P)
    assert b.balance("USDT") == (D("100000") - D("147"), D("147"))
    b.on_price("BTCUSDT", D("48900"), T0 + 1)
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", D("0.001"))
    b.on_price("BTCUSDT", D("48900"), T0 + 2)  # the same price again is no new trading
    assert order.executed_qty == D("0.001")
    b.on_price("BTCUSDT", D("48950"), T0 + 3)
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", D("0.002"))
    b.on_price("BTCUSDT", D("48990"), T0 + 4)
    assert order.status == "FILLED"
    assert fills(b, order) == [(D("49000"), D("0.001"), True)] * 3
    assert len(set(order.trade_ids)) == 3
    assert b.balance("USDT") == (D("100000") - D("147"), D(0))
    assert_books_balance(b, "100000", "1")


def test_a_marketable_limit_takes_the_levels_within_its_price_then_rests_the_rest() -> None:
    b = book()
    order = b.place(req("BUY", "LIMIT", qty="0.005", price="50060", time_in_force="GTC"), T0, P)
    assert fills(b, order) == [(D("50000"), D("0.001"), False), (D("50050"), D("0.00099"), False)]
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", D("0.00199"))
    assert b.balance("USDT")[1] == D("0.00301") * D("50060")  # the resting rest keeps its lock
    b.cancel("BTCUSDT", T0 + 1, order_id=order.order_id)
    assert order.status == "CANCELED" and b.balance("USDT")[1] == 0
    assert_books_balance(b, "100000", "1")


def test_ioc_takes_what_the_levels_within_its_price_hold_and_fok_fills_whole_or_not_at_all() -> None:
    b = book()
    ioc = b.place(req("SELL", "LIMIT", qty="0.005", price="49950", time_in_force="IOC", cid="ioc"), T0, P)
    assert (ioc.status, ioc.executed_qty) == ("EXPIRED", D("0.002"))  # 0.001 at 50000, 0.001 at 49950
    fok = b.place(req("SELL", "LIMIT", qty="0.005", price="49950", time_in_force="FOK", cid="fok"), T0, P)
    assert (fok.status, fok.executed_qty, fok.trade_ids) == ("EXPIRED", D(0), [])
    whole = b.place(req("SELL", "LIMIT", qty="0.002", price="49950", time_in_force="FOK", cid="fok2"), T0, P)
    assert (whole.status, len(whole.trade_ids)) == ("FILLED", 2)
    assert b.balance("BTC")[1] == 0
    assert_books_balance(b, "100000", "1")


def test_quote_order_qty_spends_its_quote_across_the_levels() -> None:
    b = book()
    order = b.place(req("BUY", "MARKET", qty=None, quote_order_qty="120"), T0, P)
    # 50 USDT buys 0.001 at 50000, 49.5495 buys 0.00099 at 50050, the last 20.4505 buys 0.0004 at 50100
    assert fills(b, order) == [
        (D("50000"), D("0.001"), False),
        (D("50050"), D("0.00099"), False),
        (D("50100"), D("0.0004"), False),
    ]
    assert order.status == "FILLED" and order.cummulative_quote_qty <= D("120")


def test_an_oco_leg_that_starts_filling_expires_its_sibling() -> None:
    b = book(btc="0.003")
    legs = [
        req("SELL", "STOP_LOSS_LIMIT", "0.003", "sl", stop_price="48000", price="47900", time_in_force="GTC"),
        req("SELL", "LIMIT_MAKER", "0.003", "tp", price="51000"),
    ]
    order_list = b.place_oco(legs, "list", T0, P)
    sl, tp = b.list_orders(order_list)
    b.on_price("BTCUSDT", D("51100"), T0 + 1)
    assert (tp.status, tp.executed_qty, sl.status) == ("PARTIALLY_FILLED", D("0.00098"), "EXPIRED")
    assert order_list.list_order_status == "EXECUTING"
    for i, price in enumerate(("51050", "51100", "51200"), start=2):
        b.on_price("BTCUSDT", D(price), T0 + i)
    assert (tp.status, order_list.list_order_status) == ("FILLED", "ALL_DONE")
    assert b.balance("BTC") == (D(0), D(0))
    assert_books_balance(b, "100000", "0.003")


def test_config_and_a_partial_order_survive_the_state_round_trip() -> None:
    b = book(DEPTH49)
    b.place(req("BUY", "LIMIT", qty="0.003", price="49000", time_in_force="GTC", cid="rest"), T0, P)
    b.on_price("BTCUSDT", D("48900"), T0 + 1)
    restored = Book.from_dict(json.loads(json.dumps(b.to_dict())), RULES)
    assert restored.config == DEPTH49 and restored.to_dict() == b.to_dict()
    restored.on_price("BTCUSDT", D("48900"), T0 + 2)  # the price it already saw
    assert restored.get("BTCUSDT", client_order_id="rest").executed_qty == D("0.001")
    restored.on_price("BTCUSDT", D("48800"), T0 + 3)
    assert restored.get("BTCUSDT", client_order_id="rest").executed_qty == D("0.002")


# ---- trailing stops ------------------------------------------------------------------------------
def trailing(side: str, otype: str, delta: int, cid: str = "trail", **kw: str) -> OrderRequest:
    fields: dict[str, object] = {k: D(v) if k != "time_in_force" else v for k, v in kw.items()}
    return OrderRequest(
        symbol="BTCUSDT",
        side=Side(side),
        type=BinanceOrderType(otype),
        quantity=D("0.001"),
        trailing_delta=delta,
        new_client_order_id=cid,
        **fields,  # type: ignore[arg-type]
    )


# (order, prices after placement at 40000 with the status after each), as the FAQ walks them.
FAQ_SCENARIOS = {
    "A stop-loss-limit buy": (
        trailing("BUY", "STOP_LOSS_LIMIT", 500, stop_price="44000", price="45000", time_in_force="GTC"),
        [("37000", "NEW"), ("44000", "NEW"), ("45000", "NEW"), ("46000", "NEW"), ("42000", "NEW"),
         ("44099.99", "NEW"), ("44100", "FILLED")],
    ),
    "B stop-loss-limit sell": (
        trailing("SELL", "STOP_LOSS_LIMIT", 1000, stop_price="39000", price="38000", time_in_force="GTC"),
        [("41500", "NEW"), ("39000", "NEW"), ("37000", "NEW"), ("41000", "NEW"), ("36900.01", "NEW"),
         ("36900", "NEW"), ("38000", "FILLED")],  # triggered at 36900, its limit 38000 then rests
    ),
    "C take-profit-limit buy": (
        trailing("BUY", "TAKE_PROFIT_LIMIT", 850, stop_price="38000", price="38500", time_in_force="GTC"),
        [("42000", "NEW"), ("38000", "NEW"), ("37000", "NEW"), ("39000", "NEW"), ("38000", "NEW"),
         ("40144.99", "NEW"), ("40145", "NEW"), ("38500", "FILLED")],
    ),
    "D take-profit-limit sell": (
        trailing("SELL", "TAKE_PROFIT_LIMIT", 750, stop_price="42000", price="41000", time_in_force="GTC"),
        [("41500", "NEW"), ("39000", "NEW"), ("42000", "NEW"), ("45000", "NEW"), ("44000", "NEW"),
         ("46500", "NEW"), ("43012.51", "NEW"), ("43012.50", "FILLED")],
    ),
    "E stop-loss-limit sell without stopPrice": (
        trailing("SELL", "STOP_LOSS_LIMIT", 700, price="39000", time_in_force="GTC"),
        [("42000", "NEW"), ("39500", "NEW"), ("45500", "NEW"), ("42315.01", "NEW"), ("42315", "FILLED")],
    ),
}  # fmt: skip
# The price at which each scenario triggers (the FAQ's numbers) and when it starts tracking.
TRIGGERS = {"A": ("44100", 2), "B": ("36900", 2), "C": ("40145", 2), "D": ("43012.50", 3), "E": ("42315", 0)}


@pytest.mark.parametrize("name", list(FAQ_SCENARIOS))
def test_binance_trailing_stop_faq_scenarios(name: str) -> None:
    request, path = FAQ_SCENARIOS[name]
    b = book(MatchingConfig())
    order = b.place(request, T0, D("40000"))
    trigger, tracking_from = TRIGGERS[name[0]]
    fired_at = [p for p, _ in path].index(trigger) + 1
    assert order.trailing_time_ms == (T0 if tracking_from == 0 else -1)
    for i, (price, status) in enumerate(path, start=1):
        b.on_price("BTCUSDT", D(price), T0 + i)
        assert (price, order.status, order.triggered) == (price, status, i >= fired_at)
        tracking_since = T0 + tracking_from if i >= tracking_from else -1
        assert (price, order.trailing_time_ms) == (price, tracking_since)
    assert order.triggered and order.status == "FILLED"


def test_a_trailing_stop_loss_without_stop_price_sells_at_market_on_the_delta_from_the_high() -> None:
    b = book(MatchingConfig())
    order = b.place(trailing("SELL", "STOP_LOSS", 100), T0, P)
    assert order.trailing_time_ms == T0 and b.balance("BTC")[1] == D("0.001")
    for i, price in enumerate(("50500", "52000", "51481"), start=1):
        b.on_price("BTCUSDT", D(price), T0 + i)
        assert order.status == "NEW", price
    b.on_price("BTCUSDT", D("51480"), T0 + 9)  # 1 % under the high of 52000
    assert order.status == "FILLED" and fills(b, order) == [(D("51480"), D("0.001"), False)]


def test_a_trailing_buy_locks_for_the_price_it_may_trigger_at() -> None:
    b = book(MatchingConfig(), usdt="1000", btc="0")
    b.place(trailing("BUY", "STOP_LOSS", 200), T0, P)
    assert b.balance("USDT")[1] == D("51000") * D("0.001")  # 2 % above 50000
    b.on_price("BTCUSDT", D("49000"), T0 + 1)
    b.on_price("BTCUSDT", D("49980"), T0 + 2)  # 2 % above the low of 49000
    assert b.get("BTCUSDT", client_order_id="trail").status == "FILLED"
    assert b.balance("USDT") == (D("1000") - D("49.98"), D(0))


def test_a_trailing_stop_leg_of_an_oco_triggers_and_expires_the_take_profit() -> None:
    b = book(MatchingConfig(), btc="0.001")
    stop = trailing("SELL", "STOP_LOSS", 300, cid="sl", stop_price="49000")
    tp = req("SELL", "LIMIT_MAKER", "0.001", "tp", price="56000")
    order_list = b.place_oco([stop, tp], "list", T0, P)
    sl, take = b.list_orders(order_list)
    b.on_price("BTCUSDT", D("48000"), T0 + 1)  # activates: tracking from 48000
    b.on_price("BTCUSDT", D("55000"), T0 + 2)  # a new high
    assert sl.status == "NEW" and sl.trailing_extreme == D("55000")
    b.on_price("BTCUSDT", D("53350"), T0 + 3)  # 3 % under 55000
    assert (sl.status, take.status) == ("FILLED", "EXPIRED")


def test_a_tracking_trailing_stop_survives_the_state_round_trip() -> None:
    b = book(MatchingConfig())
    b.place(trailing("SELL", "STOP_LOSS", 100), T0, P)
    b.on_price("BTCUSDT", D("52000"), T0 + 1)
    restored = Book.from_dict(json.loads(json.dumps(b.to_dict())), RULES)
    order = restored.get("BTCUSDT", client_order_id="trail")
    assert (order.trailing_delta, order.trailing_time_ms, order.trailing_extreme) == (100, T0, D("52000"))
    restored.on_price("BTCUSDT", D("51480"), T0 + 2)
    assert order.status == "FILLED"


def refusal(b: Book, order: OrderRequest) -> tuple[int, str]:
    with pytest.raises(MatchingError) as info:
        b.place(order, T0, P)
    return info.value.code, info.value.message


def test_the_trailing_delta_filter_bounds_each_side_with_binances_error() -> None:
    bounds = TrailingDelta(min_above=10, max_above=500, min_below=20, max_below=2000)
    rules = {"BTCUSDT": dataclasses.replace(RULES["BTCUSDT"], trailing_delta=bounds)}
    b = book(MatchingConfig(), rules=rules)
    failure = (-1013, "Filter failure: TRAILING_DELTA")
    # above: STOP_LOSS BUY and TAKE_PROFIT SELL; below: STOP_LOSS SELL and TAKE_PROFIT BUY
    assert refusal(b, trailing("BUY", "STOP_LOSS", 600)) == failure
    assert refusal(b, trailing("SELL", "TAKE_PROFIT", 600)) == failure
    assert b.place(trailing("SELL", "STOP_LOSS", 600, cid="ok1"), T0, P).status == "NEW"
    assert refusal(b, trailing("BUY", "TAKE_PROFIT", 15)) == failure
    assert b.place(trailing("BUY", "STOP_LOSS", 15, cid="ok2"), T0, P).status == "NEW"
    assert refusal(b, trailing("SELL", "STOP_LOSS", 2001)) == failure
    assert refusal(b, trailing("SELL", "STOP_LOSS", 0)) == failure


def test_trailing_delta_is_refused_where_binance_refuses_it() -> None:
    b = book(MatchingConfig())
    limit = trailing("BUY", "LIMIT", 100, price="49000", time_in_force="GTC")
    assert refusal(b, limit) == (-1106, "Parameter 'trailingDelta' sent when not required.")
    # the activation price may not be met already, as any stop's trigger
    assert refusal(b, trailing("SELL", "STOP_LOSS", 100, stop_price="50100")) == (
        -2010,
        "Stop price would trigger immediately.",
    )
    # neither stopPrice nor trailingDelta: the stop is still missing its price
    code, _ = refusal(b, req("SELL", "STOP_LOSS"))
    assert code == -1102


def test_to_binance_sends_trailing_delta() -> None:
    params = trailing("SELL", "STOP_LOSS", 250).to_binance()
    assert params["trailingDelta"] == "250" and "stopPrice" not in params
    assert "trailingDelta" not in req("SELL", "STOP_LOSS", stop_price="49000").to_binance()
