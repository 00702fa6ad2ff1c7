"""The paper exchange as the deployed stack builds it: its fee, slippage and depth come from settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradeengine.config import Settings
from tradeengine.exchange.base import Accepted, ExchangeOrder, OrderStatus
from tradeengine.exchange.matching import MatchingConfig
from tradeengine.exchange.paper import FixedMarketData, InMemoryPaperBookStore, PaperExchange
from tradeengine.pipeline.deps import paper_matching_config

from contracts.orders import BinanceOrderType, OrderRequest, Side
from tests.unit.test_paper import INFO

D = Decimal
T0 = 1_700_000_000_000


def order(otype: str, side: str = "BUY", qty: str = "0.003", cid: str = "o1", **kw: object) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT", side=Side(side), type=BinanceOrderType(otype), quantity=D(qty), new_client_order_id=cid,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def placed(outcome: object) -> ExchangeOrder:
    assert isinstance(outcome, Accepted) and isinstance(outcome.order, ExchangeOrder), outcome
    return outcome.order


def paper(config: MatchingConfig, store: InMemoryPaperBookStore | None = None) -> tuple[PaperExchange, FixedMarketData]:
    market = FixedMarketData({"BTCUSDT": D("50000")})
    balances = {"USDT": D("10000"), "BTC": D("1")}
    return PaperExchange(INFO, market, store, balances, config, clock_ms=lambda: T0), market


def test_the_settings_build_the_paper_fill_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PAPER_FEE_RATE": "0.002",
        "PAPER_SLIPPAGE_BPS": "5",
        "PAPER_TOP_OF_BOOK_QTY": "50",
        "PAPER_LEVEL_BPS": "10",
        "PAPER_BOOK_LEVELS": "3",
        "COMMISSION_IN_BASE_ON_BUY": "false",
    }.items():
        monkeypatch.setenv(name, value)
    config = paper_matching_config(Settings())
    assert config == MatchingConfig(
        maker_fee=D("0.002"), taker_fee=D("0.002"), slippage_bps=D("5"), buy_commission_in="quote",
        top_of_book_qty=D("50"), level_bps=D("10"), book_levels=3,
    )  # fmt: skip
    ex, _ = paper(config)
    buy = placed(ex.place_order(order("MARKET")))
    # 5 bps of slippage at level 0, then 10 bps a level; each level holds 50 USDT; fees 0.2 % in USDT
    assert [(f.price, f.qty) for f in buy.fills] == [(D("50025"), D("0.00099")), (D("50075"), D("0.00099")),
                                                     (D("50125"), D("0.00099"))]  # fmt: skip
    assert buy.status is OrderStatus.EXPIRED and buy.executed_qty == D("0.00297")  # three levels, no more
    assert [f.commission_asset for f in buy.fills] == ["USDT"] * 3
    assert buy.fills[0].commission == D("0.0990495")  # 0.2 % of 49.52475 (USDT has 8 places)


def test_default_settings_keep_the_model_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAPER_FEE_RATE", "PAPER_SLIPPAGE_BPS", "PAPER_TOP_OF_BOOK_QTY", "PAPER_LEVEL_BPS",
                 "PAPER_BOOK_LEVELS", "COMMISSION_IN_BASE_ON_BUY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert paper_matching_config(Settings()) == MatchingConfig()


def test_a_resting_paper_limit_is_partially_filled_until_enough_prices_have_traded() -> None:
    ex, market = paper(MatchingConfig(top_of_book_qty=D("49")))
    placed(ex.place_order(order("LIMIT", price=D("49000"), time_in_force="GTC", cid="lim")))
    market.set("BTCUSDT", D("48900"))
    seen = ex.get_order("BTCUSDT", client_order_id="lim")
    assert seen is not None and (seen.status, seen.executed_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.001"))
    for _ in range(3):  # reading again at the same price is no new trading
        assert ex.get_order("BTCUSDT", client_order_id="lim") == seen
    assert ex.balances()["USDT"].locked == D("98")  # the rest still holds its funds
    market.set("BTCUSDT", D("48950"))
    market.set("BTCUSDT", D("48990"))  # unseen: the book only sees the price when it is called
    later = ex.get_order("BTCUSDT", client_order_id="lim")
    assert later is not None and later.executed_qty == D("0.002")
    market.set("BTCUSDT", D("48900"))
    done = ex.get_order("BTCUSDT", client_order_id="lim")
    assert done is not None and done.status is OrderStatus.FILLED
    assert len({f.trade_id for f in done.fills}) == 3 and all(f.is_maker for f in done.fills)


def test_the_paper_exchange_applies_its_own_settings_to_a_saved_book() -> None:
    store = InMemoryPaperBookStore()
    before, _ = paper(MatchingConfig(), store)
    assert len(placed(before.place_order(order("MARKET", cid="m1"))).fills) == 1
    after, _ = paper(MatchingConfig(top_of_book_qty=D("50"), level_bps=D("10")), store)
    assert len(placed(after.place_order(order("MARKET", cid="m2"))).fills) == 4


def test_a_paper_trailing_stop_reports_its_delta_and_triggers_on_the_delta_from_the_high() -> None:
    ex, market = paper(MatchingConfig())
    stop = placed(ex.place_order(order("STOP_LOSS", "SELL", "0.001", "trail", trailing_delta=100)))
    assert (stop.status, stop.trailing_delta, stop.stop_price) == (OrderStatus.NEW, 100, None)
    for price in ("52000", "51481"):
        market.set("BTCUSDT", D(price))
        seen = ex.get_order("BTCUSDT", client_order_id="trail")
        assert seen is not None and seen.status is OrderStatus.NEW
    market.set("BTCUSDT", D("51480"))
    done = ex.get_order("BTCUSDT", client_order_id="trail")
    assert done is not None and done.status is OrderStatus.FILLED and done.fills[0].price == D("51480")


def test_the_paper_exchange_refuses_a_delta_outside_the_symbols_filter() -> None:
    ex, _ = paper(MatchingConfig())
    outcome = ex.place_order(order("STOP_LOSS", "SELL", "0.001", trailing_delta=5))
    assert not isinstance(outcome, Accepted)
    assert (outcome.code, outcome.message) == (-1013, "Filter failure: TRAILING_DELTA")  # type: ignore[union-attr]
