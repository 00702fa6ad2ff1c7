"""Depth for the fill model: the price levels a taker walks and what one level holds.

The simulated book is a ladder of equal levels: level 0 at the reference price moved by ``slippage_bps``
against the trader, each next level ``level_bps`` further, each holding ``top_of_book_qty`` in the quote
asset (Binance's quoteQty, so one figure fits every symbol quoted in the same asset). A taker takes at
most one level's size per level, one fill per level, and walks at most ``book_levels`` levels. With
``top_of_book_qty`` 0 (the default) there is one level of unlimited size: every fill is whole, as before
depth existed. Prices go on the tick grid against the trader (a buy rounds up, a sell down).

Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from contracts.orders import BinanceOrderType
from tradeengine.decimals import floor_to_step
from tradeengine.exchange.matching_state import ZERO, MatchingConfig, Order
from tradeengine.rules import SymbolRules

BPS = Decimal(10000)
_FINEST = Decimal("0.00000001")  # Binance's 8 places: the grid when a symbol has no tick or step rule

Slices = list[tuple[Decimal, Decimal]]  # (price, base quantity), best price first


def level_price(config: MatchingConfig, rules: SymbolRules, side: str, price: Decimal, level: int) -> Decimal:
    """Level ``level``'s price for a taker on ``side`` when the market is at ``price``."""
    move = price * (config.slippage_bps + config.level_bps * level) / BPS
    tick = rules.tick_size if rules.tick_size > 0 else _FINEST
    if side == "BUY":
        return ((price + move) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return ((price - move) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def step_for(rules: SymbolRules, order_type: str) -> Decimal:
    return rules.lot_for(BinanceOrderType(order_type)).step_size


def level_size(config: MatchingConfig, step: Decimal, price: Decimal) -> Decimal | None:
    """The base quantity one level holds at ``price`` (at least one step); None: unlimited depth."""
    if not config.depth_limited:
        return None
    grid = step if step > 0 else _FINEST
    return max(floor_to_step(config.top_of_book_qty / price, grid), grid)


def walk(
    config: MatchingConfig, rules: SymbolRules, order: Order, price: Decimal, limit: Decimal | None = None
) -> Slices:
    """What ``order`` takes now: one slice per level until its remaining quantity is met.

    ``limit``: a marketable limit takes level 0 at the better of its limit and that level, and no level
    beyond its limit. Fewer slices than the remaining quantity: the book ran out of levels.
    """
    remaining = order.orig_qty - order.executed_qty
    step = step_for(rules, order.type)
    out: Slices = []
    for level in range(config.book_levels if config.depth_limited else 1):
        if remaining <= 0:
            break
        at = level_price(config, rules, order.side, price, level)
        if limit is not None:
            beyond = at > limit if order.side == "BUY" else at < limit
            if level == 0 and beyond:
                at = limit
            elif beyond:
                break
        size = level_size(config, step, at)
        take = remaining if size is None else min(remaining, size)
        out.append((at, take))
        remaining -= take
    return out


def walk_quote(config: MatchingConfig, rules: SymbolRules, side: str, price: Decimal, quote: Decimal) -> Decimal:
    """The base quantity a quoteOrderQty market order gets: each level takes what the rest of the quote buys."""
    step = step_for(rules, "MARKET")
    left, qty = quote, ZERO
    for level in range(config.book_levels if config.depth_limited else 1):
        at = level_price(config, rules, side, price, level)
        size = level_size(config, step, at)
        affordable = floor_to_step(left / at, step)
        take = affordable if size is None else min(affordable, size)
        if take <= 0:
            break
        qty += take
        left -= take * at
        if size is None or take < size:
            break
    return qty


def walk_cost(slices: Slices) -> Decimal:
    return sum((at * qty for at, qty in slices), ZERO)
