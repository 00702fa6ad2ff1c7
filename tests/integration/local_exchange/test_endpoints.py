"""The documented endpoints beyond placing one order, over raw HTTP: what any Binance client may call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.local_exchange.conftest import admin, call, signed

pytestmark = pytest.mark.integration

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
EXIT = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.001",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "52000",
    "belowType": "STOP_LOSS",
    "belowStopPrice": "48000",
}


def place(url: str, **params: Any) -> dict[str, Any]:
    reply = signed(url, "POST", "/api/v3/order", **params)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def oco(url: str, list_id: str) -> dict[str, Any]:
    reply = signed(url, "POST", "/api/v3/orderList/oco", **EXIT, listClientOrderId=list_id)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def test_all_orders_lists_open_filled_and_canceled_orders_oldest_first(url: str) -> None:
    first = place(url, **LIMIT, price="49000", newClientOrderId="a-1")
    place(url, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="a-2")
    third = place(url, **LIMIT, price="48000", newClientOrderId="a-3")
    signed(url, "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=third["orderId"])
    everything = signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT").body
    assert [(o["clientOrderId"], o["status"]) for o in everything] == [
        ("a-1", "NEW"),
        ("a-2", "FILLED"),
        ("a-3", "CANCELED"),
    ]
    from_second = signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT", orderId=first["orderId"] + 1).body
    assert [o["clientOrderId"] for o in from_second] == ["a-2", "a-3"]
    latest = signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT", limit=1).body
    assert [o["clientOrderId"] for o in latest] == ["a-3"]
    assert signed(url, "GET", "/api/v3/allOrders", symbol="ETHUSDT").body == []


def test_cancelling_all_open_orders_cancels_singles_and_whole_lists(url: str) -> None:
    single = place(url, **LIMIT, price="49000", newClientOrderId="open-1")
    listed = oco(url, "exit-all")
    reply = signed(url, "DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert reply.status == 200, reply.body
    cancelled, order_list = reply.body
    assert (cancelled["origClientOrderId"], cancelled["orderId"], cancelled["status"]) == (
        "open-1",
        single["orderId"],
        "CANCELED",
    )
    assert (order_list["orderListId"], order_list["listOrderStatus"]) == (listed["orderListId"], "ALL_DONE")
    assert [r["status"] for r in order_list["orderReports"]] == ["CANCELED", "CANCELED"]
    assert signed(url, "GET", "/api/v3/openOrders", symbol="BTCUSDT").body == []
    again = signed(url, "DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert (again.status, again.body["code"]) == (400, -2011)


def test_cancelling_an_order_list_by_either_id(url: str) -> None:
    listed = oco(url, "exit-1")
    wrong = signed(
        url,
        "DELETE",
        "/api/v3/orderList",
        symbol="BTCUSDT",
        orderListId=listed["orderListId"],
        listClientOrderId="someone-else",
    )
    assert (wrong.status, wrong.body["code"]) == (400, -2011)
    reply = signed(url, "DELETE", "/api/v3/orderList", symbol="BTCUSDT", listClientOrderId="exit-1")
    assert reply.status == 200, reply.body
    assert (reply.body["listStatusType"], reply.body["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert [r["origClientOrderId"] for r in reply.body["orderReports"]] == [
        o["clientOrderId"] for o in listed["orders"]
    ]
    assert [r["status"] for r in reply.body["orderReports"]] == ["CANCELED", "CANCELED"]
    none = signed(url, "DELETE", "/api/v3/orderList", symbol="BTCUSDT")
    assert none.body == {
        "code": -1102,
        "msg": "Param 'orderListId' or 'listClientOrderId' must be sent, but both were empty/null!",
    }
    done = signed(url, "DELETE", "/api/v3/orderList", symbol="BTCUSDT", orderListId=listed["orderListId"])
    assert (done.status, done.body["code"]) == (400, -2011)


def test_open_and_all_order_lists(url: str) -> None:
    first = oco(url, "list-1")
    second = oco(url, "list-2")
    signed(url, "DELETE", "/api/v3/orderList", symbol="BTCUSDT", orderListId=first["orderListId"])
    opened = signed(url, "GET", "/api/v3/openOrderList").body
    assert [lst["listClientOrderId"] for lst in opened] == ["list-2"]
    everything = signed(url, "GET", "/api/v3/allOrderList").body
    assert [(lst["listClientOrderId"], lst["listOrderStatus"]) for lst in everything] == [
        ("list-1", "ALL_DONE"),
        ("list-2", "EXECUTING"),
    ]
    later = signed(url, "GET", "/api/v3/allOrderList", fromId=second["orderListId"]).body
    assert [lst["listClientOrderId"] for lst in later] == ["list-2"]


def test_the_deprecated_oco_endpoint_places_a_stop_and_a_limit_maker(url: str) -> None:
    reply = signed(
        url,
        "POST",
        "/api/v3/order/oco",
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.001",
        price="52000",
        stopPrice="48000",
        stopLimitPrice="47900",
        stopLimitTimeInForce="GTC",
        listClientOrderId="legacy-1",
        limitClientOrderId="tp",
        stopClientOrderId="sl",
    )
    assert reply.status == 200, reply.body
    assert reply.body["contingencyType"] == "OCO"
    legs = [(r["clientOrderId"], r["type"], r.get("stopPrice"), r["price"]) for r in reply.body["orderReports"]]
    assert legs == [
        ("sl", "STOP_LOSS_LIMIT", "48000.00000000", "47900.00000000"),
        ("tp", "LIMIT_MAKER", None, "52000.00000000"),
    ]
    admin(url, "price", {"symbol": "BTCUSDT", "price": "47950"})
    statuses = {o["clientOrderId"]: o["status"] for o in signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT").body}
    assert statuses == {"sl": "FILLED", "tp": "EXPIRED"}
    missing = signed(
        url,
        "POST",
        "/api/v3/order/oco",
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.001",
        price="52000",
        stopPrice="48000",
        stopLimitPrice="47900",
    )
    assert missing.body == {
        "code": -1102,
        "msg": ("Mandatory parameter 'stopLimitTimeInForce' was not sent, was empty/null, or malformed."),
    }


def test_depth_and_book_ticker_show_where_a_market_order_fills(url: str) -> None:
    info = call(url, "GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT").body["symbols"][0]
    filters = {f["filterType"]: f for f in info["filters"]}
    biggest = min(Decimal(filters[f]["maxQty"]) for f in ("LOT_SIZE", "MARKET_LOT_SIZE"))
    book = call(url, "GET", "/api/v3/depth", "symbol=BTCUSDT&limit=5").body
    assert book["bids"] == book["asks"] == [["50000.00000000", format(biggest.quantize(Decimal("1E-8")), "f")]]
    assert isinstance(book["lastUpdateId"], int)
    ticker = call(url, "GET", "/api/v3/ticker/bookTicker", "symbol=BTCUSDT").body
    assert ticker == {
        "symbol": "BTCUSDT",
        "bidPrice": "50000.00000000",
        "bidQty": book["bids"][0][1],
        "askPrice": "50000.00000000",
        "askQty": book["asks"][0][1],
    }
    assert call(url, "GET", "/api/v3/depth", "symbol=NOPE").body["code"] == -1121


def test_ticker_24hr_follows_prices_and_the_account_trades(url: str) -> None:
    admin(url, "price", {"symbol": "BTCUSDT", "price": "51000"})
    admin(url, "price", {"symbol": "BTCUSDT", "price": "49000"})
    admin(url, "price", {"symbol": "BTCUSDT", "price": "50500"})
    fill = place(url, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002")["fills"][0]
    day = call(url, "GET", "/api/v3/ticker/24hr", "symbol=BTCUSDT").body
    assert Decimal(day["highPrice"]) >= Decimal(51000) and Decimal(day["lowPrice"]) <= Decimal(49000)
    assert (day["lastPrice"], day["volume"], day["quoteVolume"]) == ("50500.00000000", "0.00200000", "101.00000000")
    assert (day["count"], day["firstId"], day["lastId"]) == (1, fill["tradeId"], fill["tradeId"])
    assert Decimal(day["priceChange"]) == Decimal(day["lastPrice"]) - Decimal(day["openPrice"])
    assert day["closeTime"] - day["openTime"] == 86_400_000
    mini = call(url, "GET", "/api/v3/ticker/24hr", "symbol=BTCUSDT&type=MINI").body
    assert "priceChange" not in mini and mini["volume"] == "0.00200000"
    assert call(url, "GET", "/api/v3/ticker/24hr", "symbol=BTCUSDT&type=HUGE").body["code"] == -1139
    everything = call(url, "GET", "/api/v3/ticker/24hr").body
    assert "BTCUSDT" in {t["symbol"] for t in everything} and len(everything) > 1


def test_the_futures_and_margin_paths_a_client_loads_answer_as_a_spot_only_venue(url: str) -> None:
    for path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
        reply = call(url, "GET", path)
        assert (reply.status, reply.body["symbols"]) == (200, [])
    assert call(url, "GET", "/sapi/v1/margin/allPairs").body == []
    assert signed(url, "GET", "/sapi/v1/margin/isolated/allPairs").body == []
    coins = {c["coin"]: c for c in signed(url, "GET", "/sapi/v1/capital/config/getall").body}
    assert (coins["BTC"]["free"], coins["BTC"]["withdrawAllEnable"], coins["BTC"]["networkList"]) == (
        "1.00000000",
        False,
        [],
    )
    assert call(url, "GET", "/sapi/v1/capital/config/getall").body["code"] == -1102  # signed: no signature


def test_account_can_omit_zero_balances(url: str) -> None:
    place(url, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1")
    assets = {b["asset"] for b in signed(url, "GET", "/api/v3/account", omitZeroBalances="true").body["balances"]}
    every = {b["asset"] for b in signed(url, "GET", "/api/v3/account").body["balances"]}
    assert "BTC" in every and "BTC" not in assets and "USDT" in assets


def test_rate_limit_order_counts_what_was_placed(url: str) -> None:
    place(url, **LIMIT, price="49000")
    oco(url, "counted")
    counts = signed(url, "GET", "/api/v3/rateLimit/order").body
    assert [(c["rateLimitType"], c["interval"], c["intervalNum"]) for c in counts] == [
        ("ORDERS", "SECOND", 10),
        ("ORDERS", "DAY", 1),
    ]
    assert counts[1]["count"] == 3 and counts[0]["count"] <= 3  # an OCO counts 2; the 10 s window may have rolled
