"""Exit orders around an entry: stop-loss / take-profit prices, legs, and their own filter checks (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.money import plain
from contracts.orders import (
    BinanceOrderType,
    BracketPlacement,
    Brackets,
    OcoBrackets,
    OrderRequest,
    Side,
    StopLossBracket,
    TakeProfitBracket,
)
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Signal
from tradeengine.decimals import HUNDRED, ONE, ceil_to_step, floor_to_step
from tradeengine.rules import OrderContext, SymbolRules
from tradeengine.sizing_base import Market, SizingConfig, _reject, client_order_id

BPS = Decimal(10000)


@dataclass(frozen=True, slots=True)
class BracketPrices:
    stop_loss: Decimal | None
    take_profit: Decimal | None
    stop_limit: Decimal | None = None  # the stop leg's limit price when it must be a STOP_LOSS_LIMIT
    trailing_delta: int | None = None  # a trailing stop-loss (bips), trailing from the fill: no stopPrice
    trailing_floor: Decimal | None = None  # the lowest price the trailing stop can trigger at (notional rules)

    @property
    def has_stop(self) -> bool:
        return self.stop_loss is not None or self.trailing_delta is not None

    @property
    def lowest(self) -> Decimal:
        prices = (self.stop_loss, self.take_profit, self.stop_limit, self.trailing_floor)
        return min(p for p in prices if p is not None)


def trailing_problem(rules: SymbolRules, btype: BinanceOrderType, side: Side, delta: int) -> Rejection | None:
    """A trailing delta this symbol's TRAILING_DELTA filter would refuse (or a symbol with no trailing stops)."""
    bounds = rules.trailing_delta
    if bounds is None:
        return _reject(
            RejectionCode.ORDER_TYPE_NOT_ALLOWED,
            f"{rules.symbol} does not offer trailing stops (its exchangeInfo has no TRAILING_DELTA filter)",
        )
    low, high, pair = bounds.bounds(btype, side)
    if (low > 0 and delta < low) or (high > 0 and delta > high):
        return _reject(
            RejectionCode.TRAILING_DELTA_OUT_OF_RANGE,
            f"trailing delta {delta} bips is outside {rules.symbol}'s {low}..{high} bips for a "
            f"{side.value.lower()} {btype.value} (TRAILING_DELTA min{pair}Delta..max{pair}Delta)",
        )
    return None


def bracket_prices(
    signal: Signal, side: Side, entry: Decimal, rules: SymbolRules, config: SizingConfig
) -> BracketPrices | Rejection:
    tick = rules.tick_size
    meta = signal.meta
    long = side is Side.BUY
    sl = meta.stop_loss
    if sl is None and meta.stop_loss_pct is not None:
        offset = entry * meta.stop_loss_pct / HUNDRED
        sl = entry - offset if long else entry + offset
    tp = meta.take_profit
    if tp is None and meta.take_profit_pct is not None:
        offset = entry * meta.take_profit_pct / HUNDRED
        tp = entry + offset if long else entry - offset
    # Round away from the entry: the stop gives a little room, the target asks a little more.
    if sl is not None:
        sl = floor_to_step(sl, tick) if long else ceil_to_step(sl, tick)
    if tp is not None:
        tp = ceil_to_step(tp, tick) if long else floor_to_step(tp, tick)
    word = "buy" if long else "sell"
    if sl is not None and (sl <= 0 or (long and sl >= entry) or (not long and sl <= entry)):
        where = "below" if long else "above"
        return _reject(
            RejectionCode.INVALID_BRACKET,
            f"stop-loss {plain(sl)} must be {where} the entry {plain(entry)} for a {word}",
        )
    if tp is not None and (tp <= 0 or (long and tp <= entry) or (not long and tp >= entry)):
        where = "above" if long else "below"
        return _reject(
            RejectionCode.INVALID_BRACKET,
            f"take-profit {plain(tp)} must be {where} the entry {plain(entry)} for a {word}",
        )
    trail = None if meta.trails_entry else meta.trailing_delta
    if trail is not None:
        return _trailing_exit(side, entry, tp, trail, rules)
    stop_limit = None
    if sl is not None and BinanceOrderType.STOP_LOSS.value not in rules.order_types:
        # Older symbols only take STOP_LOSS_LIMIT: sell a little beyond the trigger so the exit fills.
        offset = sl * config.stop_limit_offset_pct / HUNDRED
        stop_limit = floor_to_step(sl - offset, tick) if long else ceil_to_step(sl + offset, tick)
        if stop_limit <= 0:
            return _reject(RejectionCode.INVALID_BRACKET, f"stop-loss {plain(sl)} leaves no room for a stop-limit")
    return BracketPrices(sl, tp, stop_limit)


