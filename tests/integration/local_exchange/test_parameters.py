"""How the local exchange reads parameters and answers errors, byte for byte as sent (rest-api.md, errors.md)."""

from __future__ import annotations

import socket
import time
import urllib.parse
from typing import Any

import pytest

from tests.integration.local_exchange.conftest import call, sign, signed, signed_query

pytestmark = pytest.mark.integration

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize("path", ["/api/v3/ticker/price", "/api/v3/ticker/bookTicker", "/api/v3/ticker/24hr"])
@pytest.mark.parametrize("symbols", ['["ETHUSDT","BTCUSDT"]', urllib.parse.quote('["ETHUSDT","BTCUSDT"]')])
def test_tickers_take_a_symbols_list(url: str, path: str, symbols: str) -> None:
    reply = call(url, "GET", path, f"symbols={symbols}")
    assert reply.status == 200, reply.body
    assert [t["symbol"] for t in reply.body] == ["ETHUSDT", "BTCUSDT"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('symbols=["BTCUSDT","NOPE"]', -1121),
        ('symbols=["BTCUSDT","BTCUSDT"]', -1151),
        ('symbol=BTCUSDT&symbols=["ETHUSDT"]', -1128),
        ("symbols=BTCUSDT", -1100),
    ],
)
def test_a_bad_symbols_list_is_refused(url: str, query: str, code: int) -> None:
    reply = call(url, "GET", "/api/v3/ticker/price", query)
    assert (reply.status, reply.body["code"]) == (400, code)


def test_my_trades_from_an_id(url: str) -> None:
    ids = [signed(url, "POST", "/api/v3/order", **MARKET_BUY).body["fills"][0]["tradeId"] for _ in range(3)]
    later = signed(url, "GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=ids[1]).body
    assert [t["id"] for t in later] == ids[1:]
    assert [t["id"] for t in signed(url, "GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=ids[1], limit=1).body] == [
        ids[1]
    ]
    both = signed(url, "GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=ids[0], startTime=now_ms() - 1000)
    assert (both.status, both.body["code"]) == (400, -1128)


def test_an_order_id_with_another_orders_client_id_is_refused(url: str) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    first = signed(url, "POST", "/api/v3/order", **order, price="49000", newClientOrderId="mine-1").body
    signed(url, "POST", "/api/v3/order", **order, price="48000", newClientOrderId="mine-2")
    query = signed(url, "GET", "/api/v3/order", symbol="BTCUSDT", orderId=first["orderId"], origClientOrderId="mine-2")
    assert (query.status, query.body) == (
        400,
        {"code": -2039, "msg": "Client order ID is not correct for this order ID."},
    )
    cancel = signed(
        url, "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=first["orderId"], origClientOrderId="mine-2"
    )
    assert (cancel.status, cancel.body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    assert len(signed(url, "GET", "/api/v3/openOrders", symbol="BTCUSDT").body) == 2
    agreed = signed(url, "GET", "/api/v3/order", symbol="BTCUSDT", orderId=first["orderId"], origClientOrderId="mine-1")
    assert agreed.body["clientOrderId"] == "mine-1"


def test_timestamps_in_microseconds(url: str) -> None:
    fresh = call(url, "GET", "/api/v3/account", signed_query(timestamp=now_ms() * 1000))
    assert fresh.status == 200, fresh.body
    stale = call(url, "GET", "/api/v3/account", signed_query(timestamp=(now_ms() - 6000) * 1000))
    assert (stale.status, stale.body["code"]) == (400, -1021)
    ahead = call(url, "GET", "/api/v3/account", signed_query(timestamp=(now_ms() + 5000) * 1000))
    assert ahead.body["code"] == -1021


@pytest.mark.parametrize(
    ("window", "status", "code"),
    [("5000.5", 200, None), ("60000", 200, None), ("60000.001", 400, -1131), ("1.2345", 400, -1100), ("x", 400, -1100)],
)
def test_recv_window_takes_three_decimals_up_to_60000(url: str, window: str, status: int, code: int | None) -> None:
    reply = signed(url, "GET", "/api/v3/account", recvWindow=window)
    assert reply.status == status, reply.body
    assert reply.body.get("code") == code


def test_a_decimal_recv_window_is_a_window_in_milliseconds(url: str) -> None:
    old = now_ms() - 800
    reply = call(url, "GET", "/api/v3/account", signed_query({"recvWindow": "0.5"}, timestamp=old))
    assert reply.body["code"] == -1021
    assert call(url, "GET", "/api/v3/account", signed_query({"recvWindow": "1500.25"}, timestamp=old)).status == 200


def test_the_signature_is_not_case_sensitive(url: str) -> None:
    query = urllib.parse.urlencode({"timestamp": now_ms()})
    assert call(url, "GET", "/api/v3/account", f"{query}&signature={sign(query).upper()}").status == 200
    wrong = call(url, "GET", "/api/v3/account", f"{query}&signature={sign(query + '0').upper()}")
    assert wrong.body["code"] == -1022


def test_a_parameter_in_query_and_body_takes_the_query_value(url: str) -> None:
    query = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001"
    body = f"quantity=0.002&newClientOrderId=both-1&timestamp={now_ms()}"
    reply = call(url, "POST", "/api/v3/order", query, f"{body}&signature={sign(query + body)}")
    assert reply.status == 200, reply.body
    assert (reply.body["clientOrderId"], reply.body["executedQty"]) == ("both-1", "0.00100000")


def test_a_parameter_sent_twice_is_refused(url: str) -> None:
    query = f"symbol=BTCUSDT&symbol=ETHUSDT&timestamp={now_ms()}"
    reply = call(url, "GET", "/api/v3/openOrders", f"{query}&signature={sign(query)}")
    assert (reply.status, reply.body) == (400, {"code": -1101, "msg": "Duplicate values for a parameter detected."})


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "1"},
            MANDATORY.format("timeInForce"),
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"},
            MANDATORY.format("price"),
        ),
        (
            {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.001"},
            MANDATORY.format("stopPrice"),
        ),
        ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": "1"}, MANDATORY.format("quantity")),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"},
            "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
        ),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.001"}, MANDATORY.format("symbol")),
        ({"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.001"}, MANDATORY.format("side")),
    ],
)
def test_a_missing_mandatory_parameter_gives_1102_with_binance_sentence(
    url: str, params: dict[str, Any], msg: str
) -> None:
    reply = signed(url, "POST", "/api/v3/order", **params)
    assert (reply.status, reply.body) == (400, {"code": -1102, "msg": msg})


