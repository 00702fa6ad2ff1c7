"""The trading signal a strategy sends (seed-compatible JSON)."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from contracts.money import Money, plain
from contracts.open_json import MAX_META_BYTES as MAX_META_BYTES
from contracts.open_json import check_open_json
from contracts.open_json import shown as shown


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


MAX_LADDER_LEVELS = 10  # take-profit levels of one signal: each is an OCO on the exchange (MAX_NUM_ORDERS)
MAX_TRAILING_DELTA_BPS = 10000  # 100 %; each symbol's TRAILING_DELTA filter bounds it further (sizing)


class TakeProfitLevel(BaseModel):
    """One rung of a take-profit ladder: its price (absolute, or percent from the entry) and its share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price: Money | None = Field(default=None, gt=0, description="absolute take-profit price of this level")
    pct: Percent | None = Field(default=None, gt=0, description="take-profit this many percent from the entry")
    share: Money = Field(gt=0, le=1, description="the part of the position this level sells (all levels sum to 1)")

    @model_validator(mode="after")
    def _one_price(self) -> TakeProfitLevel:
        if (self.price is None) == (self.pct is None):
            raise ValueError("give price or pct, exactly one")
        return self


class SignalMeta(BaseModel):
    """Execution hints. Only these keys are read; the strategy's own data goes in ``tags``.

    Any other key is refused (``unknown_key``, naming the documented key it most resembles): a typo such as
    ``take_proft`` must not trade at market without the exit the strategy asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    stop_price: Money | None = Field(default=None, gt=0)
    stop_loss: Money | None = Field(default=None, gt=0)
    stop_loss_pct: Percent | None = Field(default=None, gt=0, lt=100)
    take_profit: Money | None = Field(default=None, gt=0)
    take_profit_pct: Percent | None = Field(default=None, gt=0)
    take_profit_levels: tuple[TakeProfitLevel, ...] | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_LADDER_LEVELS,
        description="a take-profit ladder: one OCO per level (its take-profit at the level, its stop at the "
        "shared stop-loss); shares sum to 1; market entries only",
    )
    trailing_delta_bps: int | None = Field(
        default=None,
        gt=0,
        le=MAX_TRAILING_DELTA_BPS,
        description="Binance trailingDelta in bips (100 = 1 %): on a stop / stop_limit entry, else on the "
        "stop-loss exit (which then trails from the fill); within the symbol's TRAILING_DELTA filter",
    )
    trailing_stop_pct: Percent | None = Field(
        default=None,
        gt=0,
        le=100,
        description="the same trailing delta in percent, a whole number of bips (1.25 = 125 bips)",
    )
    position_size_pct: Percent | None = Field(default=None, gt=0, le=100)
    quote_quantity: Money | None = Field(default=None, gt=0)
    simulate: bool | None = Field(
        default=None,
        description="the seed's flag: true refuses the signal on an engine that trades on Binance mainnet "
        "(the engine's mode is the deployment's SIMULATION_ENABLED, never a signal's)",
    )
    tags: dict[str, Any] | None = Field(
        default=None, description="the strategy's own data, kept with the signal and never read by the engine"
    )
    indicators: dict[str, Any] | None = Field(
        default=None, description="the seed's name for free-form data such as indicator values: kept, never read"
    )

    @field_validator("order_type", mode="before")
    @classmethod
    def _lower_order_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("time_in_force", mode="before")
    @classmethod
    def _upper_tif(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        """Unknown keys are refused; the free-form objects are checked here (the other keys have their types)."""
        if not isinstance(value, dict):
            return value
        unknown = [key for key in value if key not in _META_FIELDS]
        if unknown:
            raise _unknown_keys(unknown)
        size = 0
        for key in _FREE_FORM:
            if key in value:
                size += check_open_json({key: value[key]}, "meta")
        if size > MAX_META_BYTES:  # the bound may overestimate: measure exactly before refusing
            size = len(json.dumps({k: v for k, v in value.items() if k in _FREE_FORM}, separators=(",", ":")))
            if size > MAX_META_BYTES:
                raise PydanticCustomError(
                    "too_large",
                    "meta's free-form objects (tags, indicators) are {size} bytes as JSON; at most {max_bytes}",
                    {"size": size, "max_bytes": MAX_META_BYTES},
                )
        return value

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
        self._check_trailing()
        self._check_ladder()
        return self

    @property
    def trailing_delta(self) -> int | None:
        """The trailing delta in bips, however it was given."""
        if self.trailing_stop_pct is not None:
            return int(self.trailing_stop_pct * 100)
        return self.trailing_delta_bps

    @property
    def trails_entry(self) -> bool:
        """The trailing delta goes on the entry (a stop order), not on the stop-loss exit."""
        return self.trailing_delta is not None and self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)

    def _check_trailing(self) -> None:
        if self.trailing_delta_bps is not None and self.trailing_stop_pct is not None:
            raise _field_error("trailing_delta_bps, meta.trailing_stop_pct", "give one of them, not both")
        pct = self.trailing_stop_pct
        if pct is not None and (pct * 100) != (pct * 100).to_integral_value():
            raise _field_error(
                "trailing_stop_pct", "must be a whole number of bips (0.01 %): e.g. 1.25, not 1.255", "whole_bips"
            )
        if self.trailing_delta is None or self.trails_entry:
            return
        given = "trailing_stop_pct" if self.trailing_stop_pct is not None else "trailing_delta_bps"
        if self.order_type in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT):
            raise _field_error(given, "a trailing delta goes on a stop or stop_limit entry, or on the stop-loss exit")
        if self.stop_loss is not None or self.stop_loss_pct is not None:
            # On Binance a trailing stop's stopPrice is where the trailing starts, not a floor: a fixed stop
            # beside it would leave the position unprotected until the price falls that far.
            fixed = "stop_loss" if self.stop_loss is not None else "stop_loss_pct"
            raise _field_error(
                f"{given}, meta.{fixed}",
                "a trailing stop-loss trails from the fill; give it or a fixed stop_loss / stop_loss_pct, not both",
            )

    def _check_ladder(self) -> None:
        levels = self.take_profit_levels
        if levels is None:
            return
        if self.take_profit is not None or self.take_profit_pct is not None:
            one = "take_profit" if self.take_profit is not None else "take_profit_pct"
            raise _field_error(f"take_profit_levels, meta.{one}", "give a ladder or one take-profit, not both")
        total = sum((level.share for level in levels), Decimal(0))
        if total != 1:
            raise _field_error(
                "take_profit_levels", f"the shares sum to {plain(total)}; they must sum to 1", "shares_sum"
            )
        if self.stop_loss is None and self.stop_loss_pct is None and self.trailing_delta is None:
            raise _field_error(
                "take_profit_levels", "a ladder needs a stop-loss (stop_loss, stop_loss_pct or a trailing delta)"
            )
        if self.order_type is not OrderType.MARKET:
            raise _field_error("take_profit_levels", "a take-profit ladder is for market entries only")


def _field_error(fields: str, message: str, rule: str = "invalid_combination") -> PydanticCustomError:
    return PydanticCustomError(rule, message, {"fields": f"meta.{fields}"})


def _unknown_keys(keys: list[str]) -> PydanticCustomError:
    hints = []
    for key in keys[:5]:
        close = difflib.get_close_matches(key.lower(), _DOCUMENTED, n=1, cutoff=0.6)
        hints.append(f"{shown(key, 40)!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return PydanticCustomError(
        "unknown_key",
        "is not a key meta takes: {keys}; the strategy's own data goes in meta.tags",
        {"fields": ", ".join(f"meta.{shown(k, 40)}" for k in keys[:5]), "keys": ", ".join(hints)},
    )


# The first character a letter, digit or underscore: "." or ".." would make a status_url (/signals/..) that
# a client or a proxy normalises into another path.
_META_FIELDS = frozenset(SignalMeta.model_fields)
_FREE_FORM = ("tags", "indicators")
_DOCUMENTED = sorted(_META_FIELDS - set(_FREE_FORM))

SIGNAL_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$"


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
    def _one_size(self) -> Signal:
        # quantity 0 means "not given" (the dynamic minimum); any other quantity competes with the meta's sizing.
        if self.quantity > 0:
            for other in ("quote_quantity", "position_size_pct"):
                if getattr(self.meta, other) is not None:
                    raise PydanticCustomError(
                        "conflicting_fields",
                        "quantity and meta.{other} both size the order; give one (quantity 0 means not given)",
                        {"fields": f"quantity, meta.{other}", "other": other},
                    )
        return self

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


def content_digest(signal_json: Mapping[str, Any]) -> str:
    """A hash of a validated signal's JSON form (``model_dump(mode="json", exclude_none=True)``), its id left out.

    Two sends under one signal_id are the same signal exactly when their digests agree: the comparison is
    on the validated form, so ``45000.0`` and ``"45000"`` or ``Z`` and ``+00:00`` do not count as changes.
    """
    content = {k: v for k, v in signal_json.items() if k != "signal_id"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


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
