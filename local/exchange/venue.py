"""The local exchange's account and market: the matching book, the price path, one lock, Binance's endpoints.

Each public method takes the request parameters and the server time and returns the JSON body, or
raises ApiError with Binance's code and message. HTTP, signatures and faults live in ``server``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from tradeengine.exchange.matching import Book, MatchingConfig, MatchingError, Order, OrderList
from tradeengine.exchange.matching_state import INVALID_SYMBOL, ORDER_DOES_NOT_EXIST, UNKNOWN_ORDER_CANCEL
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.rules import SymbolRules

from local.exchange import wire
from local.exchange.params import ApiError, client_id, integer, need, order_request, text
from local.exchange.prices import PricePath

Params = Mapping[str, str]
CLIENT_ID_MISMATCH = (-2039, "Client order ID is not correct for this order ID.")


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
        self.symbol(symbol)
        applied = self.path.set(symbol, price, now_ms)
        self.book.on_price(symbol, applied, now_ms)
        return applied

    # ---- account --------------------------------------------------------------------------------
    def account(self, params: Params, now_ms: int) -> dict[str, Any]:
        out = wire.account(self.book, now_ms)
        if params.get("omitZeroBalances") == "true":
            out["balances"] = [b for b in out["balances"] if Decimal(b["free"]) or Decimal(b["locked"])]
        return out

    def new_order(self, params: Params, now_ms: int, test: bool = False) -> dict[str, Any]:
        symbol = self.symbol(need(params, "symbol"))
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
        symbol = self.symbol(need(params, "symbol"))
        side, qty = need(params, "side"), need(params, "quantity")
        legs = [order_request(params, p, symbol=symbol, side=side, quantity=qty) for p in ("below", "above")]
        list_id = client_id(params, "listClientOrderId")
        with _binance_errors():
            placed = self.book.place_oco(legs, list_id, now_ms, self.path.prices[symbol], self.path.average(symbol))
        return wire.order_list(self.book, placed, reports=True, resp_type=params.get("newOrderRespType", "FULL"))

    def legacy_oco(self, params: Params, now_ms: int) -> dict[str, Any]:
        """The deprecated POST /api/v3/order/oco: a LIMIT_MAKER at ``price`` and a stop at ``stopPrice``
        (STOP_LOSS_LIMIT at ``stopLimitPrice`` when sent), listed stop first as Binance does."""
        symbol = self.symbol(need(params, "symbol"))
        side, qty = need(params, "side"), need(params, "quantity")
        need(params, "price"), need(params, "stopPrice")
        limit_price = text(params, "stopLimitPrice", required=False)
        legs = {"limitType": "LIMIT_MAKER", "limitPrice": params["price"], "stopStopPrice": params["stopPrice"]}
        if limit_price is not None:
            legs.update(
                stopType="STOP_LOSS_LIMIT", stopPrice=limit_price, stopTimeInForce=need(params, "stopLimitTimeInForce")
            )
        else:
            legs["stopType"] = "STOP_LOSS"
        for leg in ("limit", "stop"):
            if params.get(f"{leg}ClientOrderId"):
                legs[f"{leg}ClientOrderId"] = params[f"{leg}ClientOrderId"]
        orders = [order_request(legs, p, symbol=symbol, side=side, quantity=qty) for p in ("stop", "limit")]
        list_id = client_id(params, "listClientOrderId")
        with _binance_errors():
            placed = self.book.place_oco(orders, list_id, now_ms, self.path.prices[symbol], self.path.average(symbol))
        return wire.order_list(self.book, placed, reports=True, resp_type=params.get("newOrderRespType", "FULL"))

    def otoco(self, params: Params, now_ms: int) -> dict[str, Any]:
        symbol = self.symbol(need(params, "symbol"))
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
        order = self._find(params, CLIENT_ID_MISMATCH)
        if order is None:
            raise ApiError(*ORDER_DOES_NOT_EXIST)
        return wire.query(order)

    def cancel_order(self, params: Params, now_ms: int) -> dict[str, Any]:
        order = self._find(params, UNKNOWN_ORDER_CANCEL)
        if order is None or not order.is_open:
            raise ApiError(*UNKNOWN_ORDER_CANCEL)
        with _binance_errors():
            self.book.cancel(order.symbol, now_ms, order.order_id)
        return wire.canceled(order, order.client_order_id, client_id(params, "newClientOrderId"), now_ms)

    def cancel_open_orders(self, params: Params, now_ms: int) -> list[dict[str, Any]]:
        """DELETE /api/v3/openOrders: every open order of the symbol; an order list answers once, whole."""
        symbol = self.symbol(need(params, "symbol"))
        cancel_id = client_id(params, "newClientOrderId")
        out: list[dict[str, Any]] = []
        for order in sorted(self.book.open_orders(symbol), key=lambda o: o.order_id):
            if not order.is_open:  # closed meanwhile as a member of a list cancelled above
                continue
            if order.order_list_id >= 0:
                out.append(self._cancel_list(self.book.lists[order.order_list_id], cancel_id, now_ms))
                continue
            with _binance_errors():
                self.book.cancel(symbol, now_ms, order.order_id)
            out.append(wire.canceled(order, order.client_order_id, cancel_id, now_ms))
        if not out:
            raise ApiError(*UNKNOWN_ORDER_CANCEL)
        return out

    def cancel_order_list(self, params: Params, now_ms: int) -> dict[str, Any]:
        """DELETE /api/v3/orderList by orderListId or listClientOrderId (both: they must agree)."""
        symbol = self.symbol(need(params, "symbol"))
        list_id, list_client_id = integer(params, "orderListId"), text(params, "listClientOrderId", required=False)
        if list_id is None and list_client_id is None:
            raise ApiError(-1102, "Param 'orderListId' or 'listClientOrderId' must be sent, but both were empty/null!")
        found = self.book.lists.get(list_id) if list_id is not None else None
        if list_id is None and list_client_id is not None:
            found = self.book.lists.get(self.book.list_client_ids.get(list_client_id, -1))
        if found is None or found.symbol != symbol or list_client_id not in (None, found.list_client_order_id):
            raise ApiError(-2011, "Unknown order list sent.")
        if found.list_order_status == "ALL_DONE":
            raise ApiError(-2011, "Unknown order list sent.")
        return self._cancel_list(found, client_id(params, "newClientOrderId"), now_ms)

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
    def symbol(self, symbol: str) -> str:
        if symbol not in self.rules:
            raise ApiError(*INVALID_SYMBOL)
        return symbol

    def _find(self, params: Params, mismatch: tuple[int, str]) -> Order | None:
        """By orderId, else by origClientOrderId; with both, the order found by id must carry that client id."""
        symbol = self.symbol(need(params, "symbol"))
        order_id, orig = integer(params, "orderId"), text(params, "origClientOrderId", required=False)
        if order_id is None and orig is None:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        try:
            order = self.book.get(symbol, order_id, orig if order_id is None else None)
        except MatchingError:
            return None
        if orig is not None and order.client_order_id != orig:
            raise ApiError(*mismatch)
        return order

    def _cancel_list(self, found: OrderList, cancel_id: str, now_ms: int) -> dict[str, Any]:
        members = [o for o in self.book.list_orders(found) if o.is_open]
        with _binance_errors():
            self.book.cancel(found.symbol, now_ms, members[0].order_id)  # one member cancels the whole list
        out = wire.order_list(self.book, found, reports=False)
        out["orderReports"] = [wire.canceled(o, o.client_order_id, cancel_id, now_ms) for o in members]
        return out


@contextmanager
def _binance_errors() -> Iterator[None]:
    """Turn the fill model's refusals into API errors."""
    try:
        yield
    except MatchingError as exc:
        raise ApiError(exc.code, exc.message, exc.http_status) from exc
