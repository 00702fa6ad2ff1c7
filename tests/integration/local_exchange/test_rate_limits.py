"""The venue's rateLimits: weights per endpoint, 429 with Retry-After, then a growing 418 ban, order counts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.local_exchange.conftest import admin, call, limits, running_exchange, signed

pytestmark = pytest.mark.integration

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
EXIT = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.001",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "52000",
    "belowType": "STOP_LOSS",
    "belowStopPrice": "48000",
}


def weight_per_day(limit: int) -> dict[str, Any]:
    """A weight limit whose interval cannot end in the middle of a test."""
    return {"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": limit}


def orders_per(seconds: int, limit: int) -> dict[str, Any]:
    return {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": seconds, "limit": limit}


def inside_window(seconds: int, margin: float = 1.5) -> None:
    """Wait until the current fixed interval of ``seconds`` has at least ``margin`` seconds left."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.05)


@pytest.mark.parametrize(
    ("path", "query", "weight"),
    [
        ("/api/v3/ping", "", 1),
        ("/api/v3/exchangeInfo", "", 20),
        ("/api/v3/ticker/price", "symbol=BTCUSDT", 2),
        ("/api/v3/ticker/price", "", 4),
        ("/api/v3/ticker/price", 'symbols=["BTCUSDT"]', 4),
        ("/api/v3/ticker/bookTicker", "symbol=BTCUSDT", 2),
        ("/api/v3/ticker/bookTicker", "", 4),
        ("/api/v3/ticker/24hr", "symbol=BTCUSDT", 2),
        ("/api/v3/ticker/24hr", 'symbols=["BTCUSDT","ETHUSDT"]', 2),
        ("/api/v3/ticker/24hr", "", 80),
        ("/api/v3/depth", "symbol=BTCUSDT", 5),
        ("/api/v3/depth", "symbol=BTCUSDT&limit=500", 25),
        ("/api/v3/depth", "symbol=BTCUSDT&limit=1000", 50),
        ("/api/v3/depth", "symbol=BTCUSDT&limit=5000", 250),
        ("/api/v3/avgPrice", "symbol=BTCUSDT", 2),
    ],
)
def test_public_endpoints_weigh_what_binance_documents(url: str, path: str, query: str, weight: int) -> None:
    limits(url)  # clears the counts: the answer's header is this request's own weight
    reply = call(url, "GET", path, query)
    assert reply.status == 200, reply.body
    assert reply.headers["X-MBX-USED-WEIGHT-1M"] == str(weight)


@pytest.mark.parametrize(
    ("method", "path", "params", "weight"),
    [
        ("GET", "/api/v3/account", {}, 20),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
        ("GET", "/api/v3/openOrders", {}, 80),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": 1}, 5),
        ("GET", "/api/v3/openOrderList", {}, 6),
        ("GET", "/api/v3/allOrderList", {}, 20),
        ("GET", "/api/v3/rateLimit/order", {}, 40),
        ("POST", "/api/v3/order/test", {**ORDER, "price": "49000"}, 1),
        ("POST", "/api/v3/order/test", {**ORDER, "price": "49000", "computeCommissionRates": "true"}, 20),
        ("POST", "/api/v3/order", {**ORDER, "price": "49000"}, 1),
    ],
)
def test_signed_endpoints_weigh_what_binance_documents(
    url: str, method: str, path: str, params: dict[str, Any], weight: int
) -> None:
    limits(url)
    reply = signed(url, method, path, **params)
    assert reply.status == 200, reply.body
    assert reply.headers["X-MBX-USED-WEIGHT-1M"] == str(weight)


def test_by_default_limits_are_counted_not_enforced(url: str) -> None:
    limits(url, scale="0.01")  # 60 weight a minute, not enforced
    inside_window(60)
    replies = [signed(url, "GET", "/api/v3/account") for _ in range(4)]
    assert [r.status for r in replies] == [200] * 4
    assert replies[-1].headers["X-MBX-USED-WEIGHT-1M"] == "80"


