"""Partial fills and trailing stops on the local exchange, as python-binance's own Client sees them.

The server runs with ``--top-of-book-qty 50 --level-bps 10``: each price level holds 50 USDT, levels are
10 bps apart (a real subprocess on a free port, like every suite here).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from tradeengine.exchange.base import Accepted
from tradeengine.exchange.matching import MatchingConfig
from tradeengine.exchange.paper import PaperExchange, RestMarketData

from contracts.orders import BinanceOrderType, OrderRequest, Side
from local.cli import build_parser
from local.exchange import app
from tests.integration.local_exchange.conftest import admin, make_client, running_exchange, signed

pytestmark = pytest.mark.integration
D = Decimal


@pytest.fixture(scope="module")
def depth_url() -> Iterator[str]:
    with running_exchange("--top-of-book-qty", "50", "--level-bps", "10") as url:
        yield url


@pytest.fixture
def url(depth_url: str) -> str:
    admin(depth_url, "reset", {})
    admin(depth_url, "price", {"symbol": "BTCUSDT", "price": "50000"})
    return depth_url


@pytest.fixture
def client(url: str) -> Client:
    return make_client(url)


def price(url: str, value: str) -> None:
    admin(url, "price", {"symbol": "BTCUSDT", "price": value})


def status(client: Client, **order: Any) -> tuple[str, Decimal]:
    seen = client.get_order(symbol="BTCUSDT", **order)
    return seen["status"], D(seen["executedQty"])


def test_a_market_order_larger_than_the_top_of_book_fills_across_levels(client: Client) -> None:
    answer = client.order_market_buy(symbol="BTCUSDT", quantity="0.003")
    assert answer["status"] == "FILLED" and D(answer["executedQty"]) == D("0.003")
    assert [(D(f["price"]), D(f["qty"])) for f in answer["fills"]] == [
        (D("50000"), D("0.001")),
        (D("50050"), D("0.00099")),
        (D("50100"), D("0.00099")),
        (D("50150"), D("0.00002")),
    ]
    trades = client.get_my_trades(symbol="BTCUSDT", orderId=answer["orderId"])
    assert sorted(t["id"] for t in trades) == sorted(f["tradeId"] for f in answer["fills"])
    assert len({t["id"] for t in trades}) == 4


def test_a_resting_limit_is_partially_filled_one_level_per_price(client: Client, url: str) -> None:
    answer = client.order_limit_buy(symbol="BTCUSDT", quantity="0.003", price="49000")
    assert answer["status"] == "NEW"
    price(url, "48900")
    assert status(client, orderId=answer["orderId"]) == ("PARTIALLY_FILLED", D("0.00102"))  # 50 USDT at 49000
    assert [o["status"] for o in client.get_open_orders(symbol="BTCUSDT")] == ["PARTIALLY_FILLED"]
    price(url, "48900")  # the same price is no new trading
    assert status(client, orderId=answer["orderId"]) == ("PARTIALLY_FILLED", D("0.00102"))
    price(url, "48800")
    assert status(client, orderId=answer["orderId"]) == ("PARTIALLY_FILLED", D("0.00204"))
    price(url, "48700")
    assert status(client, orderId=answer["orderId"]) == ("FILLED", D("0.003"))
    trades = client.get_my_trades(symbol="BTCUSDT", orderId=answer["orderId"])
    assert [(D(t["price"]), D(t["qty"]), t["isMaker"]) for t in trades] == [
        (D("49000"), D("0.00102"), True),
        (D("49000"), D("0.00102"), True),
        (D("49000"), D("0.00096"), True),
    ]
    usdt = next(b for b in client.get_account()["balances"] if b["asset"] == "USDT")
    assert D(usdt["locked"]) == 0


def test_a_trailing_stop_triggers_on_the_delta_from_the_highest_price(client: Client, url: str) -> None:
    answer = client.create_order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.001", trailingDelta=100, newOrderRespType="RESULT"
    )
    assert (answer["status"], answer["trailingDelta"], answer["stopPrice"]) == ("NEW", 100, "0.00000000")
    assert answer["trailingTime"] > 0  # without stopPrice it tracks from placement
    for step in ("51000", "52000", "51481"):  # up, then down by less than 1 % of the high
        price(url, step)
        assert status(client, orderId=answer["orderId"])[0] == "NEW", step
    price(url, "51480")  # 1 % under 52000
    seen = client.get_order(symbol="BTCUSDT", orderId=answer["orderId"])
    assert (seen["status"], seen["trailingDelta"], seen["isWorking"]) == ("FILLED", 100, True)
    trades = client.get_my_trades(symbol="BTCUSDT", orderId=answer["orderId"])
    # at market from 51480 down the levels: 50 USDT there is 0.00097, the rest one level (10 bps) lower
    assert [(D(t["price"]), D(t["qty"])) for t in trades] == [(D("51480"), D("0.00097")), (D("51428.52"), D("0.00003"))]


def test_a_trailing_stop_with_a_stop_price_tracks_only_once_it_is_reached(client: Client, url: str) -> None:
    answer = client.create_order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC", quantity="0.001",
        price="47000", stopPrice="49000", trailingDelta=200,
    )  # fmt: skip
    order = client.get_order(symbol="BTCUSDT", orderId=answer["orderId"])
    assert (order["trailingTime"], order["stopPrice"]) == (-1, "49000.00000000")
    price(url, "49500")  # above the stopPrice: not tracking yet
    assert client.get_order(symbol="BTCUSDT", orderId=answer["orderId"])["trailingTime"] == -1
    price(url, "45000")  # the first price at or under the stopPrice starts the tracking, from where it landed
    order = client.get_order(symbol="BTCUSDT", orderId=answer["orderId"])
    assert order["status"] == "NEW" and order["trailingTime"] > 0 and not order["isWorking"]
    price(url, "46000")
    price(url, "45080")  # 2 % under the best since activation, 46000
    order = client.get_order(symbol="BTCUSDT", orderId=answer["orderId"])
    assert (order["status"], order["isWorking"]) == ("NEW", True)  # triggered; its limit 47000 is above
    price(url, "47000")
    assert status(client, orderId=answer["orderId"]) == ("FILLED", D("0.001"))


def test_trailing_delta_errors_are_binances(client: Client, url: str) -> None:
    with pytest.raises(BinanceAPIException) as outside:
        client.create_order(symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.001", trailingDelta=5)
    assert (outside.value.code, outside.value.message) == (-1013, "Filter failure: TRAILING_DELTA")
    with pytest.raises(BinanceAPIException) as neither:
        client.create_order(symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.001")
    assert (neither.value.code, neither.value.message) == (
        -1102,
        "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.",
    )
    with pytest.raises(BinanceAPIException) as limit:
        client.order_limit_sell(symbol="BTCUSDT", quantity="0.001", price="51000", trailingDelta=100)
    assert (limit.value.code, limit.value.message) == (-1106, "Parameter 'trailingDelta' sent when not required.")
    assert signed(url, "POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="STOP_LOSS",
                  quantity="0.001", trailingDelta="2001").body["msg"] == "Filter failure: TRAILING_DELTA"  # fmt: skip


def test_an_oco_with_a_trailing_stop_leg(url: str, client: Client) -> None:
    reply = signed(
        url, "POST", "/api/v3/orderList/oco", symbol="BTCUSDT", side="SELL", quantity="0.001",
        aboveType="LIMIT_MAKER", abovePrice="56000", belowType="STOP_LOSS", belowTrailingDelta="300",
    )  # fmt: skip
    assert reply.status == 200, reply.body
    below, above = reply.body["orderReports"]
    assert (below["type"], below["trailingDelta"], above["type"]) == ("STOP_LOSS", 300, "LIMIT_MAKER")
    price(url, "55000")
    price(url, "53350")  # 3 % under 55000
    assert status(client, orderId=below["orderId"])[0] == "FILLED"
    assert status(client, orderId=above["orderId"])[0] == "EXPIRED"


def test_the_flags_are_the_same_on_both_commands() -> None:
    """``python -m local.exchange`` and ``tradeengine local-exchange`` take the depth flags alike."""
    flags = ["--top-of-book-qty", "75", "--level-bps", "2", "--book-levels", "9"]
    parser = argparse.ArgumentParser()
    app.add_arguments(parser)
    for args in (parser.parse_args(flags), build_parser().parse_args(["local-exchange", *flags])):
        given = app.with_defaults(args)
        assert (given.top_of_book_qty, given.level_bps, given.book_levels) == ("75", "2", 9)
    defaults = app.with_defaults(build_parser().parse_args(["local-exchange"]))
    assert (defaults.top_of_book_qty, defaults.level_bps, defaults.book_levels) == ("0", "1", 100)


AGREEMENT: list[tuple[str, Any]] = [
    ("order", dict(side="BUY", type="MARKET", quantity="0.003", newClientOrderId="d-mkt")),
    ("order", dict(side="BUY", type="LIMIT", quantity="0.003", price="49000", timeInForce="GTC",
                   newClientOrderId="d-lim")),
    ("price", "48900"), ("price", "48800"), ("price", "48700"),
    ("order", dict(side="SELL", type="STOP_LOSS", quantity="0.002", trailingDelta=100, newClientOrderId="d-trail")),
    ("price", "50000"), ("price", "52000"), ("price", "51480"),
]  # fmt: skip


def test_paper_and_local_exchange_agree_on_partial_fills_and_trailing_stops(url: str, client: Client) -> None:
    """The paper exchange (reading the local exchange's prices) sees each price when called at it."""
    info = json.loads(app.DATA.read_text())
    config = MatchingConfig(top_of_book_qty=D("50"), level_bps=D("10"))
    paper = PaperExchange(info, RestMarketData(url), None, app.parse_pairs(app.DEFAULT_BALANCES, "b"), config)
    for kind, step in AGREEMENT:
        if kind == "price":
            price(url, step)
            paper.open_orders("BTCUSDT")
            continue
        client.create_order(symbol="BTCUSDT", **step)
        request = OrderRequest(
            symbol="BTCUSDT", side=Side(step["side"]), type=BinanceOrderType(step["type"]),
            quantity=D(step["quantity"]), price=D(step["price"]) if "price" in step else None,
            time_in_force=step.get("timeInForce"), trailing_delta=step.get("trailingDelta"),
            new_client_order_id=step["newClientOrderId"],
        )  # fmt: skip
        assert isinstance(paper.place_order(request), Accepted)
    for cid in ("d-mkt", "d-lim", "d-trail"):
        local = client.get_order(symbol="BTCUSDT", origClientOrderId=cid)
        trades = client.get_my_trades(symbol="BTCUSDT", orderId=local["orderId"])
        mine = paper.get_order("BTCUSDT", client_order_id=cid)
        assert mine is not None
        assert (mine.status.value, mine.executed_qty, [(f.price, f.qty, f.commission) for f in mine.fills]) == (
            local["status"],
            D(local["executedQty"]),
            [(D(t["price"]), D(t["qty"]), D(t["commission"])) for t in trades],
        ), cid
        assert mine.status.value == "FILLED" and len(mine.fills) > 1, cid
    local_balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in client.get_account()["balances"]}
    assert {a: local_balances[a] for a in ("BTC", "USDT")} == {
        a: (b.free, b.locked) for a, b in paper.balances().items() if a in ("BTC", "USDT")
    }
