"""The records of the fill model (orders, trades, order lists, settings) and their JSON-able form.

Kept apart from the matching rules so the book can be stored (DynamoDB, a file) and restored exactly:
every Decimal is written as a plain string, every id as an int.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from contracts.money import plain
from tradeengine.exchange import codes

ZERO = Decimal(0)


class MatchingError(Exception):
    """A request the exchange refuses, with Binance's code, message and HTTP status."""

    def __init__(self, code: int, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


# Binance's own texts, so a client that matches on them behaves as it would against the real venue.
INSUFFICIENT_BALANCE = (codes.NEW_ORDER_REJECTED, "Account has insufficient balance for requested action.")
DUPLICATE_ORDER = (codes.NEW_ORDER_REJECTED, "Duplicate order sent.")
WOULD_TAKE = (codes.NEW_ORDER_REJECTED, "Order would immediately match and take.")
WOULD_TRIGGER = (codes.NEW_ORDER_REJECTED, "Stop price would trigger immediately.")
MARKET_CLOSED = (codes.NEW_ORDER_REJECTED, "Market is closed.")
UNKNOWN_ORDER_CANCEL = (codes.CANCEL_REJECTED, "Unknown order sent.")
ORDER_DOES_NOT_EXIST = (codes.NO_SUCH_ORDER, "Order does not exist.")
INVALID_SYMBOL = (codes.INVALID_SYMBOL, "Invalid symbol.")


def refuse(error: tuple[int, str]) -> MatchingError:
    return MatchingError(*error)


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """How the simulated venue fills and charges.

    ``slippage_bps`` moves market (taker) fills against the trader: buys pay more, sells get less.
    ``buy_commission_in``: "base" is Binance's default (a buy's fee comes out of the asset received),
    "quote" charges it in the quote asset instead.
    Depth (``matching_depth``): ``top_of_book_qty`` is what one price level holds, in the quote asset
    (Binance's quoteQty; 0, the default, is unlimited depth: every fill is whole); levels are ``level_bps``
    apart, and a taker walks at most ``book_levels`` of them.
    """

    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    slippage_bps: Decimal = ZERO
    buy_commission_in: str = "base"
    top_of_book_qty: Decimal = ZERO
    level_bps: Decimal = Decimal(1)
    book_levels: int = 100

    def __post_init__(self) -> None:
        if self.top_of_book_qty < 0 or self.level_bps < 0 or self.slippage_bps < 0 or self.book_levels < 1:
            raise ValueError("top_of_book_qty, level_bps and slippage_bps must be >= 0, book_levels >= 1")

    @property
    def depth_limited(self) -> bool:
        return self.top_of_book_qty > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "maker_fee": plain(self.maker_fee),
            "taker_fee": plain(self.taker_fee),
            "slippage_bps": plain(self.slippage_bps),
            "buy_commission_in": self.buy_commission_in,
            "top_of_book_qty": plain(self.top_of_book_qty),
            "level_bps": plain(self.level_bps),
            "book_levels": self.book_levels,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MatchingConfig:
        return cls(
            maker_fee=Decimal(raw.get("maker_fee", "0.001")),
            taker_fee=Decimal(raw.get("taker_fee", "0.001")),
            slippage_bps=Decimal(raw.get("slippage_bps", "0")),
            buy_commission_in=str(raw.get("buy_commission_in", "base")),
            top_of_book_qty=Decimal(raw.get("top_of_book_qty", "0")),
            level_bps=Decimal(raw.get("level_bps", "1")),
            book_levels=int(raw.get("book_levels", 100)),
        )


@dataclass(slots=True)
class Trade:
    trade_id: int
    order_id: int
    order_list_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool


@dataclass(slots=True)
class Order:
    """One order on the book. ``working`` is False for an untriggered stop or a pending OTOCO leg."""

    order_id: int
    symbol: str
    client_order_id: str
    side: str
    type: str
    status: str
    orig_qty: Decimal
    price: Decimal = ZERO
    stop_price: Decimal = ZERO
    time_in_force: str = ""
    orig_quote_order_qty: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cummulative_quote_qty: Decimal = ZERO
    order_list_id: int = -1
    time_ms: int = 0
    update_time_ms: int = 0
    working_time_ms: int = -1
    triggered: bool = False
    # The funds this order holds: asset and remaining amount (an OCO's legs share one lock).
    lock_asset: str = ""
    lock_amount: Decimal = ZERO
    trade_ids: list[int] = field(default_factory=list)
    # A trailing stop (trailingDelta in bips, 0: none): when it started tracking (Binance's trailingTime,
    # -1 before) and the best price seen since (highest for a sell, lowest for a buy).
    trailing_delta: int = 0
    trailing_time_ms: int = -1
    trailing_extreme: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED", "PENDING_NEW")


@dataclass(slots=True)
class OrderList:
    order_list_id: int
    list_client_order_id: str
    contingency_type: str  # OCO, OTO
    symbol: str
    order_ids: list[int]
    list_status_type: str = "EXEC_STARTED"  # EXEC_STARTED, ALL_DONE
    list_order_status: str = "EXECUTING"  # EXECUTING, ALL_DONE
    transaction_time_ms: int = 0
    working_order_id: int = -1  # OTOCO: the entry; the other orders are its pending OCO pair


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, list):
        return list(value)
    return value


def record_to_dict(record: Trade | Order | OrderList) -> dict[str, Any]:
    return {f.name: _encode(getattr(record, f.name)) for f in fields(record)}


_DECIMAL_FIELDS = {
    "price",
    "qty",
    "quote_qty",
    "commission",
    "orig_qty",
    "stop_price",
    "orig_quote_order_qty",
    "executed_qty",
    "cummulative_quote_qty",
    "lock_amount",
    "trailing_extreme",
}


def _decode(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(v) if k in _DECIMAL_FIELDS else v for k, v in raw.items()}


def trade_from_dict(raw: dict[str, Any]) -> Trade:
    return Trade(**_decode(raw))


def order_from_dict(raw: dict[str, Any]) -> Order:
    values = _decode(raw)
    values["trade_ids"] = list(values.get("trade_ids", []))
    return Order(**values)


def order_list_from_dict(raw: dict[str, Any]) -> OrderList:
    values = dict(raw)
    values["order_ids"] = list(values.get("order_ids", []))
    return OrderList(**values)
