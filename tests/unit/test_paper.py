"""The paper exchange through the Exchange port: typed outcomes, a shared book, optimistic concurrency."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tradeengine.exchange.base import (
    Accepted,
    Exchange,
    ExchangeOrder,
    OcoRequest,
    OrderListResult,
    OrderStatus,
    OtocoRequest,
    Rejected,
)
from tradeengine.exchange.paper import FixedMarketData, InMemoryPaperBookStore, PaperBookStore, PaperExchange

from contracts.orders import BinanceOrderType, OrderRequest, Side

D = Decimal
INFO = json.loads((Path(__file__).parents[1] / "fixtures" / "exchange_info_2026_sample.json").read_text())


def paper(store: PaperBookStore | None = None) -> tuple[PaperExchange, FixedMarketData]:
    market = FixedMarketData({"BTCUSDT": D("50000")})
    return PaperExchange(INFO, market, store, clock_ms=lambda: 1_700_000_000_000), market


def market_buy(cid: str = "buy-1", qty: str = "0.001") -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT", side=Side.BUY, type=BinanceOrderType.MARKET, quantity=D(qty), new_client_order_id=cid
    )


def test_paper_is_an_exchange_and_fills_a_market_buy() -> None:
    ex, _ = paper()
    assert isinstance(ex, Exchange)
    outcome = ex.place_order(market_buy())
    assert isinstance(outcome, Accepted) and isinstance(outcome.order, ExchangeOrder)
    order = outcome.order
    assert (order.status, order.executed_qty, order.average_price) == (OrderStatus.FILLED, D("0.001"), D("50000"))
    assert order.fills[0].commission == D("0.000001")
    assert ex.balances()["BTC"].free == D("0.000999")
    assert ex.get_order("BTCUSDT", client_order_id="buy-1") == order


def test_rejections_are_typed_with_binance_codes() -> None:
    ex, _ = paper()
    outcome = ex.place_order(market_buy(qty="1"))
    assert outcome == Rejected(-2010, "Account has insufficient balance for requested action.")
    cancel = ex.cancel_order("BTCUSDT", order_id=99)
    assert isinstance(cancel, Rejected) and cancel.code == -2011
    assert ex.get_order("BTCUSDT", client_order_id="never") is None


def test_two_adapters_on_one_store_share_the_book_and_resting_orders_fill_on_later_prices() -> None:
    store = InMemoryPaperBookStore()
    api, market = paper(store)
    monitor = PaperExchange(INFO, market, store)
    limit = OrderRequest(
        symbol="BTCUSDT", side=Side.BUY, type=BinanceOrderType.LIMIT, quantity=D("0.001"),
        price=D("49000"), time_in_force="GTC", new_client_order_id="lim",
    )  # fmt: skip
    assert isinstance(api.place_order(limit), Accepted)
    assert [o.client_order_id for o in monitor.open_orders()] == ["lim"]
    market.set("BTCUSDT", D("48900"))
    seen = monitor.get_order("BTCUSDT", client_order_id="lim")
    assert seen is not None and seen.status is OrderStatus.FILLED and seen.fills[0].is_maker
    assert api.open_orders() == []


class RacingStore(InMemoryPaperBookStore):
    """A store where another writer saves once between our load and our save."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def save(self, state: dict[str, object], version: int) -> bool:
        if not self.raced:
            self.raced = True
            current, v = self.load()
            super().save(current, v)
        return super().save(state, version)


def test_a_lost_conditional_write_is_retried_on_the_fresh_book() -> None:
    store = RacingStore()
    ex, _ = paper(store)
    assert isinstance(ex.place_order(market_buy()), Accepted)
    assert store.version == 2  # the racer's write, then ours
    assert len(ex.recent_fills("BTCUSDT")) == 1


def test_otoco_and_oco_through_the_port() -> None:
    ex, market = paper()
    entry = OrderRequest(
        symbol="BTCUSDT", side=Side.BUY, type=BinanceOrderType.LIMIT, quantity=D("0.001"),
        price=D("49000"), time_in_force="GTC", new_client_order_id="entry",
    )  # fmt: skip
    exits = OcoRequest("BTCUSDT", "SELL", D("0.00099"), D("52000"), D("47000"), "list", "tp", "sl")
    outcome = ex.place_otoco(OtocoRequest(entry, exits))
    assert isinstance(outcome, Accepted) and isinstance(outcome.order, OrderListResult)
    assert [o.status for o in outcome.order.orders] == [
        OrderStatus.NEW,
        OrderStatus.PENDING_NEW,
        OrderStatus.PENDING_NEW,
    ]
    market.set("BTCUSDT", D("48950"))
    assert {o.client_order_id for o in ex.open_orders("BTCUSDT")} == {"tp", "sl"}
    market.set("BTCUSDT", D("52100"))
    tp, sl = ex.get_order("BTCUSDT", client_order_id="tp"), ex.get_order("BTCUSDT", client_order_id="sl")
    assert tp is not None and sl is not None
    assert (tp.status, sl.status) == (OrderStatus.FILLED, OrderStatus.EXPIRED)
