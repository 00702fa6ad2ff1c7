"""Where a signal's order is priced: limit and trigger prices on the tick grid, and the valuation (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from contracts.money import plain
from contracts.orders import BinanceOrderType, Side
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Signal
from tradeengine.decimals import HUNDRED, ONE, ZERO, ceil_to_step, floor_to_step
from tradeengine.rules import SymbolRules
from tradeengine.sizing_base import Market, SizingConfig, _reject


def _round_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """Limit prices round in the trader's favour: a buy never pays more, a sell never takes less."""
    if tick <= 0:
        return price
    return floor_to_step(price, tick) if side is Side.BUY else ceil_to_step(price, tick)


def _round_nearest(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick


@dataclass(frozen=True, slots=True)
class EntryPrices:
    limit: Decimal | None  # the order's price parameter
    stop: Decimal | None  # the order's stopPrice parameter
    valuation: Decimal  # what one unit is worth for notional rules (limit, trigger or market)
    entry: Decimal  # where the position is expected to open (brackets are placed around it)


def entry_prices(
    signal: Signal, btype: BinanceOrderType, side: Side, rules: SymbolRules, market: Market, config: SizingConfig
) -> EntryPrices | Rejection:
    tick = rules.tick_size
    limit = stop = None
    if btype.needs_price:
        limit = _round_price(signal.price, tick, side)
        problem = _out_of_range("price", signal.price, limit, rules)
        if problem is not None:
            return problem
    if btype.needs_stop_price:
        trigger = signal.meta.stop_price if signal.meta.stop_price is not None else signal.price
        stop = _round_nearest(trigger, tick)
        problem = _out_of_range("stop price", trigger, stop, rules) or _trigger_side_check(
            btype, side, stop, market.price
        )
        if problem is not None:
            return problem
    if btype is BinanceOrderType.MARKET:
        # Binance values market orders at its average price; leave room for the move before the fill.
        worst = min(market.price, market.average)
        valuation = worst * (ONE - config.market_margin_pct / HUNDRED)
        entry = market.price
    else:
        valuation = limit if limit is not None else stop  # type: ignore[assignment]
        entry = valuation
    return EntryPrices(limit, stop, valuation, entry)


def _out_of_range(name: str, asked: Decimal, rounded: Decimal, rules: SymbolRules) -> Rejection | None:
    pf = rules.price_filter
    low = max(pf.min_price, pf.tick_size) if pf is not None else ZERO
    high = pf.max_price if pf is not None else ZERO
    if rounded <= 0 or rounded < low or (high > 0 and rounded > high):
        return _reject(
            RejectionCode.PRICE_OUT_OF_RANGE,
            f"{name} {plain(asked)} is outside {rules.symbol}'s price range {plain(low)}..{plain(high)}",
        )
    return None


def _trigger_side_check(btype: BinanceOrderType, side: Side, stop: Decimal, market: Decimal) -> Rejection | None:
    """A stop or take-profit on the wrong side of the market triggers at once (Binance -2010)."""
    is_stop = btype in (BinanceOrderType.STOP_LOSS, BinanceOrderType.STOP_LOSS_LIMIT)
    # A sell stop sits below the market, a buy stop above; take-profits the other way round.
    must_be_below = (side is Side.SELL) == is_stop
    if must_be_below and stop >= market:
        return _reject(
            RejectionCode.PRICE_OUT_OF_RANGE,
            f"a {side.value.lower()} {btype.value} must trigger below the market {plain(market)}; "
            f"stop price {plain(stop)} would trigger immediately",
        )
    if not must_be_below and stop <= market:
        return _reject(
            RejectionCode.PRICE_OUT_OF_RANGE,
            f"a {side.value.lower()} {btype.value} must trigger above the market {plain(market)}; "
            f"stop price {plain(stop)} would trigger immediately",
        )
    return None
