"""The account's read endpoints over orders, order lists and trades, with Binance's paging parameters.

Rows come in chronological order (Binance's rule, rest-api.md "General API Information"): with
``fromId`` / ``orderId`` the oldest from that id, with ``startTime`` the oldest from that time, else the
most recent, up to ``limit`` (default 500, at most 1000). ``startTime`` to ``endTime`` spans at most 24
hours. Times may be sent in milliseconds or microseconds. The venue keeps the last 1000 closed orders
and trades (see the fill model); older ones are no longer listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from local.exchange import wire
from local.exchange.auth import timestamp_ms
from local.exchange.params import ApiError, integer, need

if TYPE_CHECKING:
    from local.exchange.venue import Venue

Params = Mapping[str, str]
Row = TypeVar("Row")
_DAY_MS = 86_400_000


def _limit(params: Params) -> int:
    limit = integer(params, "limit")
    if limit is None:
        return 500
    if limit <= 0:
        raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1 - 1000'.")
    return min(limit, 1000)


def _page(
    rows: Sequence[Row], params: Params, ident: Callable[[Row], int], when: Callable[[Row], int], from_name: str
) -> list[Row]:
    start, end = timestamp_ms(params, "startTime"), timestamp_ms(params, "endTime")
    from_id = integer(params, from_name)
    if start is not None and end is not None and end - start > _DAY_MS:
        raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
    if from_name == "fromId" and from_id is not None and (start is not None or end is not None):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    ordered = sorted(rows, key=ident)
    if from_id is not None:
        ordered = [r for r in ordered if ident(r) >= from_id]
    if start is not None:
        ordered = [r for r in ordered if Decimal(when(r)) >= start]
    if end is not None:
        ordered = [r for r in ordered if Decimal(when(r)) <= end]
    limit = _limit(params)
    return ordered[:limit] if from_id is not None or start is not None else ordered[-limit:]


def open_orders(venue: Venue, params: Params) -> list[dict[str, Any]]:
    symbol = venue.symbol(params["symbol"]) if "symbol" in params else None
    return [wire.query(o) for o in sorted(venue.book.open_orders(symbol), key=lambda o: o.order_id)]


def all_orders(venue: Venue, params: Params) -> list[dict[str, Any]]:
    symbol = venue.symbol(need(params, "symbol"))
    mine = [o for o in venue.book.orders.values() if o.symbol == symbol]
    return [wire.query(o) for o in _page(mine, params, lambda o: o.order_id, lambda o: o.time_ms, "orderId")]


def my_trades(venue: Venue, params: Params) -> list[dict[str, Any]]:
    symbol = venue.symbol(need(params, "symbol"))
    order_id = integer(params, "orderId")
    if order_id is not None and ("startTime" in params or "endTime" in params):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    mine = [t for t in venue.book.trades if t.symbol == symbol and order_id in (None, t.order_id)]
    return [wire.trade(t) for t in _page(mine, params, lambda t: t.trade_id, lambda t: t.time_ms, "fromId")]


def open_order_lists(venue: Venue, params: Params) -> list[dict[str, Any]]:
    lists = sorted(venue.book.lists.values(), key=lambda lst: lst.order_list_id)
    return [wire.order_list(venue.book, lst, reports=False) for lst in lists if lst.list_order_status != "ALL_DONE"]


def all_order_lists(venue: Venue, params: Params) -> list[dict[str, Any]]:
    lists = _page(
        list(venue.book.lists.values()),
        params,
        lambda lst: lst.order_list_id,
        lambda lst: lst.transaction_time_ms,
        "fromId",
    )
    return [wire.order_list(venue.book, lst, reports=False) for lst in lists]
