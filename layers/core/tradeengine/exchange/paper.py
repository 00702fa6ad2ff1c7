"""The paper exchange: the simulation adapter (SIMULATION_ENABLED=true), over the matching fill model.

Every call loads the book from a ``PaperBookStore``, brings it up to the current market price (resting
orders fill, stops trigger), applies the call and saves with a conditional write; when another
invocation saved first, the call is re-applied on the fresh book. So the API and the monitor see one
book across Lambda invocations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from contracts.orders import BinanceOrderType, OrderRequest, Side
from tradeengine.exchange import codes
from tradeengine.exchange.base import (
    Accepted,
    Balance,
    ExchangeError,
    ExchangeOrder,
    Fill,
    OcoRequest,
    OrderListResult,
    OrderStatus,
    OtocoRequest,
    PlaceOutcome,
    Rejected,
)
from tradeengine.exchange.market_data import FixedMarketData, MarketData, RestMarketData
from tradeengine.exchange.matching import Book, MatchingConfig, MatchingError, Order, OrderList, Trade
from tradeengine.exchange.paper_store import InMemoryPaperBookStore, PaperBookStore
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.rules import SymbolRules

__all__ = [
    "FixedMarketData",
    "InMemoryPaperBookStore",
    "MarketData",
    "PaperBookStore",
    "PaperExchange",
    "RestMarketData",
    "oco_legs",
]

T = TypeVar("T")
DEFAULT_BALANCES = {"USDT": Decimal("10000"), "BTC": Decimal("0"), "ETH": Decimal("0")}
MAX_ATTEMPTS = 8


def _now_ms() -> int:
    return int(time.time() * 1000)


def oco_legs(request: OcoRequest) -> list[OrderRequest]:
    """An OcoRequest as the two orders Binance builds: a STOP_LOSS leg and a LIMIT_MAKER take-profit leg."""
    common: dict[str, Any] = {"symbol": request.symbol, "side": Side(request.side), "quantity": request.quantity}
    if request.stop_limit_price is None:
        stop = OrderRequest(
            type=BinanceOrderType.STOP_LOSS,
            stop_price=request.stop_loss_price,
            trailing_delta=request.stop_loss_trailing_delta,
            new_client_order_id=request.stop_loss_client_order_id,
            **common,
        )
    else:  # symbols without STOP_LOSS take a STOP_LOSS_LIMIT stop leg
        stop = OrderRequest(
            type=BinanceOrderType.STOP_LOSS_LIMIT,
            stop_price=request.stop_loss_price,
            price=request.stop_limit_price,
            time_in_force="GTC",
            trailing_delta=request.stop_loss_trailing_delta,
            new_client_order_id=request.stop_loss_client_order_id,
            **common,
        )
    return [
        stop,
        OrderRequest(
            type=BinanceOrderType.LIMIT_MAKER,
            price=request.take_profit_price,
            new_client_order_id=request.take_profit_client_order_id,
            **common,
        ),
    ]


class PaperExchange:
    """The Exchange port over a simulated book (see the module docstring)."""

    name = "paper"

    def __init__(
        self,
        exchange_info: Mapping[str, Any],
        market: MarketData,
        store: PaperBookStore | None = None,
        starting_balances: Mapping[str, Decimal] | None = None,
        config: MatchingConfig | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._info = dict(exchange_info)
        self.rules: dict[str, SymbolRules] = parse_exchange_info(exchange_info)
        self.market = market
        self.store = store if store is not None else InMemoryPaperBookStore()
        self.starting_balances = dict(starting_balances if starting_balances is not None else DEFAULT_BALANCES)
        self.config = config or MatchingConfig()
        self.clock_ms = clock_ms

    # ---- market ---------------------------------------------------------------------------------
    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        if not symbols:
            return dict(self._info)
        wanted = set(symbols)
        return {**self._info, "symbols": [s for s in self._info.get("symbols", []) if s["symbol"] in wanted]}

    def ticker_price(self, symbol: str) -> Decimal:
        return self.market.price(symbol)

    def average_price(self, symbol: str) -> Decimal:
        return self.market.average_price(symbol)

    # ---- account --------------------------------------------------------------------------------
    def balances(self) -> dict[str, Balance]:
        def read(book: Book) -> dict[str, Balance]:
            assets = sorted(set(book.free) | set(book.locked))
            return {a: Balance(a, *book.balance(a)) for a in assets}

        return self._transact(read, self._symbols_with_open_orders)

    def place_order(self, order: OrderRequest) -> PlaceOutcome:
        return self._place(
            order.symbol, lambda book, now, price, avg: Accepted(self._order(book, book.place(order, now, price, avg)))
        )

    def place_oco(self, request: OcoRequest) -> PlaceOutcome:
        legs = oco_legs(request)
        return self._place(
            request.symbol,
            lambda book, now, price, avg: self._list(
                book, book.place_oco(legs, request.list_client_order_id, now, price, avg)
            ),
        )

    def place_otoco(self, request: OtocoRequest) -> PlaceOutcome:
        legs = oco_legs(request.pending)
        return self._place(
            request.working.symbol,
            lambda book, now, price, avg: self._list(
                book, book.place_otoco(request.working, legs, request.pending.list_client_order_id, now, price, avg)
            ),
        )

    def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder | None:
        def read(book: Book) -> ExchangeOrder | None:
            try:
                return self._order(book, book.get(symbol, order_id, client_order_id))
            except MatchingError:
                return None

        return self._transact(read, lambda _: [symbol])

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> PlaceOutcome:
        def cancel(book: Book) -> PlaceOutcome:
            try:
                return Accepted(self._order(book, book.cancel(symbol, self.clock_ms(), order_id, client_order_id)))
            except MatchingError as exc:
                return Rejected(exc.code, exc.message, exc.http_status)

        return self._transact(cancel, lambda _: [symbol])

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        return self._transact(
            lambda book: [self._order(book, o) for o in book.open_orders(symbol)],
            lambda book: [symbol] if symbol else self._symbols_with_open_orders(book),
        )

    def recent_fills(self, symbol: str, limit: int = 50) -> list[Fill]:
        return self._transact(lambda book: [_fill(t) for t in book.trades_for(symbol, limit)], lambda _: [symbol])

    def order_fills(self, symbol: str, order_id: int) -> list[Fill]:
        def read(book: Book) -> list[Fill]:
            return [_fill(t) for t in book.fills_of(book.get(symbol, order_id=order_id))]

        return self._transact(read, lambda _: [symbol])

    # ---- the book -------------------------------------------------------------------------------
    def _place(self, symbol: str, action: Callable[[Book, int, Decimal, Decimal], PlaceOutcome]) -> PlaceOutcome:
        try:
            price, average = self.market.price(symbol), self.market.average_price(symbol)
        except ExchangeError as exc:  # nothing was placed: safe to retry
            return Rejected(exc.code, exc.message, exc.http_status or 503, retryable=True)

        def apply(book: Book) -> PlaceOutcome:
            now = self.clock_ms()
            book.on_price(symbol, price, now)
            try:
                return action(book, now, price, average)
            except MatchingError as exc:
                return Rejected(exc.code, exc.message, exc.http_status)

        return self._transact(apply, lambda _: [])

    def _transact(self, action: Callable[[Book], T], symbols: Callable[[Book], Iterable[str]]) -> T:
        """Load, refresh prices, act, save conditionally; on a lost race, do it again on the new book."""
        for _ in range(MAX_ATTEMPTS):
            state, version = self.store.load()
            book = Book.from_dict(state, self.rules) if state else Book(self.rules, self.config, self.starting_balances)
            book.config = self.config  # this deployment's settings, whatever the book was saved with
            now = self.clock_ms()
            for symbol in set(symbols(book)):
                book.on_price(symbol, self.market.price(symbol), now)
            result = action(book)
            if self.store.save(book.to_dict(), version):
                return result
        busy = "the paper book is busy: too many concurrent writers"
        raise ExchangeError(codes.DISCONNECTED, busy, 503, retryable=True)

    @staticmethod
    def _symbols_with_open_orders(book: Book) -> list[str]:
        return sorted({o.symbol for o in book.open_orders()})

    @staticmethod
    def _order(book: Book, order: Order) -> ExchangeOrder:
        return ExchangeOrder(
            symbol=order.symbol,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=order.side,
            type=order.type,
            status=OrderStatus(order.status),
            orig_qty=order.orig_qty,
            executed_qty=order.executed_qty,
            cummulative_quote_qty=order.cummulative_quote_qty,
            price=order.price or None,
            stop_price=order.stop_price or None,
            time_in_force=order.time_in_force or None,
            order_list_id=order.order_list_id,
            update_time_ms=order.update_time_ms,
            fills=tuple(_fill(t) for t in book.fills_of(order)),
            trailing_delta=order.trailing_delta or None,
        )

    def _list(self, book: Book, order_list: OrderList) -> Accepted:
        return Accepted(
            OrderListResult(
                order_list_id=order_list.order_list_id,
                list_client_order_id=order_list.list_client_order_id,
                list_status=order_list.list_status_type,
                orders=tuple(self._order(book, o) for o in book.list_orders(order_list)),
            )
        )


def _fill(trade: Trade) -> Fill:
    return Fill(
        trade.price, trade.qty, trade.commission, trade.commission_asset, trade.trade_id, trade.is_maker, trade.time_ms
    )
