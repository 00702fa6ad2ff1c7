"""Where the paper exchange gets its prices: a port, a fixed-price adapter and a Binance public REST adapter.

The REST adapter speaks Binance's public endpoints (``/api/v3/ticker/price``, ``/api/v3/avgPrice``),
so it reads the real venue when reachable and the local exchange in the laptop stack and tests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tradeengine.exchange import codes
from tradeengine.exchange.base import ExchangeError


@runtime_checkable
class MarketData(Protocol):
    def price(self, symbol: str) -> Decimal:
        """The last traded price."""
        ...

    def average_price(self, symbol: str) -> Decimal:
        """Binance's avgPrice (the window PERCENT_PRICE and market NOTIONAL are judged on)."""
        ...


class FixedMarketData:
    """Prices set by hand (a scenario, a replay); the average is the last price unless set."""

    def __init__(self, prices: Mapping[str, Decimal] | None = None) -> None:
        self.prices: dict[str, Decimal] = dict(prices or {})
        self.averages: dict[str, Decimal] = {}

    def set(self, symbol: str, price: Decimal, average: Decimal | None = None) -> None:
        self.prices[symbol] = price
        if average is not None:
            self.averages[symbol] = average

    def price(self, symbol: str) -> Decimal:
        if symbol not in self.prices:
            raise ExchangeError(codes.INVALID_SYMBOL, "Invalid symbol.", 400)
        return self.prices[symbol]

    def average_price(self, symbol: str) -> Decimal:
        return self.averages.get(symbol) or self.price(symbol)


class RestMarketData:
    """Binance-compatible public REST (the real venue or the local exchange), over urllib."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def price(self, symbol: str) -> Decimal:
        return Decimal(str(self._get("/api/v3/ticker/price", symbol)["price"]))

    def average_price(self, symbol: str) -> Decimal:
        return Decimal(str(self._get("/api/v3/avgPrice", symbol)["price"]))

    def exchange_info(self) -> dict[str, Any]:
        """The venue's whole exchangeInfo (what the paper exchange trades by)."""
        return self._get("/api/v3/exchangeInfo")

    def _get(self, path: str, symbol: str | None = None) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode({'symbol': symbol})}" if symbol is not None else ""
        url = f"{self.base_url}{path}{query}"
        if not url.startswith(("http://", "https://")):
            raise ExchangeError(codes.UNKNOWN, f"market data URL must be http(s): {self.base_url}")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as reply:  # noqa: S310 (scheme checked above)
                body: dict[str, Any] = json.loads(reply.read())
                return body
        except urllib.error.HTTPError as exc:
            detail = _error_body(exc)
            raise ExchangeError(
                int(detail.get("code", codes.UNKNOWN)), str(detail.get("msg", exc.reason)), exc.code, exc.code >= 500
            ) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ExchangeError(codes.DISCONNECTED, f"market data unreachable: {exc}", 0, retryable=True) from exc


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return {}
    return body if isinstance(body, dict) else {}
