"""The trading signal a strategy sends (seed-compatible JSON)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.money import Money, plain


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"
    HOLD = "hold"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    @property
    def has_limit_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)

    @property
    def has_trigger(self) -> bool:
        return self in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT)


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


Percent = Money  # percent units, as in the seed: 2.0 means 2 %


class SignalMeta(BaseModel):
    """Execution hints. Keys the engine does not know are kept (the seed's meta is open)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    stop_price: Money | None = Field(default=None, gt=0)
    stop_loss: Money | None = Field(default=None, gt=0)
    stop_loss_pct: Percent | None = Field(default=None, gt=0, lt=100)
    take_profit: Money | None = Field(default=None, gt=0)
    take_profit_pct: Percent | None = Field(default=None, gt=0)
    position_size_pct: Percent | None = Field(default=None, gt=0, le=100)
    quote_quantity: Money | None = Field(default=None, gt=0)

    @field_validator("order_type", mode="before")
    @classmethod
    def _lower_order_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("time_in_force", mode="before")
    @classmethod
    def _upper_tif(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way_to_size(self) -> SignalMeta:
        if self.stop_loss is not None and self.stop_loss_pct is not None:
            raise ValueError("give stop_loss or stop_loss_pct, not both")
        if self.take_profit is not None and self.take_profit_pct is not None:
            raise ValueError("give take_profit or take_profit_pct, not both")
        if self.position_size_pct is not None and self.quote_quantity is not None:
            raise ValueError("give position_size_pct or quote_quantity, not both")
        if self.quote_quantity is not None and self.order_type is not OrderType.MARKET:
            raise ValueError("quote_quantity is only for market orders (Binance quoteOrderQty)")
        return self


SIGNAL_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class Signal(BaseModel):
    """A strategy's request to trade. ``quantity`` 0 means "use the exchange's dynamic minimum"."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    strategy_id: str = Field(min_length=1, max_length=128)
    symbol: str = Field(min_length=2, max_length=20, pattern=r"^[A-Za-z0-9]+$")
    action: Action
    price: Money = Field(ge=0)
    quantity: Money = Field(default=Decimal(0), ge=0)
    confidence: Money = Field(ge=0, le=1)
    timestamp: datetime
    meta: SignalMeta = Field(default_factory=SignalMeta)
    signal_id: str | None = Field(default=None, pattern=SIGNAL_ID_PATTERN)

    @field_validator("symbol", mode="after")
    @classmethod
    def _upper_symbol(cls, value: str) -> str:
        return value.upper()

    @field_validator("action", mode="before")
    @classmethod
    def _lower_action(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("meta", mode="before")
    @classmethod
    def _null_meta(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timestamp", mode="after")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A timestamp without a zone is taken as UTC, as the seed's strategies send it.
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+00:01 is before year 1 in UTC: invalid, not a server error
            raise ValueError("timestamp is out of range once converted to UTC") from None

    @model_validator(mode="after")
    def _price_for_orders(self) -> Signal:
        if self.action in (Action.BUY, Action.SELL) and self.price <= 0:
            raise ValueError("price must be greater than 0 for buy and sell signals")
        if self.meta.order_type.has_trigger and self.meta.stop_price is None and self.price <= 0:
            raise ValueError("stop and take-profit orders need meta.stop_price or a price to trigger at")
        return self

    @property
    def id(self) -> str:
        """The client's ``signal_id``, or one derived from the content (same signal, same id)."""
        return self.signal_id if self.signal_id is not None else derive_signal_id(self)


def derive_signal_id(signal: Signal) -> str:
    content = {
        "strategy_id": signal.strategy_id,
        "symbol": signal.symbol,
        "action": signal.action.value,
        "price": plain(signal.price),
        "quantity": plain(signal.quantity),
        "timestamp": signal.timestamp.isoformat(),
        "meta": signal.meta.model_dump(mode="json", exclude_none=True),
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"sig-{digest[:32]}"
