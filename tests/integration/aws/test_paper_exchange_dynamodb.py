"""The paper exchange keeps one book across processes when its store is DynamoDB (MiniStack)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradeengine.exchange.base import Accepted, OrderStatus
from tradeengine.exchange.paper import FixedMarketData, PaperExchange
from tradeengine.stores.paper_book_dynamodb import DynamoDBPaperBookStore

from contracts.orders import BinanceOrderType, OrderRequest, Side
from tests.support import tables

pytestmark = pytest.mark.integration

INFO = json.loads((Path(__file__).parents[2] / "fixtures" / "exchange_info_2026_sample.json").read_text())


def test_two_lambda_containers_see_one_book(ddb: Any, table_name: str) -> None:
    tables.paper_book(ddb, table_name)
    market = FixedMarketData({"BTCUSDT": Decimal("50000")})

    def container() -> PaperExchange:
        return PaperExchange(INFO, market, DynamoDBPaperBookStore(table_name, "shared", ddb_client=ddb))

    api, monitor = container(), container()
    limit = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=BinanceOrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=Decimal("49000"),
        time_in_force="GTC",
        new_client_order_id="sig-limit-1",
    )
    placed = api.place_order(limit)
    assert isinstance(placed, Accepted)

    seen = monitor.get_order("BTCUSDT", client_order_id="sig-limit-1")
    assert seen is not None and seen.status is OrderStatus.NEW
    assert monitor.balances()["USDT"].locked == Decimal("490")

    market.set("BTCUSDT", Decimal("48900"))
    filled = monitor.get_order("BTCUSDT", client_order_id="sig-limit-1")
    assert filled is not None and filled.status is OrderStatus.FILLED
    assert api.balances()["BTC"].free > 0
