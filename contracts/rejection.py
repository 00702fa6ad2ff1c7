"""Why the engine refused a signal: a stable code and a sentence a trader understands."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RejectionCode(StrEnum):
    INVALID_SIGNAL = "INVALID_SIGNAL"
    CONFIDENCE_TOO_LOW = "CONFIDENCE_TOO_LOW"
    STALE_SIGNAL = "STALE_SIGNAL"
    SIGNAL_FROM_FUTURE = "SIGNAL_FROM_FUTURE"
    TRADING_HALTED = "TRADING_HALTED"
    TRADING_REDUCING = "TRADING_REDUCING"
    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    SYMBOL_UNKNOWN = "SYMBOL_UNKNOWN"
    SYMBOL_NOT_TRADING = "SYMBOL_NOT_TRADING"
    ORDER_TYPE_NOT_ALLOWED = "ORDER_TYPE_NOT_ALLOWED"
    PRICE_UNKNOWN = "PRICE_UNKNOWN"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    PRICE_OUT_OF_RANGE = "PRICE_OUT_OF_RANGE"
    QUANTITY_ABOVE_MAX = "QUANTITY_ABOVE_MAX"
    NOTIONAL_ABOVE_MAX = "NOTIONAL_ABOVE_MAX"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    POSITION_SIZE_TOO_LARGE = "POSITION_SIZE_TOO_LARGE"
    BALANCE_UNKNOWN = "BALANCE_UNKNOWN"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INVALID_BRACKET = "INVALID_BRACKET"
    TRAILING_DELTA_OUT_OF_RANGE = "TRAILING_DELTA_OUT_OF_RANGE"  # outside the symbol's TRAILING_DELTA filter
    LADDER_LEVEL_TOO_SMALL = "LADDER_LEVEL_TOO_SMALL"  # a take-profit level's share cannot pass the filters
    SIMULATION_ONLY = "SIMULATION_ONLY"  # meta.simulate true on an engine trading on Binance mainnet
    DUST = "DUST"
    NOTHING_TO_CLOSE = "NOTHING_TO_CLOSE"
    SELL_EXCEEDS_POSITION = "SELL_EXCEEDS_POSITION"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    STOPLOSS_GUARD = "STOPLOSS_GUARD"
    COOLDOWN = "COOLDOWN"
    FILTER_FAILURE = "FILTER_FAILURE"
    STRATEGY_RATE_LIMITED = "STRATEGY_RATE_LIMITED"  # STRATEGY_ORDERS_PER_MINUTE reached


class Rejection(BaseModel):
    """A refusal. ``code`` is stable (strategies may branch on it); ``reason`` is for people."""

    model_config = ConfigDict(frozen=True)

    code: RejectionCode
    reason: str
