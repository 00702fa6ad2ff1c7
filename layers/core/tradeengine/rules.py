"""Binance spot exchange rules: every symbol filter, checked like the exchange (parsed by ``exchange_info``).

Both filter shapes are live somewhere: the legacy ``MIN_NOTIONAL`` / ``PERCENT_PRICE`` and the current
``NOTIONAL`` / ``PERCENT_PRICE_BY_SIDE``. A value of zero disables its rule, it is never a divisor.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from contracts.money import plain
from contracts.orders import BinanceOrderType, OrderRequest, Side
from tradeengine.decimals import ZERO, is_multiple

_D0 = ZERO


@dataclass(frozen=True, slots=True)
class PriceFilter:
    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@dataclass(frozen=True, slots=True)
class LotSize:
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class PriceBand:
    """PERCENT_PRICE (same band both sides) or PERCENT_PRICE_BY_SIDE, as multipliers of the average."""

    bid_up: Decimal
    bid_down: Decimal
    ask_up: Decimal
    ask_down: Decimal
    avg_price_mins: int
    filter_type: str

    def bounds(self, side: Side, average: Decimal) -> tuple[Decimal, Decimal]:
        """(lowest, highest) price Binance accepts on this side, given the average price."""
        if side is Side.BUY:
            return average * self.bid_down, average * self.bid_up
        return average * self.ask_down, average * self.ask_up


@dataclass(frozen=True, slots=True)
class Notional:
    """MIN_NOTIONAL (legacy: min only, ``applyToMarket``) or NOTIONAL (min and max, per market flags)."""

    min_notional: Decimal
    apply_min_to_market: bool
    max_notional: Decimal
    apply_max_to_market: bool
    avg_price_mins: int
    filter_type: str


@dataclass(frozen=True, slots=True)
class TrailingDelta:
    min_above: int
    max_above: int
    min_below: int
    max_below: int

    def bounds(self, order_type: BinanceOrderType, side: Side) -> tuple[int, int, str]:
        """(lowest, highest, which pair) the filter allows for this order: STOP_LOSS BUY, STOP_LOSS_LIMIT BUY,
        TAKE_PROFIT SELL and TAKE_PROFIT_LIMIT SELL trail above the market, the others below (a 0: no bound)."""
        stops = (BinanceOrderType.STOP_LOSS, BinanceOrderType.STOP_LOSS_LIMIT)
        above = (order_type in stops) == (side is Side.BUY)
        if above:
            return self.min_above, self.max_above, "TrailingAbove"
        return self.min_below, self.max_below, "TrailingBelow"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the filter, Binance's own error text, and what it means for the order."""

    filter: str
    message: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the exchange knows beside the order: average price, open orders, the position held."""

    average_price: Decimal | None = None
    open_orders: int | None = None
    open_algo_orders: int | None = None
    open_order_lists: int | None = None
    base_position: Decimal | None = None  # free + locked base, plus open buy quantity


@dataclass(frozen=True, slots=True)
class SymbolRules:
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    base_precision: int
    quote_precision: int
    order_types: frozenset[str]
    quote_order_qty_market_allowed: bool
    oco_allowed: bool
    oto_allowed: bool
    price_filter: PriceFilter | None = None
    lot_size: LotSize | None = None
    market_lot_size: LotSize | None = None
    price_band: PriceBand | None = None
    notional: Notional | None = None
    iceberg_parts: int | None = None
    max_num_orders: int | None = None
    max_num_algo_orders: int | None = None
    max_num_order_lists: int | None = None
    max_position: Decimal | None = None
    trailing_delta: TrailingDelta | None = None
    unknown_filters: tuple[str, ...] = field(default=())

    @property
    def trading(self) -> bool:
        return self.status == "TRADING"

    @property
    def tick_size(self) -> Decimal:
        return self.price_filter.tick_size if self.price_filter else _D0

    def lot_for(self, order_type: BinanceOrderType) -> LotSize:
        """The lot rule that binds this order type: MARKET_LOT_SIZE merged over LOT_SIZE for market fills.

        Binance applies both to market orders; a zero in MARKET_LOT_SIZE (stepSize "0.00000000" in
        the 2021 data) disables that part, so LOT_SIZE's value is the one that binds.
        """
        lot = self.lot_size or LotSize(_D0, _D0, _D0)
        market = self.market_lot_size
        if not order_type.is_market or market is None:
            return lot
        max_qty = min((q for q in (lot.max_qty, market.max_qty) if q > 0), default=_D0)
        step = lot.step_size if lot.step_size > 0 else market.step_size
        if market.step_size > 0 and lot.step_size > 0 and market.step_size != lot.step_size:
            step = max(lot.step_size, market.step_size)
        return LotSize(max(lot.min_qty, market.min_qty), max_qty, step)

    def min_notional_for(self, order_type: BinanceOrderType) -> Decimal:
        n = self.notional
        if n is None or n.min_notional <= 0:
            return _D0
        if order_type is BinanceOrderType.MARKET and not n.apply_min_to_market:
            return _D0
        return n.min_notional

    def max_notional_for(self, order_type: BinanceOrderType) -> Decimal:
        n = self.notional
        if n is None or n.max_notional <= 0:
            return _D0
        if order_type is BinanceOrderType.MARKET and not n.apply_max_to_market:
            return _D0
        return n.max_notional

    def check(self, order: OrderRequest, context: OrderContext | None = None) -> list[Violation]:
        """Every filter this order breaks, as the exchange would judge it (empty: it would pass)."""
        return check(self, order, context or OrderContext())


def _filter_failure(name: str, detail: str) -> Violation:
    return Violation(name, f"Filter failure: {name}", detail)


def check(rules: SymbolRules, order: OrderRequest, ctx: OrderContext) -> list[Violation]:
    out: list[Violation] = []
    otype = order.type
    if order.symbol != rules.symbol:
        out.append(Violation("SYMBOL", "Invalid symbol.", f"order is for {order.symbol}, rules for {rules.symbol}"))
    if otype.value not in rules.order_types:
        out.append(
            Violation("ORDER_TYPE", "Unsupported order combination.", f"{rules.symbol} does not take {otype.value}")
        )
    _check_prices(rules, order, out)
    qty = order.quantity
    if order.quote_order_qty is not None:
        if otype is not BinanceOrderType.MARKET or not rules.quote_order_qty_market_allowed:
            out.append(
                Violation(
                    "QUOTE_ORDER_QTY",
                    "Quote order qty market orders are not support for this symbol.",
                    f"{rules.symbol} does not take quoteOrderQty for {otype.value}",
                )
            )
    elif qty is None or qty <= 0:
        out.append(Violation("QUANTITY", "Invalid quantity.", "quantity must be greater than 0"))
    if qty is not None and qty > 0:
        _check_lot(rules, otype, qty, out)
    _check_notional(rules, order, ctx, out)
    _check_band(rules, order, ctx, out)
    _check_counts(rules, order, ctx, out)
    _check_position(rules, order, ctx, out)
    _check_trailing(rules, order, out)
    return out


def _check_trailing(rules: SymbolRules, order: OrderRequest, out: list[Violation]) -> None:
    """TRAILING_DELTA: the delta within the pair of bounds for the order's kind and side (Binance -1013)."""
    delta, bounds = order.trailing_delta, rules.trailing_delta
    if delta is None or bounds is None or not order.type.needs_stop_price:
        return
    low, high, pair = bounds.bounds(order.type, order.side)
    if delta < 1 or (low > 0 and delta < low) or (high > 0 and delta > high):
        out.append(
            _filter_failure(
                "TRAILING_DELTA",
                f"trailingDelta {delta} is outside min{pair}Delta..max{pair}Delta {low}..{high} bips "
                f"for a {order.side.value} {order.type.value}",
            )
        )