def test_a_missing_oco_leg_parameter_names_the_leg(url: str) -> None:
    reply = signed(
        url,
        "POST",
        "/api/v3/orderList/oco",
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.001",
        aboveType="LIMIT_MAKER",
        belowType="STOP_LOSS",
        belowStopPrice="48000",
    )
    assert reply.body == {"code": -1102, "msg": MANDATORY.format("abovePrice")}
    no_timestamp = call(url, "GET", "/api/v3/account", f"signature={sign('')}")
    assert no_timestamp.body == {"code": -1102, "msg": MANDATORY.format("timestamp")}


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v3/nothing"), ("PUT", "/api/v3/order"), ("GET", "/")])
def test_an_unknown_path_or_method_answers_json(url: str, method: str, path: str) -> None:
    reply = call(url, method, path)
    assert reply.status == 404 and reply.body["code"] == -1000


def test_a_request_the_server_cannot_read_still_gets_an_answer(url: str) -> None:
    """A body the admin API chokes on, and a bare socket with a bogus Content-Length: JSON, never a hang-up."""
    reply = call(url, "POST", "/admin/price", body="[1, 2]")
    assert reply.status >= 400 and "code" in reply.body
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GET /api/v3/ping HTTP/1.0\r\nContent-Length: -5\r\n\r\n")
        answer = b"".join(iter(lambda: raw.recv(4096), b"")).decode()  # until the server closes
    assert answer.startswith("HTTP/1.0 200") and answer.endswith("{}")


def test_times_in_microseconds_on_request(url: str) -> None:
    server = call(url, "GET", "/api/v3/time", headers={"X-MBX-TIME-UNIT": "MICROSECOND"}).body["serverTime"]
    assert abs(server - now_ms() * 1000) < 5_000_000
    order = signed(url, "POST", "/api/v3/order", **MARKET_BUY)
    assert len(str(order.body["transactTime"])) == 13
    account = call(url, "GET", "/api/v3/account", signed_query(), headers={"X-MBX-TIME-UNIT": "microsecond"})
    assert len(str(account.body["updateTime"])) == 16
    assert call(url, "GET", "/api/v3/time", headers={"X-MBX-TIME-UNIT": "second"}).body["code"] == -1194


def test_a_time_range_over_24_hours_is_refused(url: str) -> None:
    start = now_ms() - 2 * 86_400_000
    reply = signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=start, endTime=now_ms())
    assert (reply.status, reply.body) == (
        400,
        {"code": -1127, "msg": "More than 24 hours between startTime and endTime."},
    )
    in_microseconds = signed(url, "GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=(now_ms() - 1000) * 1000)
    assert in_microseconds.status == 200