def test_past_the_weight_limit_429_with_retry_after_and_nothing_counted(url: str) -> None:
    limits(url, enforce=True, scale="0.01")
    inside_window(60)
    shown = call(url, "GET", "/api/v3/exchangeInfo").body["rateLimits"]
    assert shown[0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 60}
    assert [signed(url, "GET", "/api/v3/account").status for _ in range(2)] == [200, 200]  # 20 + 20 + 20 = 60
    refused = signed(url, "GET", "/api/v3/account")
    assert (refused.status, refused.body["code"]) == (429, -1003)
    assert refused.body["msg"].startswith(
        "Too much request weight used; current limit is 60 request weight per 1 MINUTE."
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-MBX-USED-WEIGHT-1M"] == "60"
    assert call(url, "GET", "/api/v3/ping").status == 429  # even weight 1 does not fit any more


def test_a_client_that_keeps_going_is_banned_longer_each_time(url: str) -> None:
    limits(url, enforce=True, rate_limits=[weight_per_day(2)], ban_after=2, ban_seconds=1)
    assert [call(url, "GET", "/api/v3/ping").status for _ in range(2)] == [200, 200]
    answers = [call(url, "GET", "/api/v3/ping") for _ in range(4)]
    assert [a.status for a in answers] == [429, 429, 418, 418]
    assert answers[2].body["code"] == -1003 and "IP banned until" in answers[2].body["msg"]
    assert answers[2].headers["Retry-After"] == "1"
    time.sleep(1.1)
    again = [call(url, "GET", "/api/v3/ping") for _ in range(3)]  # the window is still full: it keeps going
    assert [a.status for a in again] == [429, 429, 418]
    assert again[2].headers["Retry-After"] == "2"  # the second ban lasts twice as long


def test_a_client_that_backs_off_is_not_banned(url: str) -> None:
    every_2s = {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 2, "limit": 1}
    limits(url, enforce=True, rate_limits=[every_2s], ban_after=1, ban_seconds=60)
    statuses = []
    for _ in range(3):
        inside_window(2, margin=1.0)
        statuses.append(call(url, "GET", "/api/v3/ping").status)
        refused = call(url, "GET", "/api/v3/ping")
        statuses.append(refused.status)
        time.sleep(int(refused.headers["Retry-After"]))  # backs off as told: the next interval
    assert statuses == [200, 429] * 3


def test_orders_past_the_account_limit_429_and_nothing_placed(url: str) -> None:
    limits(
        url,
        enforce=True,
        rate_limits=[
            weight_per_day(10_000),
            orders_per(10, 3),
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 100},
        ],
    )
    inside_window(10, margin=3)
    counts = [signed(url, "POST", "/api/v3/order", **ORDER, price=p).headers for p in ("49000", "48000")]
    assert [(h["X-MBX-ORDER-COUNT-10S"], h["X-MBX-ORDER-COUNT-1D"]) for h in counts] == [("1", "1"), ("2", "2")]
    refused = signed(url, "POST", "/api/v3/orderList/oco", **EXIT)  # an OCO counts 2: 4 > 3
    assert (refused.status, refused.body) == (
        429,
        {"code": -1015, "msg": "Too many new orders; current limit is 3 orders per 10 SECOND."},
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert len(signed(url, "GET", "/api/v3/openOrders", symbol="BTCUSDT").body) == 2
    assert signed(url, "POST", "/api/v3/order", **ORDER, price="47000").headers["X-MBX-ORDER-COUNT-10S"] == "3"
    assert signed(url, "POST", "/api/v3/order/test", **ORDER, price="47000").status == 200  # a test order is free


def test_a_burst_of_concurrent_orders_gets_exactly_the_limit_through(url: str) -> None:
    limits(url, enforce=True, rate_limits=[weight_per_day(10_000), orders_per(10, 5)])
    inside_window(10, margin=4)
    prices = [str(40000 + i) for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda p: signed(url, "POST", "/api/v3/order", **ORDER, price=p).status, prices))
    assert sorted(statuses) == [200] * 5 + [429] * 7
    assert len(signed(url, "GET", "/api/v3/openOrders", symbol="BTCUSDT").body) == 5