def _check_position(rules: SymbolRules, order: OrderRequest, ctx: OrderContext, out: list[Violation]) -> None:
    limit, held, qty = rules.max_position, ctx.base_position, order.quantity
    if limit is None or held is None or qty is None or order.side is not Side.BUY:
        return
    if held + qty > limit:
        out.append(
            _filter_failure("MAX_POSITION", f"position would be {plain(held + qty)}, above maxPosition {plain(limit)}")
        )


def _check_prices(rules: SymbolRules, order: OrderRequest, out: list[Violation]) -> None:
    otype = order.type
    if otype.needs_price and order.price is None:
        out.append(Violation("PRICE", "Mandatory parameter 'price' was not sent.", f"{otype.value} needs a price"))
    if otype.needs_stop_price and order.stop_price is None and order.trailing_delta is None:
        out.append(
            Violation("STOP_PRICE", "Mandatory parameter 'stopPrice' was not sent.", f"{otype.value} needs a stopPrice")
        )
    pf = rules.price_filter
    if pf is None:
        return
    for name, price in (("price", order.price), ("stopPrice", order.stop_price)):
        if price is None:
            continue
        if price <= 0:
            out.append(_filter_failure("PRICE_FILTER", f"{name} must be greater than 0"))
        elif pf.min_price > 0 and price < pf.min_price:
            out.append(
                _filter_failure("PRICE_FILTER", f"{name} {plain(price)} is below minPrice {plain(pf.min_price)}")
            )
        elif pf.max_price > 0 and price > pf.max_price:
            out.append(
                _filter_failure("PRICE_FILTER", f"{name} {plain(price)} is above maxPrice {plain(pf.max_price)}")
            )
        elif not is_multiple(price, pf.tick_size):
            out.append(
                _filter_failure(
                    "PRICE_FILTER", f"{name} {plain(price)} is not a multiple of tickSize {plain(pf.tick_size)}"
                )
            )


