"""Every endpoint the local exchange serves: handler, whether it is signed, its request weight, its order count.

Weights are Binance's (rest-api.md), including the ones that depend on the parameters sent; an order
endpoint counts 1 order (an OCO 2, an OTOCO 3) against the ORDERS limits. The ``sapi`` / ``fapi`` /
``dapi`` paths are what ccxt asks for while loading markets; a spot-only venue answers them empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.exchange import history, market, spot_only

if TYPE_CHECKING:
    from local.exchange.server import LocalExchange

Params = Mapping[str, str]
Handler = Callable[["LocalExchange", Params, int], Any]
Weight = Callable[[Params], int]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    signed: bool
    weight: Weight
    orders: int = 0  # counted against ORDERS when the order is placed


def fixed(weight: int) -> Weight:
    return lambda params: weight


def _symbol_count(params: Params) -> int | None:
    """How many symbols ``symbols=[...]`` names (None: the parameter is absent or unreadable)."""
    try:
        wanted = json.loads(params["symbols"]) if "symbols" in params else None
    except ValueError:
        return None
    return len(wanted) if isinstance(wanted, list) else None


def one_or_all(one: int, many: int) -> Weight:
    """``symbol=`` costs ``one``; ``symbols=`` or no symbol at all costs ``many`` (ticker/price, bookTicker)."""
    return lambda params: one if "symbol" in params else many


def ticker_24hr_weight(params: Params) -> int:
    if "symbol" in params:
        return 2
    count = _symbol_count(params)
    if count is None:
        return 80
    return 2 if count <= 20 else 40 if count <= 100 else 80


def depth_weight(params: Params) -> int:
    raw = params.get("limit", "100")
    limit = int(raw) if raw.isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


ROUTES: dict[tuple[str, str], Route] = {
    # ---- public ----
    ("GET", "/api/v3/ping"): Route(lambda ex, p, now: {}, False, fixed(1)),
    ("GET", "/api/v3/time"): Route(lambda ex, p, now: {"serverTime": now}, False, fixed(1)),
    ("GET", "/api/v3/exchangeInfo"): Route(
        lambda ex, p, now: market.exchange_info(ex.venue, p, now, ex.limiter.served()), False, fixed(20)
    ),
    ("GET", "/api/v3/depth"): Route(lambda ex, p, now: market.depth(ex.venue, p), False, depth_weight),
    ("GET", "/api/v3/ticker/price"): Route(
        lambda ex, p, now: market.ticker_price(ex.venue, p), False, one_or_all(2, 4)
    ),
    ("GET", "/api/v3/ticker/bookTicker"): Route(
        lambda ex, p, now: market.book_ticker(ex.venue, p), False, one_or_all(2, 4)
    ),
    ("GET", "/api/v3/ticker/24hr"): Route(
        lambda ex, p, now: market.ticker_24hr(ex.venue, p, now), False, ticker_24hr_weight
    ),
    ("GET", "/api/v3/avgPrice"): Route(lambda ex, p, now: market.avg_price(ex.venue, p, now), False, fixed(2)),
    # ---- trading ----
    ("POST", "/api/v3/order"): Route(lambda ex, p, now: ex.venue.new_order(p, now), True, fixed(1), orders=1),
    ("POST", "/api/v3/order/test"): Route(
        lambda ex, p, now: ex.venue.new_order(p, now, test=True),
        True,
        lambda p: 20 if p.get("computeCommissionRates") == "true" else 1,
    ),
    ("DELETE", "/api/v3/order"): Route(lambda ex, p, now: ex.venue.cancel_order(p, now), True, fixed(1)),
    ("DELETE", "/api/v3/openOrders"): Route(lambda ex, p, now: ex.venue.cancel_open_orders(p, now), True, fixed(1)),
    ("POST", "/api/v3/order/oco"): Route(lambda ex, p, now: ex.venue.legacy_oco(p, now), True, fixed(1), orders=2),
    ("POST", "/api/v3/orderList/oco"): Route(lambda ex, p, now: ex.venue.oco(p, now), True, fixed(1), orders=2),
    ("POST", "/api/v3/orderList/otoco"): Route(lambda ex, p, now: ex.venue.otoco(p, now), True, fixed(1), orders=3),
    ("DELETE", "/api/v3/orderList"): Route(lambda ex, p, now: ex.venue.cancel_order_list(p, now), True, fixed(1)),
    # ---- account ----
    ("GET", "/api/v3/account"): Route(lambda ex, p, now: ex.venue.account(p, now), True, fixed(20)),
    ("GET", "/api/v3/order"): Route(lambda ex, p, now: ex.venue.get_order(p), True, fixed(4)),
    ("GET", "/api/v3/openOrders"): Route(lambda ex, p, now: history.open_orders(ex.venue, p), True, one_or_all(6, 80)),
    ("GET", "/api/v3/allOrders"): Route(lambda ex, p, now: history.all_orders(ex.venue, p), True, fixed(20)),
    ("GET", "/api/v3/myTrades"): Route(
        lambda ex, p, now: history.my_trades(ex.venue, p), True, lambda p: 5 if "orderId" in p else 20
    ),
    ("GET", "/api/v3/orderList"): Route(lambda ex, p, now: ex.venue.get_order_list(p), True, fixed(4)),
    ("GET", "/api/v3/openOrderList"): Route(lambda ex, p, now: history.open_order_lists(ex.venue, p), True, fixed(6)),
    ("GET", "/api/v3/allOrderList"): Route(lambda ex, p, now: history.all_order_lists(ex.venue, p), True, fixed(20)),
    ("GET", "/api/v3/rateLimit/order"): Route(
        lambda ex, p, now: ex.limiter.order_counts(ex.signer.api_key, now), True, fixed(40)
    ),
    # ---- what a spot-only venue can answer of the other APIs (ccxt's load_markets asks for these) ----
    ("GET", "/sapi/v1/capital/config/getall"): Route(lambda ex, p, now: spot_only.coins(ex.venue), True, fixed(10)),
    ("GET", "/sapi/v1/margin/allPairs"): Route(lambda ex, p, now: [], False, fixed(1)),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): Route(lambda ex, p, now: [], True, fixed(10)),
    ("GET", "/fapi/v1/exchangeInfo"): Route(lambda ex, p, now: spot_only.no_symbols(now), False, fixed(1)),
    ("GET", "/dapi/v1/exchangeInfo"): Route(lambda ex, p, now: spot_only.no_symbols(now), False, fixed(1)),
}
