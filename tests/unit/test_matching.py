"""The fill model, on the real 2026 exchangeInfo sample: what a trader sees in fills, fees and balances."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from tradeengine.exchange.matching import Book, MatchingConfig, MatchingError
from tradeengine.exchange_info import parse_exchange_info

from contracts.orders import BinanceOrderType, OrderRequest, Side

D = Decimal
RULES = parse_exchange_info(
    json.loads((Path(__file__).parents[1] / "fixtures" / "exchange_info_2026_sample.json").read_text())
)
P = D("50000")
T0 = 1_700_000_000_000


def book(usdt: str = "10000", btc: str = "0", **config: object) -> Book:
    return Book(RULES, MatchingConfig(**config), {"USDT": D(usdt), "BTC": D(btc)})  # type: ignore[arg-type]


def req(side: str, otype: str, qty: str | None = "0.001", cid: str = "c1", **kw: str) -> OrderRequest:
    fields = {k: D(v) if k != "time_in_force" else v for k, v in kw.items()}
    return OrderRequest(
        symbol="BTCUSDT",
        side=Side(side),
        type=BinanceOrderType(otype),
        quantity=D(qty) if qty is not None else None,
        new_client_order_id=cid,
        **fields,  # type: ignore[arg-type]
    )


def refused(fn: object, *args: object) -> MatchingError:
    with pytest.raises(MatchingError) as info:
        fn(*args, T0, P)  # type: ignore[operator]
    return info.value


def test_market_buy_fills_at_reference_and_pays_commission_in_base() -> None:
    b = book()
    order = b.place(req("BUY", "MARKET"), T0, P)
    assert (order.status, order.executed_qty, order.cummulative_quote_qty) == ("FILLED", D("0.001"), D("50"))
    (fill,) = b.fills_of(order)
    assert (fill.price, fill.commission, fill.commission_asset, fill.is_maker) == (P, D("0.000001"), "BTC", False)
    assert b.balance("USDT") == (D("9950"), D(0))
    assert b.balance("BTC") == (D("0.000999"), D(0))


def test_market_sell_pays_commission_in_quote_and_slippage_moves_against_trader() -> None:
    b = book(btc="1", slippage_bps=D("10"))
    order = b.place(req("SELL", "MARKET"), T0, P)
    (fill,) = b.fills_of(order)
    assert fill.price == D("49950")  # 10 bps below
    assert (fill.commission, fill.commission_asset) == (D("0.04995"), "USDT")
    assert b.balance("USDT")[0] == D("10000") + D("49.95") - D("0.04995")
    buy = b.place(req("BUY", "MARKET", cid="c2"), T0, P)
    assert b.fills_of(buy)[0].price == D("50050")


def test_buy_commission_can_be_charged_in_quote() -> None:
    b = book(buy_commission_in="quote")
    order = b.place(req("BUY", "MARKET"), T0, P)
    assert b.fills_of(order)[0].commission_asset == "USDT"
    assert b.balance("BTC")[0] == D("0.001")
    assert b.balance("USDT")[0] == D("10000") - D("50") - D("0.05")


def test_quote_order_qty_buys_the_whole_steps_it_can_afford() -> None:
    b = book()
    order = b.place(req("BUY", "MARKET", qty=None, quote_order_qty="100.004"), T0, P)
    assert (order.orig_qty, order.executed_qty, order.cummulative_quote_qty) == (D("0.002"), D("0.002"), D("100"))


def test_limit_rests_locks_funds_and_fills_as_maker_when_price_crosses() -> None:
    b = book()
    order = b.place(req("BUY", "LIMIT", price="49000", time_in_force="GTC"), T0, P)
    assert order.status == "NEW"
    assert b.balance("USDT") == (D("9951"), D("49"))
    b.on_price("BTCUSDT", D("49500"), T0 + 1)
    assert order.status == "NEW"
    b.on_price("BTCUSDT", D("48990"), T0 + 2)
    assert order.status == "FILLED"
    (fill,) = b.fills_of(order)
    assert (fill.price, fill.is_maker) == (D("49000"), True)
    assert b.balance("USDT") == (D("9951"), D(0))


def test_marketable_limit_takes_at_the_better_price() -> None:
    b = book()
    order = b.place(req("BUY", "LIMIT", price="51000", time_in_force="GTC"), T0, P)
    assert order.status == "FILLED" and b.fills_of(order)[0].price == P
    assert b.balance("USDT") == (D("9950"), D(0))  # the unused part of the lock comes back


def test_limit_maker_that_would_take_is_refused() -> None:
    err = refused(book().place, req("BUY", "LIMIT_MAKER", price="50001"))
    assert (err.code, err.message) == (-2010, "Order would immediately match and take.")


def test_ioc_that_cannot_fill_expires_and_releases_its_lock() -> None:
    b = book()
    order = b.place(req("BUY", "LIMIT", price="49000", time_in_force="IOC"), T0, P)
    assert order.status == "EXPIRED" and b.balance("USDT") == (D("10000"), D(0))


def test_stop_on_the_wrong_side_is_refused_and_a_real_stop_triggers_at_market() -> None:
    b = book(btc="1")
    err = refused(b.place, req("SELL", "STOP_LOSS", stop_price="50100"))
    assert (err.code, err.message) == (-2010, "Stop price would trigger immediately.")
    stop = b.place(req("SELL", "STOP_LOSS", stop_price="49000"), T0, P)
    assert stop.status == "NEW" and b.balance("BTC") == (D("0.999"), D("0.001"))
    b.on_price("BTCUSDT", D("48800"), T0 + 5)
    assert stop.status == "FILLED" and b.fills_of(stop)[0].price == D("48800")


def test_stop_limit_triggers_then_rests_until_its_limit() -> None:
    b = book(btc="1")
    order = b.place(req("SELL", "STOP_LOSS_LIMIT", stop_price="49000", price="49100", time_in_force="GTC"), T0, P)
    b.on_price("BTCUSDT", D("48950"), T0 + 1)
    assert order.status == "NEW" and order.working_time_ms == T0 + 1
    b.on_price("BTCUSDT", D("49200"), T0 + 2)
    assert order.status == "FILLED" and b.fills_of(order)[0].price == D("49100")


def test_take_profit_triggers_when_price_rises() -> None:
    b = book(btc="1")
    order = b.place(req("SELL", "TAKE_PROFIT", stop_price="52000"), T0, P)
    b.on_price("BTCUSDT", D("52500"), T0 + 1)
    assert order.status == "FILLED"


def test_exchange_checks_with_binance_codes() -> None:
    b = book(usdt="10")
    assert refused(b.place, req("BUY", "MARKET", qty="0.0010001")).code == -1013
    assert refused(b.place, req("BUY", "MARKET", qty="0.0010001")).message == "Filter failure: LOT_SIZE"
    assert refused(b.place, req("BUY", "MARKET", qty="0.00001")).message == "Filter failure: NOTIONAL"
    err = refused(b.place, req("BUY", "MARKET"))
    assert (err.code, err.message) == (-2010, "Account has insufficient balance for requested action.")


def test_duplicate_client_order_id_is_refused_only_while_the_first_is_open() -> None:
    b = book()
    first = b.place(req("BUY", "LIMIT", price="49000", time_in_force="GTC", cid="same"), T0, P)
    err = refused(b.place, req("BUY", "LIMIT", price="49000", time_in_force="GTC", cid="same"))
    assert (err.code, err.message) == (-2010, "Duplicate order sent.")
    b.cancel("BTCUSDT", T0, client_order_id="same")
    assert first.status == "CANCELED" and b.balance("USDT") == (D("10000"), D(0))
    again = b.place(req("BUY", "LIMIT", price="49000", time_in_force="GTC", cid="same"), T0, P)
    assert b.get("BTCUSDT", client_order_id="same").order_id == again.order_id


def test_unknown_orders_on_cancel_and_query() -> None:
    b = book()
    with pytest.raises(MatchingError) as cancel:
        b.cancel("BTCUSDT", T0, order_id=42)
    assert (cancel.value.code, cancel.value.message) == (-2011, "Unknown order sent.")
    with pytest.raises(MatchingError) as query:
        b.get("BTCUSDT", client_order_id="nope")
    assert (query.value.code, query.value.message) == (-2013, "Order does not exist.")


def oco_legs(qty: str = "0.001") -> list[OrderRequest]:
    return [
        req("SELL", "STOP_LOSS_LIMIT", qty, "sl", stop_price="48000", price="47900", time_in_force="GTC"),
        req("SELL", "LIMIT_MAKER", qty, "tp", price="55000"),
    ]


def test_oco_locks_once_and_one_legs_fill_expires_the_other() -> None:
    b = book(btc="0.001")
    order_list = b.place_oco(oco_legs(), "list1", T0, P)
    sl, tp = b.list_orders(order_list)
    assert b.balance("BTC") == (D(0), D("0.001"))
    b.on_price("BTCUSDT", D("55100"), T0 + 1)
    assert (tp.status, sl.status) == ("FILLED", "EXPIRED")
    assert (order_list.list_status_type, order_list.list_order_status) == ("ALL_DONE", "ALL_DONE")
    assert b.balance("BTC") == (D(0), D(0))


def test_cancelling_one_oco_leg_cancels_the_list() -> None:
    b = book(btc="0.001")
    order_list = b.place_oco(oco_legs(), "list1", T0, P)
    b.cancel("BTCUSDT", T0, client_order_id="tp")
    assert [o.status for o in b.list_orders(order_list)] == ["CANCELED", "CANCELED"]
    assert b.balance("BTC") == (D("0.001"), D(0))


def test_otoco_activates_its_pair_when_the_entry_fills() -> None:
    b = book()
    entry = req("BUY", "LIMIT", "0.001", "entry", price="49000", time_in_force="GTC")
    order_list = b.place_otoco(entry, oco_legs("0.00099"), "otoco", T0, P)
    working, sl, tp = b.list_orders(order_list)
    assert (working.status, sl.status, tp.status) == ("NEW", "PENDING_NEW", "PENDING_NEW")
    b.on_price("BTCUSDT", D("48990"), T0 + 1)
    assert (working.status, sl.status, tp.status) == ("FILLED", "NEW", "NEW")
    assert b.balance("BTC") == (D("0.000009"), D("0.00099"))
    b.on_price("BTCUSDT", D("47950"), T0 + 2)  # stop triggers, its limit 47900 is marketable at once
    assert (sl.status, tp.status, order_list.list_order_status) == ("FILLED", "EXPIRED", "ALL_DONE")
    assert b.fills_of(sl)[0].price == D("47950")
    assert b.balance("BTC") == (D("0.000009"), D(0))


def test_otoco_pair_sized_on_the_gross_quantity_expires_for_lack_of_funds() -> None:
    b = book()
    entry = req("BUY", "LIMIT", "0.001", "entry", price="50500", time_in_force="GTC")
    order_list = b.place_otoco(entry, oco_legs("0.001"), "otoco", T0, P)
    working, sl, tp = b.list_orders(order_list)
    assert working.status == "FILLED"  # marketable entry, and the commission came out of the BTC received
    assert (sl.status, tp.status) == ("EXPIRED", "EXPIRED")


def test_state_round_trips_through_json_and_keeps_working() -> None:
    b = book(btc="0.001")
    b.place(req("BUY", "LIMIT", price="49000", time_in_force="GTC", cid="rest"), T0, P)
    b.place_oco(oco_legs(), "list1", T0, P)
    state = json.loads(json.dumps(b.to_dict()))
    assert not re.search(r'"-?[0-9.]+[eE][-+]?[0-9]+"', json.dumps(state))  # no scientific notation
    restored = Book.from_dict(state, RULES)
    assert restored.to_dict() == b.to_dict()
    restored.on_price("BTCUSDT", D("48000.5"), T0 + 1)
    assert restored.get("BTCUSDT", client_order_id="rest").status == "FILLED"
    assert restored.get("BTCUSDT", client_order_id="sl").status == "NEW"
    restored.on_price("BTCUSDT", D("47000"), T0 + 2)  # a gap: the stop triggers, its limit 47900 is not reached
    assert restored.get("BTCUSDT", client_order_id="sl").status == "NEW"
    restored.on_price("BTCUSDT", D("47900"), T0 + 3)
    assert restored.get("BTCUSDT", client_order_id="tp").status == "EXPIRED"
