"""The local exchange's account and market: the matching book, the price path, one lock, Binance's endpoints.

Each public method takes the request parameters and the server time and returns the JSON body, or
raises ApiError with Binance's code and message. HTTP, signatures and faults live in ``server``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from tradeengine.exchange.matching import Book, MatchingConfig, MatchingError, Order
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.rules import SymbolRules

from local.exchange import wire
from local.exchange.params import ApiError, client_id, integer, need, order_request, text
from local.exchange.prices import PricePath

Params = Mapping[str, str]


class Venue:
    def __init__(
        self,
        exchange_info: dict[str, Any],
        balances: Mapping[str, Decimal],
        prices: Mapping[str, Decimal] | None = None,
        config: MatchingConfig | None = None,
        walk_bps: Decimal = Decimal(0),
        step_ms: int = 1000,
        seed: int = 7,
        now_ms: int = 0,
    ) -> None:
        self.info = exchange_info
        self.rules: dict[str, SymbolRules] = parse_exchange_info(exchange_info)
        self.starting_balances = dict(balances)
        self.config = config or MatchingConfig()
        self.lock = threading.RLock()
        self.book = Book(self.rules, self.config, self.starting_balances)
        self.path = PricePath(self.rules, prices, walk_bps, step_ms, seed, now_ms)
        self._start_prices = dict(prices or {})

    # ---- market ---------------------------------------------------------------------------------
    def tick(self, now_ms: int) -> None:
        """Advance the price path and let the book react (resting orders fill, stops trigger)."""
        for symbol in self.path.advance(now_ms):
            self.book.on_price(symbol, self.path.prices[symbol], now_ms)

    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> Decimal:
        self._symbol(symbol)
        applied = self.path.set(symbol, price, now_ms)
        self.book.on_price(symbol, applied, now_ms)
        return applied

    def exchange_info(self, params: Params, now_ms: int) -> dict[str, Any]:
        wanted: list[str] | None = None
        if "symbol" in params:
            wanted = [params["symbol"]]
        elif "symbols" in params:
            try:
                wanted = [str(s) for s in json.loads(params["symbols"])]
            except (ValueError, TypeError) as exc:
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from exc
        symbols = self.info.get("symbols", [])
        if wanted is not None:
            for symbol in wanted:
                self._symbol(symbol)
            symbols = [s for s in symbols if s["symbol"] in wanted]
        return {**self.info, "serverTime": now_ms, "symbols": symbols}

    def ticker_price(self, params: Params) -> Any:
        if "symbol" not in params:
            return [{"symbol": s, "price": wire.num(p)} for s, p in sorted(self.path.prices.items())]
        symbol = self._symbol(params["symbol"])
        return {"symbol": symbol, "price": wire.num(self.path.prices[symbol])}

    def avg_price(self, params: Params, now_ms: int) -> dict[str, Any]:
        symbol = self._symbol(need(params, "symbol"))
        return {"mins": 5, "price": wire.num(self.path.average(symbol)), "closeTime": now_ms}

    # ---- account --------------------------------------------------------------------------------
    def account(self, now_ms: int) -> dict[str, Any]:
        return wire.account(self.book, now_ms)

    def new_order(self, params: Params, now_ms: int, test: bool = False) -> dict[str, Any]:
        symbol = self._symbol(need(params, "symbol"))
        order = order_request(params, symbol=symbol)
        price, average = self.path.prices[symbol], self.path.average(symbol)
        with _binance_errors():
            if test:
                self.book.validate(order, price, average)
                return {}
            placed = self.book.place(order, now_ms, price, average)
        default = "FULL" if order.type.value in ("MARKET", "LIMIT") else "ACK"
        return wire.new_order(self.book, placed, params.get("newOrderRespType", default))

    def oco(self, params: Params, now_ms: int) -> dict[str, Any]:
        symbol = self._symbol(need(params, "symbol"))
        side, qty = need(params, "side"), need(params, "quantity")
        legs = [order_request(params, p, symbol=symbol, side=side, quantity=qty) for p in ("below", "above")]
        list_id = client_id(params, "listClientOrderId")
        with _binance_errors():
            placed = self.book.place_oco(legs, list_id, now_ms, self.path.prices[symbol], self.path.average(symbol))
        return wire.order_list(self.book, placed, reports=True, resp_type=params.get("newOrderRespType", "FULL"))

    def otoco(self, params: Params, now_ms: int) -> dict[str, Any]:
        symbol = self._symbol(need(params, "symbol"))
        working = order_request(params, "working", symbol=symbol)
        side, qty = need(params, "pendingSide"), need(params, "pendingQuantity")
        pending = [
            order_request(params, p, symbol=symbol, side=side, quantity=qty) for p in ("pendingBelow", "pendingAbove")
        ]
        list_id = client_id(params, "listClientOrderId")
        price, average = self.path.prices[symbol], self.path.average(symbol)
        with _binance_errors():
            placed = self.book.place_otoco(working, pending, list_id, now_ms, price, average)
        return wire.order_list(self.book, placed, reports=True, resp_type=params.get("newOrderRespType", "FULL"))

    def get_order(self, params: Params) -> dict[str, Any]:
        with _binance_errors():
            return wire.query(self._find(params))

    def cancel_order(self, params: Params, now_ms: int) -> dict[str, Any]:
        symbol = self._symbol(need(params, "symbol"))
        order_id, orig = integer(params, "orderId"), text(params, "origClientOrderId", required=False)
        if order_id is None and orig is None:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        with _binance_errors():
            order = self.book.cancel(symbol, now_ms, order_id, orig)
        return wire.canceled(order, order.client_order_id, client_id(params, "newClientOrderId"), now_ms)

    def open_orders(self, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params["symbol"]) if "symbol" in params else None
        return [wire.query(o) for o in sorted(self.book.open_orders(symbol), key=lambda o: o.order_id)]

    def my_trades(self, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(need(params, "symbol"))
        order_id, limit = integer(params, "orderId"), min(integer(params, "limit") or 500, 1000)
        trades = [t for t in self.book.trades_for(symbol, len(self.book.trades)) if order_id in (None, t.order_id)]
        return [wire.trade(t) for t in trades[-limit:]]

    def get_order_list(self, params: Params) -> dict[str, Any]:
        list_id = integer(params, "orderListId")
        with _binance_errors():
            found = self.book.order_list(list_id, text(params, "origClientOrderId", required=False))
        return wire.order_list(self.book, found, reports=False)

    def state(self) -> dict[str, Any]:
        return {"book": self.book.to_dict(), "prices": {s: wire.num(p) for s, p in self.path.prices.items()}}

    def reset(self) -> None:
        self.book = Book(self.rules, self.config, self.starting_balances)

    # ---- helpers --------------------------------------------------------------------------------
    def _symbol(self, symbol: str) -> str:
        if symbol not in self.rules:
            raise ApiError(-1121, "Invalid symbol.")
        return symbol

    def _find(self, params: Params) -> Order:
        symbol = self._symbol(need(params, "symbol"))
        order_id, orig = integer(params, "orderId"), text(params, "origClientOrderId", required=False)
        if order_id is None and orig is None:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return self.book.get(symbol, order_id, orig)


@contextmanager
def _binance_errors() -> Iterator[None]:
    """Turn the fill model's refusals into API errors."""
    try:
        yield
    except MatchingError as exc:
        raise ApiError(exc.code, exc.message, exc.http_status) from exc
