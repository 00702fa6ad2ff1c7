"""Binance's official spot connector (``binance-sdk-spot``, formerly ``binance-connector``) against the local exchange.

A client the engine does not use: if it trades here unchanged, the venue speaks Binance's API, not only
python-binance's reading of it. Quantities go in as Decimal (the SDK writes them with ``format(v, "f")``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_common.errors import BadRequestError, RateLimitBanError, TooManyRequestsError
from binance_sdk_spot.rest_api.rest_api import SpotRestAPI
from binance_sdk_spot.spot import ConfigurationRestAPI, Spot

from tests.integration.local_exchange.conftest import API_KEY, API_SECRET, admin, call, limits

pytestmark = pytest.mark.integration

QTY = Decimal("0.001")


def connect(url: str, **config: Any) -> SpotRestAPI:
    rest = ConfigurationRestAPI(api_key=API_KEY, api_secret=API_SECRET, base_path=url, timeout=5000, **config)
    return Spot(config_rest_api=rest).rest_api


@pytest.fixture
def spot(url: str) -> SpotRestAPI:
    return connect(url)


def test_market_data_reads(url: str, spot: SpotRestAPI) -> None:
    assert spot.ping().status == 200
    info = spot.exchange_info(symbols=["BTCUSDT", "ETHUSDT"]).data()
    assert [s.symbol for s in info.symbols] == ["BTCUSDT", "ETHUSDT"]
    prices = spot.ticker_price(symbols=["BTCUSDT", "ETHUSDT"]).data().actual_instance
    assert [(p.symbol, p.price) for p in prices] == [("BTCUSDT", "50000.00000000"), ("ETHUSDT", "3000.00000000")]
    assert spot.ticker24hr(symbol="BTCUSDT").data().actual_instance.last_price == "50000.00000000"
    assert spot.ticker_book_ticker(symbol="BTCUSDT").data().actual_instance.ask_price == "50000.00000000"
    assert spot.depth(symbol="BTCUSDT", limit=5).data().bids[0][0] == "50000.00000000"
    assert (
        spot.avg_price(symbol="BTCUSDT").data().price
        == call(url, "GET", "/api/v3/avgPrice", "symbol=BTCUSDT").body["price"]
    )


def test_trading_a_day_with_the_official_connector(url: str, spot: SpotRestAPI) -> None:
    placed = spot.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        time_in_force="GTC",
        quantity=QTY,
        price=Decimal("49000"),
        new_client_order_id="sdk-1",
    )
    assert placed.data().status == "NEW"
    assert {(r.rateLimitType, r.interval, r.count) for r in placed.rate_limits} >= {("ORDERS", "SECOND", 1)}
    bought = spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=QTY).data()
    assert (bought.status, bought.fills[0].commission_asset) == ("FILLED", "BTC")
    exits = spot.order_list_oco(
        symbol="BTCUSDT",
        side="SELL",
        quantity=Decimal("0.0009"),
        above_type="LIMIT_MAKER",
        above_price=Decimal("52000"),
        below_type="STOP_LOSS",
        below_stop_price=Decimal("48000"),
    ).data()
    assert [o.status for o in exits.order_reports] == ["NEW", "NEW"]
    assert [o.order_list_id for o in spot.open_order_list().data()] == [exits.order_list_id]
    assert spot.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-1").data().order_id == placed.data().order_id
    cancelled = spot.delete_open_orders(symbol="BTCUSDT").data()
    assert len(cancelled) == 2  # the single order, then the OCO as one list
    history = spot.all_orders(symbol="BTCUSDT").data()
    assert [o.status for o in history] == ["CANCELED", "FILLED", "CANCELED", "CANCELED"]
    trades = spot.my_trades(symbol="BTCUSDT", from_id=bought.fills[0].trade_id).data()
    assert [t.order_id for t in trades] == [bought.order_id]
    assert [lst.list_order_status for lst in spot.all_order_list().data()] == ["ALL_DONE"]
    free = {b.asset: Decimal(b.free) for b in spot.get_account().data().balances}
    assert free["BTC"] == Decimal(1) + QTY - Decimal(bought.fills[0].commission)


def test_the_deprecated_oco_call(spot: SpotRestAPI) -> None:
    reply = spot.order_oco(
        symbol="BTCUSDT", side="SELL", quantity=QTY, price=Decimal("52000"), stop_price=Decimal("48000")
    ).data()
    assert [r.type for r in reply.order_reports] == ["STOP_LOSS", "LIMIT_MAKER"]
    assert spot.delete_order_list(symbol="BTCUSDT", order_list_id=reply.order_list_id).data().list_order_status == (
        "ALL_DONE"
    )


def test_errors_arrive_as_the_connector_expects(url: str, spot: SpotRestAPI) -> None:
    with pytest.raises(BadRequestError) as missing:
        spot.get_order(symbol="BTCUSDT", order_id=987654)
    assert (missing.value.status_code, missing.value.error_message) == (-2013, "Order does not exist.")
    with pytest.raises(BadRequestError) as scientific:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.00001)  # a float: "1e-05" on the wire
    assert scientific.value.status_code == -1100
    limits(
        url,
        enforce=True,
        rate_limits=[{"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": 25}],
        ban_after=1,
    )
    spot.get_account()
    with pytest.raises(TooManyRequestsError) as refused:
        spot.get_account()
    assert refused.value.status_code == -1003 and refused.value.retry_after is not None
    with pytest.raises(RateLimitBanError):
        spot.get_account()
    admin(url, "reset", {})


def test_times_in_microseconds(url: str) -> None:
    spot = connect(url, time_unit="MICROSECOND")
    placed = spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=QTY).data()
    server = spot.time().data().server_time
    assert len(str(placed.transact_time)) == 16 and 0 <= server - placed.transact_time < 5_000_000
