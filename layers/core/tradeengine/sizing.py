"""Turn a signal into an order the exchange accepts on the first try (pure: no I/O).

Dynamic minimum order amount (the seed's rule, made exact):
``max(minQty, ceil_to_step(minNotional / valuation_price))``, with MARKET_LOT_SIZE for market orders
and a safety margin for market orders (the price moves between sizing and fill). Quantity 0 means the
minimum; a valid quantity is used after flooring to the step; below the minimum becomes the minimum;
above the maximum is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from contracts.money import plain
from contracts.orders import (
    BinanceOrderType,
    Hold,
    OrderPlan,
    OrderRequest,
    Side,
)
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Action, OrderType, Signal
from tradeengine.brackets import (
    BracketPrices,
    after_commission,
    bracket_prices,
    ladder_minimum,
    ladder_prices,
    make_brackets,
    make_ladder,
    trailing_problem,
)
from tradeengine.decimals import HUNDRED, ONE, ZERO, ceil_to_step, floor_to_step, quantize_places
from tradeengine.rules import LotSize, SymbolRules
from tradeengine.sizing_base import Market, SizingConfig, _reject, client_order_id
from tradeengine.sizing_prices import EntryPrices, entry_prices

__all__ = ["BINANCE_TYPE", "Balances", "Market", "SizingConfig", "client_order_id", "size"]

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
class Holding:
    """What the strategy holds of the symbol's base asset, by its own book (sells and closes only).

    ``quantity``: the position (0: none). ``untracked_ok``: a sell may exceed it (coins the account held
    before the engine); otherwise such a sell is refused, spot being long-only."""

    quantity: Decimal
    untracked_ok: bool = False


def _smallest_step(lot: LotSize, rules: SymbolRules) -> Decimal:
    if lot.step_size > 0:
        return lot.step_size
    return Decimal(1).scaleb(-rules.base_precision)


def _minimum(
    rules: SymbolRules,
    lot: LotSize,
    btype: BinanceOrderType,
    valuation: Decimal,
    step: Decimal,
    side: Side,
    bracket_prices: BracketPrices | None,
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
        while after_commission(entry_min, side, config, step) < leg_min:
            entry_min += step
    return max(minimum, entry_min)


def size(
    signal: Signal,
    rules: SymbolRules,
    market: Market,
    balances: Balances | None = None,
    config: SizingConfig | None = None,
    holding: Holding | None = None,
) -> OrderPlan | Rejection | Hold:
    """Size one signal against its symbol's rules. Risk limits are applied separately (``risk``).

    With ``holding`` (the strategy's position from the book), a close sells that position (never more than
    the free balance), and a sell may not exceed it; without it, a close sells the free base balance."""
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
    prices = entry_prices(signal, btype, side, rules, market, config)
    if isinstance(prices, Rejection):
        return prices
    lot = rules.lot_for(btype)
    step = _smallest_step(lot, rules)
    notes: list[str] = []

    meta = signal.meta
    if meta.trails_entry and signal.action is not Action.CLOSE:
        assert meta.trailing_delta is not None
        problem = trailing_problem(rules, btype, side, meta.trailing_delta)
        if problem is not None:
            return problem
    exit_trailing = None if meta.trails_entry else meta.trailing_delta
    asks_brackets = any(
        v is not None
        for v in (meta.stop_loss, meta.stop_loss_pct, meta.take_profit, meta.take_profit_pct, exit_trailing)
    )
    exits: BracketPrices | None = None
    ladder: list[BracketPrices] = []
    shares = [level.share for level in meta.take_profit_levels or ()]
    if asks_brackets and signal.action is Action.CLOSE:
        notes.append("stop-loss / take-profit / trailing stops are ignored on a close")
    elif shares:
        levels = ladder_prices(signal, side, prices.entry, rules, config)
        if isinstance(levels, Rejection):
            return levels
        ladder, exits = levels, levels[0]
    elif asks_brackets:
        bp = bracket_prices(signal, side, prices.entry, rules, config)
        if isinstance(bp, Rejection):
            return bp
        exits = bp
    minimum = _minimum(rules, lot, btype, prices.valuation, step, side, exits, config)
    if ladder:
        minimum = max(minimum, ladder_minimum(ladder, shares, rules, side, config, step))

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
        chosen = _choose_quantity(signal, side, rules, prices, step, minimum, balances, holding)
        if isinstance(chosen, Rejection):
            return chosen
        quantity, how = chosen
        if (
            holding is not None
            and signal.action is Action.SELL
            and not holding.untracked_ok
            and quantity > holding.quantity
        ):
            return _reject(
                RejectionCode.SELL_EXCEEDS_POSITION,
                f"selling {plain(quantity)} {rules.base_asset} is more than strategy {signal.strategy_id} holds "
                f"({plain(holding.quantity)} {rules.base_asset} of {rules.symbol}); spot orders cannot go short",
            )
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
        trailing_delta=meta.trailing_delta if meta.trails_entry and signal.action is not Action.CLOSE else None,
        new_client_order_id=entry_id,
    )
    brackets = None
    if ladder:
        made = make_ladder(rules, side, order, ladder, shares, sid, market, config, step)
        if isinstance(made, Rejection):
            return made
        brackets = made
    elif exits is not None:
        made = make_brackets(rules, side, order, exits, sid, market, config, step)
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
    prices: EntryPrices,
    step: Decimal,
    minimum: Decimal,
    balances: Balances | None,
    holding: Holding | None = None,
) -> tuple[Decimal, str] | Rejection:
    meta = signal.meta
    if signal.action is Action.CLOSE and holding is not None:
        return _close_position(signal, rules, step, minimum, balances, holding)
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
        if side is Side.SELL and holding is not None and not holding.untracked_ok:
            free = holding.quantity  # a share of the strategy's own position, not of the account's coins
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


def _close_position(
    signal: Signal, rules: SymbolRules, step: Decimal, minimum: Decimal, balances: Balances | None, holding: Holding
) -> tuple[Decimal, str] | Rejection:
    """A close sells the strategy's position: never another strategy's share, never more than is free
    (the caller counts the base its own exit orders lock as free: they are canceled first)."""
    base = rules.base_asset
    if holding.quantity <= 0:
        return _reject(
            RejectionCode.NOTHING_TO_CLOSE,
            f"strategy {signal.strategy_id} holds no {base} of {rules.symbol} in the book: nothing to close",
        )
    free = None if balances is None else balances.get(base)
    if free is None:
        return _reject(
            RejectionCode.BALANCE_UNKNOWN,
            f"closing {rules.symbol} needs the free {base} balance, and that balance is not known",
        )
    qty = floor_to_step(min(holding.quantity, free), step)
    if qty < minimum:
        return _reject(
            RejectionCode.DUST,
            f"the position of {plain(holding.quantity)} {base} (of which {plain(min(holding.quantity, free))} can "
            f"be sold) is below the smallest sellable amount {plain(minimum)} on {rules.symbol} (dust)",
        )
    return qty, "close_position"
