"""ccxt's Binance class against the local exchange: markets loaded with its default options, then trading.

Only the URLs change (every Binance host ccxt knows points at the local server); the options stay
ccxt's own, so ``load_markets`` also asks for the futures venues, margin pairs and the wallet's coins.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.integration.local_exchange.conftest import API_KEY, API_SECRET, admin, limits

pytestmark = pytest.mark.integration

HOSTS = (
    "https://api.binance.com",
    "https://fapi.binance.com",
    "https://dapi.binance.com",
    "https://eapi.binance.com",
    "https://papi.binance.com",
)


def local_binance(url: str, **config: Any) -> ccxt.binance:
    exchange = ccxt.binance({"apiKey": API_KEY, "secret": API_SECRET, "timeout": 5000, **config})
    api = exchange.urls["api"]
    for name, address in api.items():
        for host in HOSTS:
            address = address.replace(host, url)
        api[name] = address
    return exchange


@pytest.fixture
def binance(url: str) -> ccxt.binance:
    exchange = local_binance(url)
    exchange.load_markets()
    return exchange


def test_markets_load_with_default_options_and_carry_the_filters(url: str) -> None:
    exchange = local_binance(url)
    assert (
        exchange.options["fetchMarkets"]["types"] == ["spot", "linear", "inverse"] and exchange.options["fetchMargins"]
    )
    markets = exchange.load_markets()
    assert set(markets) >= {"BTC/USDT", "ETH/USDT", "ETH/BTC", "BTC/BRL"}
    btc = markets["BTC/USDT"]
    assert (btc["spot"], btc["precision"]["price"], btc["precision"]["amount"]) == (True, 0.01, 0.00001)
    assert (btc["limits"]["amount"]["min"], btc["limits"]["cost"]["min"]) == (0.00001, 5.0)
    assert exchange.currencies["BTC"]["id"] == "BTC"  # from /sapi/v1/capital/config/getall


def test_markets_load_without_credentials_too(url: str) -> None:
    exchange = local_binance(url, apiKey=None, secret=None)
    assert "BTC/USDT" in exchange.load_markets()


def test_trading_with_ccxt(url: str, binance: ccxt.binance) -> None:
    assert binance.fetch_ticker("BTC/USDT")["last"] == 50000.0
    book = binance.fetch_order_book("BTC/USDT", limit=5)
    assert book["bids"][0][0] == book["asks"][0][0] == 50000.0
    assert set(binance.fetch_tickers(["BTC/USDT", "ETH/USDT"])) == {"BTC/USDT", "ETH/USDT"}
    resting = binance.create_order("BTC/USDT", "limit", "buy", 0.001, 49000)
    assert resting["status"] == "open"
    assert [o["id"] for o in binance.fetch_open_orders("BTC/USDT")] == [resting["id"]]
    bought = binance.create_order("BTC/USDT", "market", "buy", 0.001)
    assert (bought["status"], bought["filled"]) == ("closed", 0.001)
    cancelled = binance.cancel_all_orders("BTC/USDT")
    assert [o["id"] for o in cancelled] == [resting["id"]]
    assert [o["status"] for o in binance.fetch_orders("BTC/USDT")] == ["canceled", "closed"]
    trades = binance.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["price"], t["amount"]) for t in trades] == [(bought["id"], 50000.0, 0.001)]
    btc = binance.fetch_balance()["BTC"]
    assert Decimal(str(btc["free"])) == Decimal(1) + Decimal("0.001") - Decimal(str(trades[0]["fee"]["cost"]))
    admin(url, "price", {"symbol": "BTCUSDT", "price": "48000"})
    assert binance.fetch_order(resting["id"], "BTC/USDT")["status"] == "canceled"


def test_binance_errors_become_ccxt_errors(url: str, binance: ccxt.binance) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        binance.fetch_order("987654", "BTC/USDT")
    with pytest.raises(ccxt.InsufficientFunds):
        binance.create_order("BTC/USDT", "market", "buy", 5)
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        binance.create_order("BTC/USDT", "limit", "buy", 0.001, 1)
    limits(
        url,
        enforce=True,
        rate_limits=[{"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": 20}],
    )
    binance.fetch_balance()
    with pytest.raises(ccxt.DDoSProtection):  # ccxt names a 429 so
        binance.fetch_balance()
