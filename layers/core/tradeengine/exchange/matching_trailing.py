"""Trailing stops in the fill model, as Binance documents them (faqs/trailing-stop-faq.md, filters.md).

A STOP_LOSS / STOP_LOSS_LIMIT / TAKE_PROFIT / TAKE_PROFIT_LIMIT order with ``trailingDelta`` (bips):

- without stopPrice it tracks from placement, starting from the price then;
- with stopPrice it tracks once the stop condition is met (a sell stop-loss: price <= stopPrice; a sell
  take-profit: price >= stopPrice; the buys the other way), starting from the first price that met it.
  The model sees a price per update, so a price that gaps past the stopPrice starts where it landed;
- while tracking it follows the best price since tracking began (a sell the highest, a buy the lowest)
  and triggers when the price is ``trailingDelta`` bips worse than it: a sell at
  ``price <= best * (1 - delta / 10000)``, a buy at ``price >= best * (1 + delta / 10000)``. Triggered, it
  works as any triggered stop (the market kinds take, the _LIMIT kinds become limit orders).

The TRAILING_DELTA filter: STOP_LOSS BUY, STOP_LOSS_LIMIT BUY, TAKE_PROFIT SELL, TAKE_PROFIT_LIMIT SELL
need ``minTrailingAboveDelta <= delta <= maxTrailingAboveDelta``, the others the ``Below`` pair; out of
range is ``-1013 Filter failure: TRAILING_DELTA``. Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from contracts.orders import OrderRequest
from tradeengine.exchange import codes
from tradeengine.exchange.matching_state import MatchingError, Order
from tradeengine.rules import SymbolRules

_BPS = Decimal(10000)
_ABOVE = {("STOP_LOSS", "BUY"), ("STOP_LOSS_LIMIT", "BUY"), ("TAKE_PROFIT", "SELL"), ("TAKE_PROFIT_LIMIT", "SELL")}
FILTER_FAILURE = (codes.FILTER_FAILURE, "Filter failure: TRAILING_DELTA")
NOT_REQUIRED = (codes.PARAM_NOT_REQUIRED, "Parameter 'trailingDelta' sent when not required.")


def check(rules: SymbolRules, order: OrderRequest) -> None:
    """Refuse a trailingDelta the exchange would refuse (MatchingError with Binance's code and text)."""
    delta = order.trailing_delta
    if delta is None:
        return
    if not order.type.needs_stop_price:
        raise MatchingError(*NOT_REQUIRED)
    if delta < 1:
        raise MatchingError(*FILTER_FAILURE)
    bounds = rules.trailing_delta
    if bounds is None:
        return
    low, high = (
        (bounds.min_above, bounds.max_above)
        if (order.type.value, order.side.value) in _ABOVE
        else (bounds.min_below, bounds.max_below)
    )
    if (low > 0 and delta < low) or (high > 0 and delta > high):
        raise MatchingError(*FILTER_FAILURE)


def start(order: Order, price: Decimal, now_ms: int) -> None:
    """An order starts working: a trailing stop without stopPrice tracks from this price on."""
    if order.trailing_delta and order.stop_price <= 0 and order.trailing_time_ms < 0:
        _track(order, price, now_ms)


def step(order: Order, price: Decimal, now_ms: int, activates: bool) -> bool:
    """A new price for an untriggered trailing stop: whether it triggers now.

    ``activates``: the stopPrice condition holds at this price (ignored once tracking).
    """
    if order.trailing_time_ms < 0:
        if activates:
            _track(order, price, now_ms)
        return False
    factor = Decimal(order.trailing_delta) / _BPS
    if order.side == "SELL":
        order.trailing_extreme = max(order.trailing_extreme, price)
        return price <= order.trailing_extreme * (1 - factor)
    order.trailing_extreme = min(order.trailing_extreme, price)
    return price >= order.trailing_extreme * (1 + factor)


def buy_lock_price(order: Order, at: Decimal, tick: Decimal) -> Decimal:
    """What a trailing buy without a limit price locks per unit: it triggers up to delta above ``at``."""
    if not order.trailing_delta or order.side != "BUY":
        return at
    top = at * (1 + Decimal(order.trailing_delta) / _BPS)
    return (top / tick).to_integral_value(rounding=ROUND_CEILING) * tick if tick > 0 else top


def _track(order: Order, price: Decimal, now_ms: int) -> None:
    order.trailing_time_ms = now_ms
    order.trailing_extreme = price
