"""Binance's public market-data endpoints, answered from the venue's price path and the account's trades.

The venue has no order book of other traders: its book is one level each side at the prices a market
order would fill at (the price moved by the configured slippage, rounded to the tick against the
taker), with the largest quantity one market order may take (MARKET_LOT_SIZE / LOT_SIZE maxQty). The
24-hour statistics come from the price path's one-minute candles and from the trades of the account,
which are the only trades this venue sees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from contracts.orders import BinanceOrderType
from local.exchange import wire
from local.exchange.params import ApiError, integer, need
from local.exchange.prices import DAY_MS

if TYPE_CHECKING:
    from local.exchange.venue import Venue

Params = Mapping[str, str]
_BPS = Decimal(10000)


def symbols_param(venue: Venue, params: Params) -> list[str] | None:
    """``symbol=X`` or ``symbols=["X","Y"]`` (JSON, or percent-encoded JSON); None when neither is sent."""
    if "symbol" in params and "symbols" in params:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    if "symbol" in params:
        return [venue.symbol(params["symbol"])]
    if "symbols" not in params:
        return None
    try:
        wanted = json.loads(params["symbols"])
    except ValueError as exc:
        raise ApiError(
            -1100, "Illegal characters found in parameter 'symbols'; legal range is '^[A-Z0-9-_.]{1,20}$'."
        ) from exc
    if not isinstance(wanted, list) or not wanted or not all(isinstance(s, str) for s in wanted):
        raise ApiError(-1102, "Mandatory parameter 'symbols' was not sent, was empty/null, or malformed.")
    if len(set(wanted)) != len(wanted):
        raise ApiError(-1151, "Symbol is present multiple times in the list.")
    return [venue.symbol(s) for s in wanted]


def _one_or_many(params: Params, rows: list[dict[str, Any]]) -> Any:
    return rows[0] if "symbol" in params else rows


def exchange_info(venue: Venue, params: Params, now_ms: int, rate_limits: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = symbols_param(venue, params)
    symbols = venue.info.get("symbols", [])
    if wanted is not None:
        symbols = [s for s in symbols if s["symbol"] in wanted]
    return {**venue.info, "serverTime": now_ms, "rateLimits": rate_limits, "symbols": symbols}


def ticker_price(venue: Venue, params: Params) -> Any:
    wanted = symbols_param(venue, params) or sorted(venue.path.prices)
    return _one_or_many(params, [{"symbol": s, "price": wire.num(venue.path.prices[s])} for s in wanted])


def avg_price(venue: Venue, params: Params, now_ms: int) -> dict[str, Any]:
    symbol = venue.symbol(need(params, "symbol"))
    return {"mins": 5, "price": wire.num(venue.path.average(symbol)), "closeTime": now_ms}


def best(venue: Venue, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
    """Bid, ask and the quantity on each: where a market sell and a market buy would fill now."""
    rules = venue.rules[symbol]
    price, tick = venue.path.prices[symbol], rules.tick_size or Decimal("0.00000001")
    move = price * venue.config.slippage_bps / _BPS
    ask = ((price + move) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    bid = ((price - move) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return bid, ask, rules.lot_for(BinanceOrderType.MARKET).max_qty


def depth(venue: Venue, params: Params) -> dict[str, Any]:
    symbol = venue.symbol(need(params, "symbol"))
    limit = integer(params, "limit")
    if limit is not None and limit <= 0:
        raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1 - 5000'.")
    bid, ask, qty = best(venue, symbol)
    return {
        "lastUpdateId": venue.path.updates,
        "bids": [[wire.num(bid), wire.num(qty)]],
        "asks": [[wire.num(ask), wire.num(qty)]],
    }


def book_ticker(venue: Venue, params: Params) -> Any:
    rows = []
    for symbol in symbols_param(venue, params) or sorted(venue.path.prices):
        bid, ask, qty = best(venue, symbol)
        rows.append(
            {
                "symbol": symbol,
                "bidPrice": wire.num(bid),
                "bidQty": wire.num(qty),
                "askPrice": wire.num(ask),
                "askQty": wire.num(qty),
            }
        )
    return _one_or_many(params, rows)


def ticker_24hr(venue: Venue, params: Params, now_ms: int) -> Any:
    kind = params.get("type", "FULL")
    if kind not in ("FULL", "MINI"):
        raise ApiError(-1139, "Invalid ticker type.")
    rows = [_day(venue, s, now_ms, kind) for s in symbols_param(venue, params) or sorted(venue.path.prices)]
    return _one_or_many(params, rows)


def _day(venue: Venue, symbol: str, now_ms: int, kind: str) -> dict[str, Any]:
    last = venue.path.prices[symbol]
    first, high, low = venue.path.day(symbol, now_ms)
    trades = [t for t in venue.book.trades if t.symbol == symbol and t.time_ms > now_ms - DAY_MS]
    volume = sum((t.qty for t in trades), Decimal(0))
    quote_volume = sum((t.quote_qty for t in trades), Decimal(0))
    row: dict[str, Any] = {"symbol": symbol}
    if kind == "FULL":
        bid, ask, qty = best(venue, symbol)
        change = last - first
        percent = (change * 100 / first).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) if first else Decimal(0)
        row.update(
            {
                "priceChange": wire.num(change),
                "priceChangePercent": format(percent, "f"),
                "weightedAvgPrice": wire.num(quote_volume / volume if volume else venue.path.average(symbol)),
                "prevClosePrice": wire.num(first),
                "lastPrice": wire.num(last),
                "lastQty": wire.num(trades[-1].qty if trades else Decimal(0)),
                "bidPrice": wire.num(bid),
                "bidQty": wire.num(qty),
                "askPrice": wire.num(ask),
                "askQty": wire.num(qty),
            }
        )
    row.update(
        {
            "openPrice": wire.num(first),
            "highPrice": wire.num(high),
            "lowPrice": wire.num(low),
            "lastPrice": wire.num(last),
            "volume": wire.num(volume),
            "quoteVolume": wire.num(quote_volume),
            "openTime": now_ms - DAY_MS,
            "closeTime": now_ms,
            "firstId": trades[0].trade_id if trades else -1,
            "lastId": trades[-1].trade_id if trades else -1,
            "count": len(trades),
        }
    )
    return row
