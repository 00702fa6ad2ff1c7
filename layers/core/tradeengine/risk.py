"""Risk limits and the trading state (pure: no I/O). Every denial is a stable code and a plain sentence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from contracts.money import plain
from contracts.orders import BinanceOrderType, OrderPlan, Side
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Action, OrderType, Signal
from tradeengine.decimals import HUNDRED, ONE
from tradeengine.rules import SymbolRules
from tradeengine.sizing import Balances, Market, SizingConfig


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  # everything allowed
    REDUCING = "REDUCING"  # only sells and closes: positions may shrink, never grow
    HALTED = "HALTED"  # nothing is sent


@dataclass(frozen=True, slots=True)
class RiskLimits:
    min_confidence: Decimal = Decimal("0.6")
    max_signal_age_seconds: int = 300
    max_clock_skew_seconds: int = 30  # how far in the future a signal's timestamp may be
    symbol_allowlist: frozenset[str] | None = None  # None: every symbol the exchange trades
    max_order_notional: Decimal | None = None  # in the symbol's quote asset
    max_position_size_pct: Decimal = HUNDRED
    # A market signal's price further than this (percent) from the market is refused (a fat finger); 0: off.
    max_signal_price_deviation_pct: Decimal = Decimal(5)
    live: bool = False  # the engine trades on Binance mainnet: a signal asking for simulation is refused


def _reject(code: RejectionCode, reason: str) -> Rejection:
    return Rejection(code=code, reason=reason)


def before_sizing(
    signal: Signal,
    rules: SymbolRules | None,
    limits: RiskLimits,
    state: TradingState,
    now: datetime,
    market: Market | None = None,
) -> Rejection | None:
    """Checks that need only the signal, the symbol's status, the clock and the market price."""
    if signal.meta.simulate and limits.live:
        return _reject(
            RejectionCode.SIMULATION_ONLY,
            "meta.simulate is true and this engine trades on Binance mainnet: nothing is sent",
        )
    if state is TradingState.HALTED:
        return _reject(RejectionCode.TRADING_HALTED, "trading is halted: no order is sent until an operator resumes it")
    if state is TradingState.REDUCING and signal.action is Action.BUY:
        return _reject(
            RejectionCode.TRADING_REDUCING,
            "trading is reducing positions only: sells and closes are accepted, buys are not",
        )
    if signal.confidence < limits.min_confidence:
        return _reject(
            RejectionCode.CONFIDENCE_TOO_LOW,
            f"confidence {plain(signal.confidence)} is below the minimum {plain(limits.min_confidence)}",
        )
    age = (now - signal.timestamp).total_seconds()
    if age > limits.max_signal_age_seconds:
        return _reject(
            RejectionCode.STALE_SIGNAL,
            f"the signal is {int(age)} s old; signals older than {limits.max_signal_age_seconds} s are not traded",
        )
    if -age > limits.max_clock_skew_seconds:
        return _reject(
            RejectionCode.SIGNAL_FROM_FUTURE,
            f"the signal's timestamp is {int(-age)} s in the future; check the strategy's clock",
        )
    if limits.symbol_allowlist is not None and signal.symbol not in limits.symbol_allowlist:
        return _reject(RejectionCode.SYMBOL_NOT_ALLOWED, f"{signal.symbol} is not on this engine's list of symbols")
    if rules is None:
        return _reject(RejectionCode.SYMBOL_UNKNOWN, f"the exchange does not list {signal.symbol}")
    if not rules.trading:
        return _reject(
            RejectionCode.SYMBOL_NOT_TRADING,
            f"{rules.symbol} is not trading on the exchange now (status {rules.status})",
        )
    pct = signal.meta.position_size_pct
    if pct is not None and pct > limits.max_position_size_pct:
        return _reject(
            RejectionCode.POSITION_SIZE_TOO_LARGE,
            f"position_size_pct {plain(pct)} % is above the limit {plain(limits.max_position_size_pct)} %",
        )
    return None if market is None else fat_finger(signal, market, limits)


def fat_finger(signal: Signal, market: Market, limits: RiskLimits) -> Rejection | None:
    """A market buy or sell whose price is far from the market: the strategy's figures are wrong somewhere.

    A market order fills at the market whatever ``price`` says, so a price 100x off would trade unnoticed."""
    bound = limits.max_signal_price_deviation_pct
    if (
        bound <= 0
        or signal.action not in (Action.BUY, Action.SELL)
        or signal.meta.order_type is not OrderType.MARKET
        or signal.price <= 0
        or market.price <= 0
    ):
        return None
    deviation = abs(signal.price - market.price) / market.price * HUNDRED
    if deviation <= bound:
        return None
    return _reject(
        RejectionCode.PRICE_OUT_OF_BAND,
        f"the signal's price {plain(signal.price)} is {plain(deviation.quantize(Decimal('0.01')))} % from the "
        f"market {plain(market.price)} of {signal.symbol}; a market signal may be at most {plain(bound)} % off "
        "(MAX_SIGNAL_PRICE_DEVIATION_PCT)",
    )


def after_sizing(
    plan: OrderPlan,
    rules: SymbolRules,
    market: Market,
    balances: Balances | None,
    limits: RiskLimits,
    config: SizingConfig,
) -> Rejection | None:
    """Checks on the sized order: price band, price range, order value, balance."""
    order = plan.order
    if order.price is not None:
        band = rules.price_band
        if band is not None:
            low, high = band.bounds(order.side, market.average)
            if order.price < low or (high > 0 and order.price > high):
                return _reject(
                    RejectionCode.PRICE_OUT_OF_BAND,
                    f"{order.side.value.lower()} price {plain(order.price)} is too far from the market: "
                    f"{rules.symbol} accepts {plain(low.normalize())}..{plain(high.normalize())} "
                    f"around its average price {plain(market.average)}",
                )
    if limits.max_order_notional is not None and plan.notional > limits.max_order_notional:
        return _reject(
            RejectionCode.MAX_ORDER_NOTIONAL,
            f"order value {plain(plan.notional)} {rules.quote_asset} is above this engine's limit "
            f"{plain(limits.max_order_notional)} per order",
        )
    if balances is None:
        return None
    if order.side is Side.BUY:
        asset = rules.quote_asset
        need = plan.notional
        if order.type is BinanceOrderType.MARKET and order.quote_order_qty is None:
            need = need * (ONE + config.market_margin_pct / HUNDRED)  # the fill may cost more than the last price
        if not config.commission_in_base_on_buy:
            need = need * (ONE + config.fee_rate)
    else:
        asset = rules.base_asset
        need = order.quantity if order.quantity is not None else plan.notional / market.price
    free = balances.get(asset)
    if free is None:
        return None  # not known, and this order's size does not depend on it: the exchange will judge
    if need > free:
        return _reject(
            RejectionCode.INSUFFICIENT_BALANCE,
            f"the order needs {plain(need.normalize())} {asset} and {plain(free)} {asset} is free",
        )
    return None
