"""The trading signal a strategy sends (seed-compatible JSON)."""

from __future__ import annotations

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

# What the open part of ``meta`` may hold (the keys the engine does not know): a few levels of plain JSON.
# Bounded so that no signal makes a record or a queue message larger than the README's bound, and so that
# every stored string can be written back as UTF-8.
MAX_META_DEPTH = 8
MAX_META_BYTES = 8 * 1024  # the whole meta as stored (compact JSON, non-ASCII escaped)
MAX_META_KEY_CHARS = 128


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


def shown(text: str, limit: int = 80) -> str:
    """``text`` safe to put in a message: lone surrogates escaped, cut to ``limit`` characters."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_error(field: str) -> PydanticCustomError:
    # ``field`` (in the error's context) names a path inside meta; contracts.errors.describe reports it.
    # pydantic refuses lone surrogates in str fields itself (string_unicode); meta's open part is not typed.
    return PydanticCustomError(
        "lone_surrogate",
        "holds a lone UTF-16 surrogate (half of a character, e.g. an emoji cut in two); send whole characters",
        {"field": field},
    )


def check_open_json(value: Any, path: str, depth: int = 0) -> int:
    """Plain JSON at most MAX_META_DEPTH levels deep, whole characters, finite numbers (walked without recursion).

    Returns an upper bound of its size as compact, ASCII-escaped JSON (at most 12 bytes per character).
    """
    size = 0
    todo: list[tuple[Any, str, int]] = [(value, path, depth)]
    while todo:
        item, where, depth = todo.pop()
        size += 2
        if isinstance(item, str):
            size += 12 * len(item)
            if not item.isascii() and _lone_surrogate(item):
                raise _surrogate_error(shown(where))
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            size += 24
            if item != item or item in (float("inf"), float("-inf")):
                raise PydanticCustomError("finite_number", "must be a finite number", {"field": shown(where)})
        elif isinstance(item, dict | list):
            if depth >= MAX_META_DEPTH:
                raise PydanticCustomError(
                    "too_deep",
                    "nests more than {max_depth} levels of objects or arrays",
                    {"field": shown(where), "max_depth": MAX_META_DEPTH},
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    size += 12 * len(key) + 3
                    if len(key) > MAX_META_KEY_CHARS or (not key.isascii() and _lone_surrogate(key)):
                        raise PydanticCustomError(
                            "invalid_key",
                            "has a key longer than {max_chars} characters or not made of whole characters",
                            {"field": shown(where), "max_chars": MAX_META_KEY_CHARS},
                        )
                    todo.append((child, f"{where}.{key}", depth + 1))
                else:
                    todo.append((child, f"{where}[{key}]", depth + 1))
    return size


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

    @model_validator(mode="before")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        """The open part (keys the engine does not know) is checked here; the known keys have their own types."""
        if not isinstance(value, dict):
            return value
        size = 0
        for key, item in value.items():
            if key not in _META_FIELDS:
                size += check_open_json({key: item}, "meta")
        if size > MAX_META_BYTES:  # the bound may overestimate: measure exactly before refusing
            size = len(json.dumps({k: v for k, v in value.items() if k not in _META_FIELDS}, separators=(",", ":")))
            if size > MAX_META_BYTES:
                raise PydanticCustomError(
                    "too_large",
                    "meta's own keys are {size} bytes as JSON; at most {max_bytes}",
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
        return self


# The first character a letter, digit or underscore: "." or ".." would make a status_url (/signals/..) that
# a client or a proxy normalises into another path.
_META_FIELDS = frozenset(SignalMeta.model_fields)

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
