"""Turn a signal into an order the exchange accepts on the first try (pure: no I/O).

Dynamic minimum order amount (the seed's rule, made exact):
``max(minQty, ceil_to_step(minNotional / valuation_price))``, with MARKET_LOT_SIZE for market orders
and a safety margin for market orders (the price moves between sizing and fill). Quantity 0 means the
minimum; a valid quantity is used after flooring to the step; below the minimum becomes the minimum;
above the maximum is rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from contracts.money import plain
from contracts.orders import (
    BinanceOrderType,
    BracketKind,
    BracketPlacement,
    Brackets,
    Hold,
    OrderPlan,
    OrderRequest,
    Side,
)
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Action, OrderType, Signal
from tradeengine.decimals import HUNDRED, ONE, ZERO, ceil_to_step, floor_to_step, quantize_places
from tradeengine.rules import LotSize, OrderContext, SymbolRules

BINANCE_TYPE = {
    OrderType.MARKET: BinanceOrderType.MARKET,
    OrderType.LIMIT: BinanceOrderType.LIMIT,
    OrderType.STOP: BinanceOrderType.STOP_LOSS,
    OrderType.STOP_LIMIT: BinanceOrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT: BinanceOrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_LIMIT: BinanceOrderType.TAKE_PROFIT_LIMIT,
}

Balances = Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class SizingConfig:
    market_margin_pct: Decimal = Decimal("1")  # extra notional on market orders, for price moves before the fill
    fee_rate: Decimal = Decimal("0.001")  # Binance's default taker/maker fee, 0.1 %
    commission_in_base_on_buy: bool = True  # Binance takes a buy's commission from the asset received
    stop_limit_offset_pct: Decimal = Decimal("0.5")  # limit beyond the trigger, where STOP_LOSS is not offered


@dataclass(frozen=True, slots=True)
class Market:
    """Prices known at sizing time. ``average_price`` is Binance's avgPrice (bands, market notional)."""

    price: Decimal
    average_price: Decimal | None = None

    @property
    def average(self) -> Decimal:
        return self.average_price if self.average_price is not None and self.average_price > 0 else self.price


def client_order_id(signal_id: str, leg: str = "") -> str:
    """Deterministic Binance ``newClientOrderId`` (≤ 36 chars of ``[A-Za-z0-9-_]``) from the signal id.

    The same signal always maps to the same id, so a redelivered signal cannot make a second order.
    """
    digest = hashlib.sha256(signal_id.encode()).hexdigest()[:24]
    return f"te-{digest}-{leg}" if leg else f"te-{digest}"


def _reject(code: RejectionCode, reason: str) -> Rejection:
    return Rejection(code=code, reason=reason)


def _round_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """Limit prices round in the trader's favour: a buy never pays more, a sell never takes less."""
    if tick <= 0:
        return price
    return floor_to_step(price, tick) if side is Side.BUY else ceil_to_step(price, tick)


