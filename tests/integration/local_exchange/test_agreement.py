"""One scenario, two simulators: the paper exchange and the local exchange report the same fills, fees, statuses.

The paper exchange reads its prices from the local exchange's public REST (its RestMarketData), so both
books see the same market; each keeps its own account.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from tradeengine.exchange.base import Accepted, ExchangeOrder
from tradeengine.exchange.paper import PaperExchange, RestMarketData

from contracts.orders import BinanceOrderType, OrderRequest, Side
from local.exchange.app import DATA, parse_pairs
from tests.integration.local_exchange.conftest import admin

pytestmark = pytest.mark.integration
D = Decimal

STEPS: list[tuple[str, Any]] = [
    ("order", dict(side="BUY", type="MARKET", quantity="0.002", newClientOrderId="a-mkt")),
    ("order", dict(side="BUY", type="LIMIT", quantity="0.001", price="49000", timeInForce="GTC",
                   newClientOrderId="a-lim")),
    ("order", dict(side="SELL", type="STOP_LOSS", quantity="0.001", stopPrice="48000", newClientOrderId="a-stop")),
    ("price", "48900"),  # the resting buy fills as maker
    ("order", dict(side="SELL", type="LIMIT", quantity="0.0005", price="50500", timeInForce="IOC",
                   newClientOrderId="a-ioc")),
    ("price", "47950"),  # the stop triggers and sells at market
    ("order", dict(side="SELL", type="MARKET", quantity="0.0005", newClientOrderId="a-sell")),
]  # fmt: skip
IDS = ["a-mkt", "a-lim", "a-stop", "a-ioc", "a-sell"]


def _paper_view(order: ExchangeOrder) -> tuple[Any, ...]:
    fills = tuple((f.price, f.qty, f.commission, f.commission_asset, f.is_maker) for f in order.fills)
    return (order.status.value, order.executed_qty, order.cummulative_quote_qty, fills)


def _local_view(client: Client, order: dict[str, Any]) -> tuple[Any, ...]:
    trades = client.get_my_trades(symbol="BTCUSDT", orderId=order["orderId"])
    fills = tuple((D(t["price"]), D(t["qty"]), D(t["commission"]), t["commissionAsset"], t["isMaker"]) for t in trades)
    return (order["status"], D(order["executedQty"]), D(order["cummulativeQuoteQty"]), fills)


def test_paper_and_local_exchange_agree(url: str, client: Client) -> None:
    from local.exchange.app import DEFAULT_BALANCES

    paper = PaperExchange(json.loads(DATA.read_text()), RestMarketData(url), None, parse_pairs(DEFAULT_BALANCES, "b"))
    for kind, step in STEPS:
        if kind == "price":
            admin(url, "price", {"symbol": "BTCUSDT", "price": step})
            continue
        client.create_order(symbol="BTCUSDT", **step)
        request = OrderRequest(
            symbol="BTCUSDT",
            side=Side(step["side"]),
            type=BinanceOrderType(step["type"]),
            quantity=D(step["quantity"]),
            price=D(step["price"]) if "price" in step else None,
            stop_price=D(step["stopPrice"]) if "stopPrice" in step else None,
            time_in_force=step.get("timeInForce"),
            new_client_order_id=step["newClientOrderId"],
        )
        assert isinstance(paper.place_order(request), Accepted)
    paper_orders = {cid: paper.get_order("BTCUSDT", client_order_id=cid) for cid in IDS}
    local_orders = {cid: client.get_order(symbol="BTCUSDT", origClientOrderId=cid) for cid in IDS}
    seen_paper = {cid: _paper_view(o) for cid, o in paper_orders.items() if o is not None}
    seen_local = {cid: _local_view(client, o) for cid, o in local_orders.items()}
    assert seen_paper == seen_local
    assert [v[0] for v in seen_local.values()] == ["FILLED", "FILLED", "FILLED", "EXPIRED", "FILLED"]
    local_balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in client.get_account()["balances"]}
    paper_balances = {a: (b.free, b.locked) for a, b in paper.balances().items()}
    assert {a: local_balances[a] for a in ("BTC", "USDT")} == {a: paper_balances[a] for a in ("BTC", "USDT")}
