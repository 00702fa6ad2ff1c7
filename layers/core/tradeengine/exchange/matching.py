"""The fill model: one book, shared by the paper exchange and the local exchange (see matching_book).

This module adds order lists to the single-order book: OCO (two legs, one lock, one leg's fill expires
the other, cancelling one cancels both) and OTOCO (a working entry whose fill activates a pending OCO
pair; if the account cannot pay for the pair then, the pair expires). Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from contracts.orders import OrderRequest
from tradeengine.exchange import codes
from tradeengine.exchange.matching_book import OrderBook, crosses, triggers
from tradeengine.exchange.matching_state import (
    DUPLICATE_ORDER,
    ZERO,
    MatchingConfig,
    MatchingError,
    Order,
    OrderList,
    Trade,
    refuse,
)

__all__ = ["Book", "MatchingConfig", "MatchingError", "Order", "OrderList", "Trade", "crosses", "triggers"]


class Book(OrderBook):
    """Balances, orders, order lists and trades of one account; see the module docstrings."""

    def place_oco(
        self,
        legs: Sequence[OrderRequest],
        list_client_order_id: str,
        now_ms: int,
        price: Decimal,
        average: Decimal | None = None,
    ) -> OrderList:
        """Two exit legs on the same side and quantity; they share one lock of funds."""
        symbol = self._check_pair(legs, list_client_order_id)
        self.prices[symbol] = price
        for leg in legs:
            self.validate(leg, price, average)
        order_list = self._new_list(list_client_order_id, "OCO", symbol, now_ms)
        records = [self._new_order(leg, now_ms, order_list.order_list_id) for leg in legs]
        self._lock(records[0], self._pair_lock(records, price))
        for record in records:
            self._commit(record)
            order_list.order_ids.append(record.order_id)
        self._store_list(order_list)
        for record in records:
            if record.is_open:
                self._work(record, now_ms)
        return order_list

    def place_otoco(
        self,
        working: OrderRequest,
        pending: Sequence[OrderRequest],
        list_client_order_id: str,
        now_ms: int,
        price: Decimal,
        average: Decimal | None = None,
    ) -> OrderList:
        """An entry order plus an OCO pair that starts working when the entry has filled."""
        symbol = self._check_pair(pending, list_client_order_id)
        if working.symbol != symbol or working.side == pending[0].side:
            raise MatchingError(
                codes.PARAM_NOT_REQUIRED, "The pending orders must be on the other side of the working order."
            )
        self.prices[symbol] = price
        self.validate(working, price, average)
        for leg in pending:
            self.validate(leg, price, average, at_market=False)
        self._check_duplicate(symbol, working.new_client_order_id)
        order_list = self._new_list(list_client_order_id, "OTO", symbol, now_ms)
        entry = self._new_order(working, now_ms, order_list.order_list_id)
        self._lock(entry, self._lock_needed(entry, price))
        self._commit(entry)
        order_list.working_order_id = entry.order_id
        order_list.order_ids.append(entry.order_id)
        for leg in pending:
            record = self._new_order(leg, now_ms, order_list.order_list_id)
            record.status = "PENDING_NEW"
            self._commit(record)
            order_list.order_ids.append(record.order_id)
        self._store_list(order_list)
        self._work(entry, now_ms)
        return order_list

    def order_list(self, order_list_id: int | None = None, list_client_order_id: str | None = None) -> OrderList:
        if order_list_id is None and list_client_order_id is not None:
            order_list_id = self.list_client_ids.get(list_client_order_id)
        found = self.lists.get(order_list_id) if order_list_id is not None else None
        if found is None:
            raise MatchingError(codes.BALANCE_NOT_SUFFICIENT, "Order list does not exist.")
        return found

    def list_orders(self, order_list: OrderList) -> list[Order]:
        return [self.orders[i] for i in order_list.order_ids if i in self.orders]

    # ---- hooks ----------------------------------------------------------------------------------
    def cancel_member(self, order: Order, now_ms: int) -> None:
        if order.order_list_id < 0:
            super().cancel_member(order, now_ms)
            return
        for member in self.list_orders(self.lists[order.order_list_id]):
            if member.is_open:
                self._close(member, "CANCELED", now_ms)

    def take_sibling_locks(self, order: Order, now_ms: int) -> None:
        for sibling in self._pair_siblings(order):
            if sibling.lock_amount > 0 and order.lock_asset in (sibling.lock_asset, ""):
                order.lock_asset = sibling.lock_asset
                order.lock_amount += sibling.lock_amount
                sibling.lock_amount = ZERO

    def after_partial(self, order: Order, now_ms: int) -> None:
        for sibling in self._pair_siblings(order):  # not through _close: that would close this leg too
            sibling.status = "EXPIRED"
            sibling.update_time_ms = now_ms
            self.release(sibling)

    def after_close(self, order: Order, now_ms: int) -> None:
        order_list = self.lists.get(order.order_list_id)
        if order_list is None:
            return
        if order.order_id == order_list.working_order_id:
            pair = [o for o in self.list_orders(order_list) if o.order_id != order.order_id]
            if order.status == "FILLED":
                self._activate(pair, now_ms)
            else:
                for leg in pair:
                    if leg.is_open:
                        self._close(leg, "CANCELED", now_ms)
        else:
            for sibling in self._pair_siblings(order):
                # Binance reports the other leg EXPIRED when one fills, CANCELED when the list is cancelled.
                self._close(sibling, "EXPIRED" if order.status == "FILLED" else order.status, now_ms)
        if not any(o.is_open for o in self.list_orders(order_list)):
            order_list.list_status_type = "ALL_DONE"
            order_list.list_order_status = "ALL_DONE"

    # ---- helpers --------------------------------------------------------------------------------
    def _activate(self, pair: list[Order], now_ms: int) -> None:
        asset, amount = self._pair_lock(pair, self.prices[pair[0].symbol])
        if self.free.get(asset, ZERO) < amount:
            for leg in pair:  # the entry's commission left too little to cover the exits
                self._close(leg, "EXPIRED", now_ms)
            return
        for leg in pair:
            leg.status = "NEW"
            leg.update_time_ms = now_ms
        self._lock(pair[0], (asset, amount))
        for leg in pair:
            if leg.is_open:
                self._work(leg, now_ms)

    def _pair_lock(self, legs: Sequence[Order], price: Decimal) -> tuple[str, Decimal]:
        needs = [self._lock_needed(leg, price) for leg in legs]
        return needs[0][0], max(amount for _, amount in needs)

    def _pair_siblings(self, order: Order) -> list[Order]:
        order_list = self.lists.get(order.order_list_id)
        if order_list is None or order.order_id == order_list.working_order_id:
            return []
        return [
            o
            for o in self.list_orders(order_list)
            if o.order_id not in (order.order_id, order_list.working_order_id) and o.is_open
        ]

    def _check_pair(self, legs: Sequence[OrderRequest], list_client_order_id: str) -> str:
        if len(legs) != 2:
            raise MatchingError(codes.MALFORMED_PARAM, "An OCO needs exactly two orders.")
        first, second = legs
        if first.symbol != second.symbol or first.side != second.side or first.quantity != second.quantity:
            raise MatchingError(
                codes.PARAM_NOT_REQUIRED, "Both OCO orders must have the same symbol, side and quantity."
            )
        rules = self.rules.get(first.symbol)
        if rules is not None and not rules.oco_allowed:
            raise MatchingError(codes.FILTER_FAILURE, "OCO orders are not supported for this symbol.")
        existing = self.list_client_ids.get(list_client_order_id)
        if existing is not None and self.lists[existing].list_order_status != "ALL_DONE":
            raise refuse(DUPLICATE_ORDER)
        for leg in legs:
            self._check_duplicate(leg.symbol, leg.new_client_order_id)
        return first.symbol

    def _new_list(self, list_client_order_id: str, contingency: str, symbol: str, now_ms: int) -> OrderList:
        order_list = OrderList(
            self.next_list_id, list_client_order_id, contingency, symbol, [], transaction_time_ms=now_ms
        )
        self.next_list_id += 1
        return order_list

    def _store_list(self, order_list: OrderList) -> None:
        self.lists[order_list.order_list_id] = order_list
        self.list_client_ids[order_list.list_client_order_id] = order_list.order_list_id