def _round_nearest(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick


def _smallest_step(lot: LotSize, rules: SymbolRules) -> Decimal:
    if lot.step_size > 0:
        return lot.step_size
    return Decimal(1).scaleb(-rules.base_precision)


@dataclass(frozen=True, slots=True)
class _Prices:
    limit: Decimal | None  # the order's price parameter
    stop: Decimal | None  # the order's stopPrice parameter
    valuation: Decimal  # what one unit is worth for notional rules (limit, trigger or market)
    entry: Decimal  # where the position is expected to open (brackets are placed around it)


def _prices(
    signal: Signal, btype: BinanceOrderType, side: Side, rules: SymbolRules, market: Market, config: SizingConfig
) -> _Prices | Rejection:
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
    return _Prices(limit, stop, valuation, entry)


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


@dataclass(frozen=True, slots=True)
class _BracketPrices:
    stop_loss: Decimal | None
    take_profit: Decimal | None
    stop_limit: Decimal | None = None  # the stop leg's limit price when it must be a STOP_LOSS_LIMIT

    @property
    def lowest(self) -> Decimal:
        return min(p for p in (self.stop_loss, self.take_profit, self.stop_limit) if p is not None)


def _bracket_prices(
    signal: Signal, side: Side, entry: Decimal, rules: SymbolRules, config: SizingConfig
) -> _BracketPrices | Rejection:
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
    stop_limit = None
    if sl is not None and BinanceOrderType.STOP_LOSS.value not in rules.order_types:
        # Older symbols only take STOP_LOSS_LIMIT: sell a little beyond the trigger so the exit fills.
        offset = sl * config.stop_limit_offset_pct / HUNDRED
        stop_limit = floor_to_step(sl - offset, tick) if long else ceil_to_step(sl + offset, tick)
        if stop_limit <= 0:
            return _reject(RejectionCode.INVALID_BRACKET, f"stop-loss {plain(sl)} leaves no room for a stop-limit")
    return _BracketPrices(sl, tp, stop_limit)


def _after_commission(qty: Decimal, side: Side, config: SizingConfig, step: Decimal) -> Decimal:
    """What the entry leaves to sell: a buy's commission is taken from the base asset received."""
    if side is Side.BUY and config.commission_in_base_on_buy:
        return floor_to_step(qty * (ONE - config.fee_rate), step)
    return qty


def _minimum(
    rules: SymbolRules,
    lot: LotSize,
    btype: BinanceOrderType,
    valuation: Decimal,
    step: Decimal,
    side: Side,
    bracket_prices: _BracketPrices | None,
    config: SizingConfig,
) -> Decimal:
    """The smallest quantity every rule accepts: entry, and the bracket legs after commission."""
    minimum = max(lot.min_qty, step)
    low = rules.min_notional_for(btype)
    if low > 0:
        minimum = max(minimum, ceil_to_step(low / valuation, step))
    if bracket_prices is None:
        return minimum
    leg_min = max(lot.min_qty, step)
    leg_notional = rules.notional.min_notional if rules.notional is not None else ZERO
    if leg_notional > 0:
        leg_min = max(leg_min, ceil_to_step(leg_notional / bracket_prices.lowest, step))
    entry_min = leg_min
    if side is Side.BUY and config.commission_in_base_on_buy:
        entry_min = ceil_to_step(leg_min / (ONE - config.fee_rate), step)
        while _after_commission(entry_min, side, config, step) < leg_min:
            entry_min += step
    return max(minimum, entry_min)


def size(
    signal: Signal,
    rules: SymbolRules,
    market: Market,
    balances: Balances | None = None,
    config: SizingConfig | None = None,
) -> OrderPlan | Rejection | Hold:
    """Size one signal against its symbol's rules. Risk limits are applied separately (``risk``)."""
    config = config or SizingConfig()
    sid = signal.id
    if signal.action is Action.HOLD:
        return Hold(signal_id=sid)
    side = Side.BUY if signal.action is Action.BUY else Side.SELL
    otype = OrderType.MARKET if signal.action is Action.CLOSE else signal.meta.order_type
    btype = BINANCE_TYPE[otype]
    if btype.value not in rules.order_types:
        return _reject(
            RejectionCode.ORDER_TYPE_NOT_ALLOWED,
            f"{rules.symbol} does not accept {btype.value} orders (it takes {', '.join(sorted(rules.order_types))})",
        )
    if market.price <= 0:
        return _reject(RejectionCode.PRICE_UNKNOWN, f"no market price is known for {rules.symbol}")
    prices = _prices(signal, btype, side, rules, market, config)
    if isinstance(prices, Rejection):
        return prices
    lot = rules.lot_for(btype)
    step = _smallest_step(lot, rules)
    notes: list[str] = []

    want_brackets = signal.action is not Action.CLOSE and (
        signal.meta.stop_loss is not None
        or signal.meta.stop_loss_pct is not None
        or signal.meta.take_profit is not None
        or signal.meta.take_profit_pct is not None
    )
    if signal.action is Action.CLOSE and signal.meta.stop_loss is not None:
        notes.append("brackets are ignored on a close")
    bracket_prices = None
    if want_brackets:
        bp = _bracket_prices(signal, side, prices.entry, rules, config)
        if isinstance(bp, Rejection):
            return bp
        bracket_prices = bp
    minimum = _minimum(rules, lot, btype, prices.valuation, step, side, bracket_prices, config)

    quantity: Decimal | None
    quote_qty: Decimal | None = None
    meta = signal.meta
    if meta.quote_quantity is not None:
        if not rules.quote_order_qty_market_allowed:
            return _reject(
                RejectionCode.ORDER_TYPE_NOT_ALLOWED,
                f"{rules.symbol} does not accept market orders by quote amount (quoteOrderQty)",
            )
        quantity = None
        quote_qty = quantize_places(meta.quote_quantity, rules.quote_precision)
        min_quote = ceil_to_step(minimum * market.price, Decimal(1).scaleb(-rules.quote_precision))
        how = "quote_quantity"
        if quote_qty < min_quote:
            quote_qty, how = min_quote, "raised_to_minimum"
        if lot.max_qty > 0 and quote_qty / market.average > lot.max_qty:
            return _reject(
                RejectionCode.QUANTITY_ABOVE_MAX,
                f"{plain(quote_qty)} {rules.quote_asset} buys more than maxQty {plain(lot.max_qty)} "
                f"{rules.base_asset} of {rules.symbol}",
            )
        notional = quote_qty
    else:
        chosen = _choose_quantity(signal, side, rules, prices, step, minimum, balances)
        if isinstance(chosen, Rejection):
            return chosen
        quantity, how = chosen
        if lot.max_qty > 0 and quantity > lot.max_qty:
            if signal.action is Action.CLOSE and floor_to_step(lot.max_qty, step) >= minimum:
                quantity = floor_to_step(lot.max_qty, step)
                notes.append(f"close capped at maxQty {plain(lot.max_qty)}; the rest stays in the account")
            else:
                return _reject(
                    RejectionCode.QUANTITY_ABOVE_MAX,
                    f"quantity {plain(quantity)} is above the maximum {plain(lot.max_qty)} "
                    f"{rules.base_asset} for one {btype.value} order on {rules.symbol}",
                )
        notional = quantity * (market.price if btype is BinanceOrderType.MARKET else prices.valuation)
    high = rules.max_notional_for(btype)
    if high > 0 and notional > high:
        return _reject(
            RejectionCode.NOTIONAL_ABOVE_MAX,
            f"order value {plain(notional)} {rules.quote_asset} is above the maximum "
            f"{plain(high)} for one order on {rules.symbol}",
        )

    entry_id = client_order_id(sid)
    order = OrderRequest(
        symbol=rules.symbol,
        side=side,
        type=btype,
        quantity=quantity,
        quote_order_qty=quote_qty,
        price=prices.limit,
        stop_price=prices.stop,
        time_in_force=meta.time_in_force.value if btype.needs_time_in_force else None,
        new_client_order_id=entry_id,
    )
    brackets = None
    if bracket_prices is not None:
        made = _brackets(rules, side, order, bracket_prices, sid, market, config, step)
        if isinstance(made, Rejection):
            return made
        brackets = made
    return OrderPlan(
        signal_id=sid,
        order=order,
        brackets=brackets,
        reference_price=market.price,
        notional=notional,
        min_quantity=minimum,
        sizing=how,
        notes=tuple(notes),
    )


def _choose_quantity(
    signal: Signal,
    side: Side,
    rules: SymbolRules,
    prices: _Prices,
    step: Decimal,
    minimum: Decimal,
    balances: Balances | None,
) -> tuple[Decimal, str] | Rejection:
    meta = signal.meta
    if signal.action is Action.CLOSE:
        free = None if balances is None else balances.get(rules.base_asset)
        if free is None:
            return _reject(
                RejectionCode.BALANCE_UNKNOWN,
                f"closing {rules.symbol} sells the free {rules.base_asset}, and that balance is not known",
            )
        qty = floor_to_step(free, step)
        if qty < minimum:
            return _reject(
                RejectionCode.DUST,
                f"the free {plain(free)} {rules.base_asset} is below the smallest sellable amount "
                f"{plain(minimum)} on {rules.symbol} (dust)",
            )
        return qty, "close_free_balance"
    if meta.position_size_pct is not None:
        asset = rules.quote_asset if side is Side.BUY else rules.base_asset
        free = None if balances is None else balances.get(asset)
        if free is None:
            return _reject(
                RejectionCode.BALANCE_UNKNOWN,
                f"position_size_pct {plain(meta.position_size_pct)} % needs the free {asset} balance, "
                "which is not known",
            )
        share = free * meta.position_size_pct / HUNDRED
        raw = share / prices.entry if side is Side.BUY else share
        how = "position_size_pct"
    elif signal.quantity > 0:
        raw, how = signal.quantity, "explicit"
    else:
        return minimum, "dynamic_minimum"
    qty = floor_to_step(raw, step)
    if qty < minimum:
        return minimum, "raised_to_minimum"
    return qty, how


def _brackets(
    rules: SymbolRules,
    side: Side,
    entry: OrderRequest,
    bp: _BracketPrices,
    sid: str,
    market: Market,
    config: SizingConfig,
    step: Decimal,
) -> Brackets | Rejection:
    exit_side = side.opposite
    qty = None if entry.quantity is None else _after_commission(entry.quantity, side, config, step)
    placement = BracketPlacement.AFTER_FILL
    if entry.type is BinanceOrderType.LIMIT and rules.oto_allowed:
        placement = BracketPlacement.WITH_ENTRY
    if bp.stop_loss is not None and bp.take_profit is not None:
        kind = BracketKind.OCO
        if not rules.oco_allowed:
            return _reject(
                RejectionCode.INVALID_BRACKET,
                f"{rules.symbol} does not accept OCO order lists, so stop-loss and take-profit cannot both be placed",
            )
    else:
        kind = BracketKind.STOP_LOSS if bp.stop_loss is not None else BracketKind.TAKE_PROFIT
    stop_leg = tp_leg = None
    if bp.stop_loss is not None:
        stop_leg = OrderRequest(
            symbol=rules.symbol,
            side=exit_side,
            type=BinanceOrderType.STOP_LOSS if bp.stop_limit is None else BinanceOrderType.STOP_LOSS_LIMIT,
            quantity=qty,
            stop_price=bp.stop_loss,
            price=bp.stop_limit,
            time_in_force=None if bp.stop_limit is None else "GTC",
            new_client_order_id=client_order_id(sid, "sl"),
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
            new_client_order_id=client_order_id(sid, "tp"),
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
    return Brackets(
        kind=kind,
        placement=placement,
        side=exit_side,
        quantity=qty,
        stop_loss=stop_leg,
        take_profit=tp_leg,
        list_client_order_id=client_order_id(sid, "ls"),
    )


def entry_probe_qty(rules: SymbolRules, step: Decimal) -> Decimal:
    lot = rules.lot_size
    return max(lot.min_qty, step) if lot is not None else step