def test_an_order_the_venue_refuses_counts_nothing(url: str) -> None:
    limits(url, enforce=True, rate_limits=[weight_per_day(10_000), orders_per(10, 1)])
    inside_window(10, margin=3)
    too_small = signed(url, "POST", "/api/v3/order", **{**ORDER, "quantity": "0.000001"}, price="49000")
    assert too_small.body["code"] == -1013
    assert signed(url, "POST", "/api/v3/order", **ORDER, price="49000").headers["X-MBX-ORDER-COUNT-10S"] == "1"


def test_an_otoco_counts_three_orders(url: str) -> None:
    limits(url, enforce=True, rate_limits=[weight_per_day(10_000), orders_per(10, 3)])
    inside_window(10, margin=3)
    reply = signed(
        url,
        "POST",
        "/api/v3/orderList/otoco",
        symbol="BTCUSDT",
        workingType="LIMIT",
        workingSide="BUY",
        workingPrice="49000",
        workingQuantity="0.001",
        workingTimeInForce="GTC",
        pendingSide="SELL",
        pendingQuantity="0.00099",
        pendingAboveType="LIMIT_MAKER",
        pendingAbovePrice="52000",
        pendingBelowType="STOP_LOSS",
        pendingBelowStopPrice="47000",
    )
    assert reply.status == 200, reply.body
    assert reply.headers["X-MBX-ORDER-COUNT-10S"] == "3"
    assert signed(url, "POST", "/api/v3/order", **ORDER, price="48000").body["code"] == -1015


def test_raw_requests_are_counted_one_each_whatever_their_weight(url: str) -> None:
    raw = {"rateLimitType": "RAW_REQUESTS", "interval": "DAY", "intervalNum": 1, "limit": 3}
    limits(url, enforce=True, rate_limits=[weight_per_day(10_000), raw])
    assert [call(url, "GET", path).status for path in ("/api/v3/ping", "/api/v3/exchangeInfo", "/api/v3/time")] == [
        200,
        200,
        200,
    ]
    refused = call(url, "GET", "/api/v3/ping")
    assert (refused.status, refused.body) == (
        429,
        {"code": -1003, "msg": "Too many requests; current limit is 3 requests per 1 DAY."},
    )
    assert refused.headers["X-MBX-USED-WEIGHT-1D"] == "22"


def test_reset_clears_counts_and_bans(url: str) -> None:
    limits(url, enforce=True, rate_limits=[weight_per_day(1)], ban_after=1, ban_seconds=600)
    assert [call(url, "GET", "/api/v3/ping").status for _ in range(3)] == [200, 429, 418]
    admin(url, "reset", {})
    assert call(url, "GET", "/api/v3/ping").status == 200
    assert admin(url, "limits")["settings"]["enforce"] is True  # the settings stay


def test_flags_enforce_scaled_limits_from_the_start() -> None:
    with running_exchange("--enforce-limits", "--limit-scale", "0.01", "--ban-after", "1", "--ban-seconds", "1") as u:
        inside_window(60)
        shown = {
            (r["rateLimitType"], r["interval"]): r["limit"]
            for r in call(u, "GET", "/api/v3/exchangeInfo").body["rateLimits"]
        }
        assert shown == {
            ("REQUEST_WEIGHT", "MINUTE"): 60,
            ("ORDERS", "SECOND"): 1,
            ("ORDERS", "DAY"): 2000,
            ("RAW_REQUESTS", "MINUTE"): 3000,
        }
        # the readiness pings and exchangeInfo (20) came first: one account call (20) fits, the next does not
        assert [signed(u, "GET", "/api/v3/account").status for _ in range(2)] == [200, 429]
        banned = signed(u, "GET", "/api/v3/account")  # a second refusal in a row with --ban-after 1
        assert (banned.status, banned.headers["Retry-After"]) == (418, "1")
        assert call(u, "GET", "/api/v3/ping").status == 418  # banned: even what would fit