def _trailing_exit(
    side: Side, entry: Decimal, tp: Decimal | None, trail: int, rules: SymbolRules
) -> BracketPrices | Rejection:
    """The stop-loss exit as a trailing STOP_LOSS from the fill: no stopPrice, the delta from the best price."""
    if BinanceOrderType.STOP_LOSS.value not in rules.order_types:
        return _reject(
            RejectionCode.INVALID_BRACKET,
            f"{rules.symbol} takes only STOP_LOSS_LIMIT stops, whose limit price a trailing stop cannot know ahead",
        )
    problem = trailing_problem(rules, BinanceOrderType.STOP_LOSS, side.opposite, trail)
    if problem is not None:
        return problem
    # A long's trailing stop sells no lower than delta below the entry (the best price only rises from there).
    floor = floor_to_step(entry * (ONE - Decimal(trail) / BPS), rules.tick_size) if side is Side.BUY else entry
    # No trade prints below the smallest price the symbol takes: a floor that rounds to zero is that price.
    floor = max(floor, _smallest_price(rules))
    return BracketPrices(None, tp, trailing_delta=trail, trailing_floor=floor)


def _smallest_price(rules: SymbolRules) -> Decimal:
    pf = rules.price_filter
    least = pf.min_price if pf is not None and pf.min_price > 0 else Decimal(0)
    return max(least, rules.tick_size) if rules.tick_size > 0 else (least or Decimal("0.00000001"))


def after_commission(qty: Decimal, side: Side, config: SizingConfig, step: Decimal) -> Decimal:
    """What the entry leaves to sell: a buy's commission is taken from the base asset received."""
    if side is Side.BUY and config.commission_in_base_on_buy:
        return floor_to_step(qty * (ONE - config.fee_rate), step)
    return qty


def make_brackets(
    rules: SymbolRules,
    side: Side,
    entry: OrderRequest,
    bp: BracketPrices,
    sid: str,
    market: Market,
    config: SizingConfig,
    step: Decimal,
    level: tuple[int, Decimal | None, Decimal] | None = None,
) -> Brackets | Rejection:
    """``level``: a ladder's rung (its number from 1, its quantity, its share); its legs' ids carry the number."""
    exit_side = side.opposite
    qty = None if entry.quantity is None else after_commission(entry.quantity, side, config, step)
    tag = ""
    if level is not None:
        number, qty, _ = level
        tag = str(number) if number > 1 else ""
    placement = BracketPlacement.AFTER_FILL
    if entry.type is BinanceOrderType.LIMIT and rules.oto_allowed:
        placement = BracketPlacement.WITH_ENTRY
    if bp.has_stop and bp.take_profit is not None and not rules.oco_allowed:
        return _reject(
            RejectionCode.INVALID_BRACKET,
            f"{rules.symbol} does not accept OCO order lists, so stop-loss and take-profit cannot both be placed",
        )
    stop_leg = tp_leg = None
    if bp.has_stop:
        stop_leg = OrderRequest(
            symbol=rules.symbol,
            side=exit_side,
            type=BinanceOrderType.STOP_LOSS if bp.stop_limit is None else BinanceOrderType.STOP_LOSS_LIMIT,
            quantity=qty,
            stop_price=bp.stop_loss,
            price=bp.stop_limit,
            time_in_force=None if bp.stop_limit is None else "GTC",
            trailing_delta=bp.trailing_delta,
            new_client_order_id=client_order_id(sid, "sl" + tag),
        )
    if bp.take_profit is not None:
        maker = BinanceOrderType.LIMIT_MAKER.value in rules.order_types
        tp_type = BinanceOrderType.LIMIT_MAKER if maker else BinanceOrderType.LIMIT
        tp_leg = OrderRequest(
            symbol=rules.symbol,
            side=exit_side,
            type=tp_type,
            quantity=qty,
            price=bp.take_profit,
            time_in_force=None if maker else "GTC",
            new_client_order_id=client_order_id(sid, "tp" + tag),
        )
    context = OrderContext(average_price=market.average)
    for leg in (stop_leg, tp_leg):
        if leg is None:
            continue
        # Legs of a quoteOrderQty entry are sized after the fill; check their prices now, quantity then.
        probe = leg if leg.quantity is not None else leg.model_copy(update={"quantity": entry_probe_qty(rules, step)})
        problems = [
            v
            for v in rules.check(probe, context)
            if leg.quantity is not None or v.filter not in ("LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL", "MIN_NOTIONAL")
        ]
        if problems:
            what = "stop-loss" if leg is stop_leg else "take-profit"
            return _reject(
                RejectionCode.INVALID_BRACKET,
                f"the {what} order would be refused by {rules.symbol}'s rules: "
                + "; ".join(f"{p.message} ({p.detail})" for p in problems),
            )
    list_id, share = client_order_id(sid, "ls" + tag), level[2] if level is not None else None
    if stop_leg is not None and tp_leg is not None:
        return OcoBrackets(
            placement=placement,
            side=exit_side,
            quantity=qty,
            stop_loss=stop_leg,
            take_profit=tp_leg,
            list_client_order_id=list_id,
            share=share,
        )
    if stop_leg is not None:
        return StopLossBracket(
            placement=placement, side=exit_side, quantity=qty, stop_loss=stop_leg, list_client_order_id=list_id
        )
    if tp_leg is not None:
        return TakeProfitBracket(
            placement=placement, side=exit_side, quantity=qty, take_profit=tp_leg, list_client_order_id=list_id
        )
    return _reject(RejectionCode.INVALID_BRACKET, "neither a stop-loss nor a take-profit to place")


