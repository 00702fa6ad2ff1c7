"""The fill model for single orders (order lists build on it in ``matching``).

One book of balances and orders, shared by the paper exchange and the local exchange.

Pure (no I/O, no clock, Decimal only): the caller passes the time and the market price. A taker walks
the levels of ``matching_depth`` (by default one level of unlimited size: a market order fills in full
at the reference price moved by the slippage, a marketable limit at the better of its limit and the
market); a resting limit fills at its limit price when the price reaches it, with limited depth at most
one level's size per price update (so it is PARTIALLY_FILLED for a while). IOC takes what it can and
expires the rest, FOK fills whole or expires. Stop and take-profit orders trigger when the price
crosses their stopPrice, trailing ones as ``matching_trailing`` says. OCO legs cancel each other; an
OTOCO's pending pair becomes working when its entry fills. Fees: maker/taker rates, charged like
Binance (a buy pays in the base asset received, a sell in the quote asset received), unless configured
otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Self

from contracts.orders import OrderRequest
from tradeengine.exchange import codes
from tradeengine.exchange import matching_trailing as trailing
from tradeengine.exchange.matching_depth import level_size, step_for, walk
from tradeengine.exchange.matching_funds import Funds
from tradeengine.exchange.matching_state import (
    DUPLICATE_ORDER,
    INVALID_SYMBOL,
    MARKET_CLOSED,
    ORDER_DOES_NOT_EXIST,
    UNKNOWN_ORDER_CANCEL,
    WOULD_TAKE,
    WOULD_TRIGGER,
    ZERO,
    MatchingConfig,
    MatchingError,
    Order,
    OrderList,
    Trade,
    order_from_dict,
    order_list_from_dict,
    record_to_dict,
    refuse,
    trade_from_dict,
)
from tradeengine.rules import OrderContext, SymbolRules, Violation

_STOPS = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_TAKE_PROFITS = ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_MARKET_ON_TRIGGER = ("STOP_LOSS", "TAKE_PROFIT")
HISTORY_LIMIT = 1000  # closed orders and trades kept in the state (a DynamoDB item is at most 400 KB)

# Violations of rules.check that are not filter failures carry their own Binance codes.
_VIOLATION_CODES = {
    "SYMBOL": codes.INVALID_SYMBOL,
    "ORDER_TYPE": codes.UNKNOWN_ORDER_COMPOSITION,
    "PRICE": codes.MALFORMED_PARAM,
    "STOP_PRICE": codes.MALFORMED_PARAM,
}


def triggers(order_type: str, side: str, stop: Decimal, price: Decimal) -> bool:
    """Whether a stop / take-profit order with this stopPrice fires at this market price."""
    if order_type in _STOPS:
        return price <= stop if side == "SELL" else price >= stop
    if order_type in _TAKE_PROFITS:
        return price >= stop if side == "SELL" else price <= stop
    return False


def crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    """Whether a limit order at ``limit`` is marketable at this market price."""
    return price <= limit if side == "BUY" else price >= limit


class OrderBook(Funds):
    """Balances, orders, order lists and trades of one account, with the exchange's rules per symbol."""

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        config: MatchingConfig | None = None,
        balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.rules = dict(rules)
        self.config = config or MatchingConfig()
        self.free: dict[str, Decimal] = {k: Decimal(v) for k, v in (balances or {}).items()}
        self.locked: dict[str, Decimal] = {}
        self.orders: dict[int, Order] = {}
        self.client_ids: dict[str, int] = {}  # "SYMBOL:clientOrderId" -> latest order id
        self.trades: list[Trade] = []
        self.prices: dict[str, Decimal] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.lists: dict[int, OrderList] = {}
        self.list_client_ids: dict[str, int] = {}
        self.next_list_id = 1
        self._sliced: set[int] = set()  # orders that took their level at this price update

    # ---- hooks for order lists (see matching.Book) ----------------------------------------------
    def cancel_member(self, order: Order, now_ms: int) -> None:
        self._close(order, "CANCELED", now_ms)

    def take_sibling_locks(self, order: Order, now_ms: int) -> None:
        """Before a fill: an OCO leg takes over the funds its sibling holds (one lock per list)."""

    def after_close(self, order: Order, now_ms: int) -> None:
        """After an order ends: cancel its OCO sibling, activate an OTOCO pair, close the list."""

    def after_partial(self, order: Order, now_ms: int) -> None:
        """After a partial fill: an OCO leg that starts filling expires its sibling."""

    # ---- reads ----------------------------------------------------------------------------------
    def get(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        order = self._find(symbol, order_id, client_order_id)
        if order is None:
            raise refuse(ORDER_DOES_NOT_EXIST)
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    def fills_of(self, order: Order) -> list[Trade]:
        wanted = set(order.trade_ids)
        return [t for t in self.trades if t.trade_id in wanted]

    def trades_for(self, symbol: str, limit: int = 500) -> list[Trade]:
        return [t for t in self.trades if t.symbol == symbol][-limit:]

    # ---- writes ---------------------------------------------------------------------------------
    def validate(
        self, order: OrderRequest, price: Decimal, average: Decimal | None = None, at_market: bool = True
    ) -> SymbolRules:
        """Every check the exchange makes before accepting ``order`` (order/test stops here).

        ``at_market=False`` skips the checks against the current price (an OTOCO's pending pair is
        judged when it becomes working).
        """
        rules = self.rules.get(order.symbol)
        if rules is None:
            raise refuse(INVALID_SYMBOL)
        if not rules.trading:
            raise refuse(MARKET_CLOSED)
        if order.type.needs_time_in_force and order.time_in_force is None:
            missing = "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
            raise MatchingError(codes.MALFORMED_PARAM, missing)
        open_here = self.open_orders(order.symbol)
        ctx = OrderContext(
            average_price=average if average is not None else price,
            open_orders=len(open_here),
            open_algo_orders=sum(1 for o in open_here if o.type in _STOPS + _TAKE_PROFITS),
        )
        trailing_stop = order.trailing_delta is not None  # its stopPrice is optional: the activation price
        problems = [p for p in rules.check(order, ctx) if not (trailing_stop and p.filter == "STOP_PRICE")]
        if problems:
            raise _violation_error(problems[0])
        trailing.check(rules, order)
        if not at_market:
            return rules
        side, otype = order.side.value, order.type.value
        if otype == "LIMIT_MAKER" and order.price is not None and crosses(side, order.price, price):
            raise refuse(WOULD_TAKE)
        if order.stop_price is not None and triggers(otype, side, order.stop_price, price):
            raise refuse(WOULD_TRIGGER)
        return rules

    def place(self, order: OrderRequest, now_ms: int, price: Decimal, average: Decimal | None = None) -> Order:
        """Accept (and possibly fill) one order, or raise MatchingError as the exchange would answer."""
        self.prices[order.symbol] = price
        rules = self.validate(order, price, average)
        self._check_duplicate(order.symbol, order.new_client_order_id)
        record = self._new_order(order, now_ms)
        if order.quote_order_qty is not None:
            record.orig_qty = self._quote_qty_to_base(order, rules, price)
        self._lock(record, self._lock_needed(record, price))
        self._commit(record)
        self._work(record, now_ms)
        return record

    def cancel(
        self, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order (an order list's leg cancels the whole list); -2011 when not open."""
        order = self._find(symbol, order_id, client_order_id)
        if order is None or not order.is_open:
            raise refuse(UNKNOWN_ORDER_CANCEL)
        self.cancel_member(order, now_ms)
        return order

    def on_price(self, symbol: str, price: Decimal, now_ms: int) -> None:
        """A market price: trigger stops, fill resting limits, run what those fills set off.

        With limited depth a resting order takes at most one level per price update, and only a new
        price is an update (the same price again is no new trading).
        """
        fresh = self.prices.get(symbol) != price
        self.prices[symbol] = price
        self._sliced = set()
        for _ in range(100):  # a fill can activate an OTOCO pair that fills at once; bounded, never endless
            orders = sorted(self.open_orders(symbol), key=_by_id)
            if not any(self._step(o, price, now_ms, fresh) for o in orders):
                break
        self._prune()

    # ---- the model ------------------------------------------------------------------------------
    def _step(self, order: Order, price: Decimal, now_ms: int, fresh: bool = True) -> bool:
        if order.status == "PENDING_NEW" or not order.is_open:
            return False
        if not order.triggered:
            stop_met = order.stop_price > 0 and triggers(order.type, order.side, order.stop_price, price)
            fired = trailing.step(order, price, now_ms, stop_met) if order.trailing_delta else stop_met
            if not fired:
                return False
            order.triggered = True
            order.working_time_ms = now_ms
            order.update_time_ms = now_ms
            self._work(order, now_ms)
            return True
        if order.price > 0 and crosses(order.side, order.price, price):
            if not self.config.depth_limited:
                self._fill(order, order.price, is_maker=True, now_ms=now_ms)
                return True
            if not fresh or order.order_id in self._sliced:
                return False
            self._sliced.add(order.order_id)
            size = level_size(self.config, step_for(self.rules[order.symbol], order.type), order.price)
            self._fill(order, order.price, is_maker=True, now_ms=now_ms, qty=size)
            return True
        return False

    def _work(self, order: Order, now_ms: int) -> None:
        """Execute what can execute now; leave the rest resting (or expire it, for IOC / FOK)."""
        price = self.prices[order.symbol]
        if not order.triggered:
            trailing.start(order, price, now_ms)
            return  # a stop waiting for its price
        self._sliced.add(order.order_id)
        if order.type == "MARKET" or order.type in _MARKET_ON_TRIGGER:
            self._take(order, walk(self.config, self.rules[order.symbol], order, price), now_ms)
            if order.is_open:  # the book ran out of levels before the order was filled
                self._close(order, "EXPIRED", now_ms)
        elif crosses(order.side, order.price, price):
            slices = walk(self.config, self.rules[order.symbol], order, price, order.price)
            remaining = order.orig_qty - order.executed_qty
            if order.time_in_force == "FOK" and sum((q for _, q in slices), ZERO) < remaining:
                self._close(order, "EXPIRED", now_ms)  # fill or kill: not all of it within the limit
                return
            self._take(order, slices, now_ms)
            if order.is_open and order.time_in_force in ("IOC", "FOK"):
                self._close(order, "EXPIRED", now_ms)
        elif order.time_in_force in ("IOC", "FOK"):
            self._close(order, "EXPIRED", now_ms)
        elif order.working_time_ms < 0:
            order.working_time_ms = now_ms

    def _take(self, order: Order, slices: list[tuple[Decimal, Decimal]], now_ms: int) -> None:
        """Fill as taker, one fill (and trade id) per level, until filled or no longer payable."""
        for at, qty in slices:
            self._fill(order, at, is_maker=False, now_ms=now_ms, qty=qty)
            if not order.is_open:
                return

    def _fill(self, order: Order, price: Decimal, is_maker: bool, now_ms: int, qty: Decimal | None = None) -> None:
        remaining = order.orig_qty - order.executed_qty
        qty = remaining if qty is None else min(qty, remaining)
        quote = price * qty
        self.take_sibling_locks(order, now_ms)
        asset, fee, paid_asset, pay, got_asset, receive = self._charge(order, price, qty, is_maker)
        if not self._pay(order, paid_asset, pay):
            self._close(order, "EXPIRED", now_ms)  # a triggered order the account can no longer pay for
            return
        self.free[got_asset] = self.free.get(got_asset, ZERO) + receive
        trade = Trade(
            self.next_trade_id, order.order_id, order.order_list_id, order.symbol, order.side,
            price, qty, quote, fee, asset, now_ms, is_maker,
        )  # fmt: skip
        self.next_trade_id += 1
        self.trades.append(trade)
        order.trade_ids.append(trade.trade_id)
        order.executed_qty += qty
        order.cummulative_quote_qty += quote
        if order.working_time_ms < 0:
            order.working_time_ms = now_ms
        if order.executed_qty >= order.orig_qty:
            self._close(order, "FILLED", now_ms)
            return
        order.status = "PARTIALLY_FILLED"
        order.update_time_ms = now_ms
        self.after_partial(order, now_ms)
        self._trim_lock(order)

    def _close(self, order: Order, status: str, now_ms: int) -> None:
        order.status = status
        order.update_time_ms = now_ms
        self.release(order)
        self.after_close(order, now_ms)

    # ---- records --------------------------------------------------------------------------------
    def _find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> Order | None:
        if order_id is None and client_order_id is not None:
            order_id = self.client_ids.get(f"{symbol}:{client_order_id}")
        order = self.orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.symbol == symbol else None

    def _check_duplicate(self, symbol: str, client_order_id: str) -> None:
        existing = self._find(symbol, None, client_order_id)
        if existing is not None and existing.is_open:
            raise refuse(DUPLICATE_ORDER)

    def _new_order(self, order: OrderRequest, now_ms: int, list_id: int = -1) -> Order:
        record = Order(
            order_id=self.next_order_id,
            symbol=order.symbol,
            client_order_id=order.new_client_order_id,
            side=order.side.value,
            type=order.type.value,
            status="NEW",
            orig_qty=order.quantity or ZERO,
            price=order.price or ZERO,
            stop_price=order.stop_price or ZERO,
            time_in_force=order.time_in_force or "",
            orig_quote_order_qty=order.quote_order_qty or ZERO,
            order_list_id=list_id,
            time_ms=now_ms,
            update_time_ms=now_ms,
            triggered=not order.type.needs_stop_price,
            trailing_delta=order.trailing_delta or 0,
        )
        self.next_order_id += 1
        return record

    def _commit(self, record: Order) -> None:
        self.orders[record.order_id] = record
        self.client_ids[f"{record.symbol}:{record.client_order_id}"] = record.order_id

    def _prune(self) -> None:
        closed = [o for o in self.orders.values() if not o.is_open]
        for old in sorted(closed, key=_by_id)[: max(0, len(closed) - HISTORY_LIMIT)]:
            del self.orders[old.order_id]
        del self.trades[: max(0, len(self.trades) - HISTORY_LIMIT)]

    # ---- state ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot (money as plain strings), restorable with ``Book.from_dict``."""
        self._prune()
        assets = sorted(set(self.free) | set(self.locked))
        return {
            "config": self.config.to_dict(),
            "balances": {
                a: {"free": _s(self.free.get(a, ZERO)), "locked": _s(self.locked.get(a, ZERO))} for a in assets
            },
            "orders": [record_to_dict(o) for o in sorted(self.orders.values(), key=_by_id)],
            "order_lists": [record_to_dict(x) for x in self.lists.values()],
            "trades": [record_to_dict(t) for t in self.trades],
            "prices": {k: _s(v) for k, v in self.prices.items()},
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_list_id": self.next_list_id,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], rules: Mapping[str, SymbolRules]) -> Self:
        book = cls(rules, MatchingConfig.from_dict(raw.get("config", {})))
        for asset, bal in raw.get("balances", {}).items():
            book.free[asset], book.locked[asset] = Decimal(bal["free"]), Decimal(bal["locked"])
        for item in raw.get("orders", []):
            book._commit(order_from_dict(item))
        book.trades = [trade_from_dict(t) for t in raw.get("trades", [])]
        book.prices = {k: Decimal(v) for k, v in raw.get("prices", {}).items()}
        book.next_order_id = int(raw.get("next_order_id", 1))
        book.next_trade_id = int(raw.get("next_trade_id", 1))
        for item in raw.get("order_lists", []):
            order_list = order_list_from_dict(item)
            book.lists[order_list.order_list_id] = order_list
            book.list_client_ids[order_list.list_client_order_id] = order_list.order_list_id
        book.next_list_id = int(raw.get("next_list_id", 1))
        return book


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _by_id(order: Order) -> int:
    return order.order_id


def _violation_error(violation: Violation) -> MatchingError:
    return MatchingError(_VIOLATION_CODES.get(violation.filter, codes.FILTER_FAILURE), violation.message)