def _check_lot(rules: SymbolRules, otype: BinanceOrderType, qty: Decimal, out: list[Violation]) -> None:
    lots: list[tuple[str, LotSize]] = []
    if rules.lot_size is not None:
        lots.append(("LOT_SIZE", rules.lot_size))
    if otype.is_market and rules.market_lot_size is not None:
        lots.append(("MARKET_LOT_SIZE", rules.market_lot_size))
    for name, lot in lots:
        if lot.min_qty > 0 and qty < lot.min_qty:
            out.append(_filter_failure(name, f"quantity {plain(qty)} is below minQty {plain(lot.min_qty)}"))
        elif lot.max_qty > 0 and qty > lot.max_qty:
            out.append(_filter_failure(name, f"quantity {plain(qty)} is above maxQty {plain(lot.max_qty)}"))
        elif not is_multiple(qty, lot.step_size):
            out.append(
                _filter_failure(name, f"quantity {plain(qty)} is not a multiple of stepSize {plain(lot.step_size)}")
            )


def _notional_price(order: OrderRequest, ctx: OrderContext) -> Decimal | None:
    """The price the order is valued at: the average price for MARKET, else its limit or trigger price.

    Valuing stop orders at their trigger (not the average) is stricter than needed, on purpose: an OCO's
    stop leg below the minimum notional is the classic bracket rejection.
    """
    if order.type is BinanceOrderType.MARKET:
        return ctx.average_price
    return order.price if order.price is not None else order.stop_price


def _check_notional(rules: SymbolRules, order: OrderRequest, ctx: OrderContext, out: list[Violation]) -> None:
    n = rules.notional
    if n is None:
        return
    if order.quote_order_qty is not None:
        value: Decimal | None = order.quote_order_qty
    else:
        price = _notional_price(order, ctx)
        value = price * order.quantity if price is not None and order.quantity is not None else None
    if value is None:
        return
    low = rules.min_notional_for(order.type)
    high = rules.max_notional_for(order.type)
    if low > 0 and value < low:
        out.append(_filter_failure(n.filter_type, f"notional {plain(value)} is below minNotional {plain(low)}"))
    if high > 0 and value > high:
        out.append(_filter_failure(n.filter_type, f"notional {plain(value)} is above maxNotional {plain(high)}"))


def _check_band(rules: SymbolRules, order: OrderRequest, ctx: OrderContext, out: list[Violation]) -> None:
    band = rules.price_band
    if band is None or order.price is None or ctx.average_price is None or ctx.average_price <= 0:
        return
    low, high = band.bounds(order.side, ctx.average_price)
    if (high > 0 and order.price > high) or order.price < low:
        out.append(
            _filter_failure(
                band.filter_type,
                f"price {plain(order.price)} is outside {plain(low)}..{plain(high)} "
                f"({band.filter_type} around the {band.avg_price_mins}-minute average {plain(ctx.average_price)})",
            )
        )


def _check_counts(rules: SymbolRules, order: OrderRequest, ctx: OrderContext, out: list[Violation]) -> None:
    if rules.max_num_orders is not None and ctx.open_orders is not None and ctx.open_orders + 1 > rules.max_num_orders:
        out.append(_filter_failure("MAX_NUM_ORDERS", f"{ctx.open_orders} orders already open on {rules.symbol}"))
    if (
        order.type.needs_stop_price
        and rules.max_num_algo_orders is not None
        and ctx.open_algo_orders is not None
        and ctx.open_algo_orders + 1 > rules.max_num_algo_orders
    ):
        out.append(_filter_failure("MAX_NUM_ALGO_ORDERS", f"{ctx.open_algo_orders} stop orders already open"))