def entry_probe_qty(rules: SymbolRules, step: Decimal) -> Decimal:
    lot = rules.lot_size
    return max(lot.min_qty, step) if lot is not None else step


# ---- take-profit ladders: one OCO per level, every level's stop at the shared stop-loss ---------------------


def split(total: Decimal, shares: Sequence[Decimal], step: Decimal) -> list[Decimal]:
    """Each level's quantity: its share floored to the step; the last level takes what is left."""
    parts = [floor_to_step(total * share, step) for share in shares[:-1]]
    return [*parts, total - sum(parts, Decimal(0))]


def level_minimum(rules: SymbolRules, step: Decimal, lowest: Decimal) -> Decimal:
    """The smallest quantity one exit pair may sell: minQty, and the notional minimum at its lowest price."""
    lot = rules.lot_size
    low = max(lot.min_qty if lot is not None else Decimal(0), step)
    notional = rules.notional.min_notional if rules.notional is not None else Decimal(0)
    return max(low, ceil_to_step(notional / lowest, step)) if notional > 0 else low


def ladder_prices(
    signal: Signal, side: Side, entry: Decimal, rules: SymbolRules, config: SizingConfig
) -> list[BracketPrices] | Rejection:
    levels = signal.meta.take_profit_levels or ()
    out: list[BracketPrices] = []
    for number, level in enumerate(levels, start=1):
        meta = signal.meta.model_copy(
            update={"take_profit": level.price, "take_profit_pct": level.pct, "take_profit_levels": None}
        )
        bp = bracket_prices(signal.model_copy(update={"meta": meta}), side, entry, rules, config)
        if isinstance(bp, Rejection):
            return _reject(bp.code, f"take-profit level {number}: {bp.reason}")
        out.append(bp)
    return out


def ladder_minimum(
    levels: Sequence[BracketPrices],
    shares: Sequence[Decimal],
    rules: SymbolRules,
    side: Side,
    config: SizingConfig,
    step: Decimal,
) -> Decimal:
    """The smallest entry whose every level, after commission, passes minQty and the notional minimum."""
    mins = [level_minimum(rules, step, bp.lowest) for bp in levels]
    qty = max(ceil_to_step(m / share, step) for m, share in zip(mins, shares, strict=True))
    if side is Side.BUY and config.commission_in_base_on_buy:
        qty = ceil_to_step(qty / (ONE - config.fee_rate), step)
    for _ in range(10_000):  # floors may leave a level one step short: a few steps more settle it
        parts = split(after_commission(qty, side, config, step), shares, step)
        if all(p >= m for p, m in zip(parts, mins, strict=True)):
            break
        qty += step
    return qty


def make_ladder(
    rules: SymbolRules,
    side: Side,
    entry: OrderRequest,
    levels: Sequence[BracketPrices],
    shares: Sequence[Decimal],
    sid: str,
    market: Market,
    config: SizingConfig,
    step: Decimal,
) -> Brackets | Rejection:
    """One exit pair per level; a level whose part of the position cannot pass the filters is refused by name."""
    total = None if entry.quantity is None else after_commission(entry.quantity, side, config, step)
    parts: list[Decimal | None] = list(split(total, shares, step)) if total is not None else [None] * len(shares)
    pairs: list[OcoBrackets] = []
    for number, (bp, share, part) in enumerate(zip(levels, shares, parts, strict=True), start=1):
        least = level_minimum(rules, step, bp.lowest)
        if part is not None and part < least:
            return _reject(
                RejectionCode.LADDER_LEVEL_TOO_SMALL,
                f"take-profit level {number} (share {plain(share)}) would sell {plain(part)} {rules.base_asset}, "
                f"below the {plain(least)} one exit order on {rules.symbol} must sell",
            )
        made = make_brackets(rules, side, entry, bp, sid, market, config, step, (number, part, share))
        if isinstance(made, Rejection):
            return _reject(made.code, f"take-profit level {number}: {made.reason}")
        if not isinstance(made, OcoBrackets):  # the meta asks a ladder for a stop: every level is a pair
            return _reject(RejectionCode.INVALID_BRACKET, f"take-profit level {number} has no stop-loss to pair with")
        pairs.append(made)
    return pairs[0].model_copy(update={"more": tuple(pairs[1:])})
