"""The exchange port: one interface for every venue (Binance testnet/mainnet, the paper exchange).

Outcomes are typed. An order placement is ``Accepted``, ``Rejected`` (definitive: do not retry the
same request) or ``Unknown`` (timeout, 5xx, connection lost after sending): an unknown outcome is
resolved by looking the order up by its client order id, never by sending it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from contracts.orders import OrderRequest


class OrderStatus(StrEnum):
    """Binance's order statuses (spot)."""

    PENDING_NEW = "PENDING_NEW"  # an OTOCO's exit pair, waiting for its entry to fill
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_open(self) -> bool:
        return self in (
            OrderStatus.PENDING_NEW,
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
        )


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int
    is_maker: bool = False
    time_ms: int = 0  # 0: not reported with the fill (a placement's FULL answer), the order's time applies


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange reports it."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: OrderStatus
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal  # Binance's spelling
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    order_list_id: int = -1
    update_time_ms: int = 0
    fills: tuple[Fill, ...] = ()
    trailing_delta: int | None = None  # a trailing stop's trailingDelta (bips)

    @property
    def average_price(self) -> Decimal | None:
        if self.executed_qty <= 0:
            return None
        return self.cummulative_quote_qty / self.executed_qty


@dataclass(frozen=True, slots=True)
class OrderListResult:
    """An OCO / OTOCO list: its id and its orders."""

    order_list_id: int
    list_client_order_id: str
    list_status: str  # EXEC_STARTED, ALL_DONE, REJECT
    orders: tuple[ExchangeOrder, ...]


@dataclass(frozen=True, slots=True)
class Accepted:
    order: ExchangeOrder | OrderListResult
    used_weight: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A definitive no. ``code`` is Binance's error code (-1013, -2010, ...); ``retryable`` for 429/418/-1003."""

    code: int
    message: str
    http_status: int = 400
    retryable: bool = False
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """The request may or may not have reached the book: look it up by client order id before anything else."""

    reason: str
    client_order_id: str | None = None


PlaceOutcome = Accepted | Rejected | Unknown


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class OcoRequest:
    """An exit pair for a filled entry: take-profit above (LIMIT_MAKER) and stop-loss below, or mirrored."""

    symbol: str
    side: str
    quantity: Decimal
    take_profit_price: Decimal
    stop_loss_price: Decimal | None  # None: a trailing stop from placement (stop_loss_trailing_delta)
    list_client_order_id: str
    take_profit_client_order_id: str
    stop_loss_client_order_id: str
    # Symbols that do not offer STOP_LOSS (Binance's 2021 set) need a STOP_LOSS_LIMIT stop leg at this price.
    stop_limit_price: Decimal | None = None
    # A trailing stop leg: Binance's belowTrailingDelta (exiting a long) or aboveTrailingDelta, in bips.
    stop_loss_trailing_delta: int | None = None


@dataclass(frozen=True, slots=True)
class OtocoRequest:
    """A working entry order whose fill activates an OCO exit pair."""

    working: OrderRequest
    pending: OcoRequest


class ExchangeError(Exception):
    """Raised by read calls (prices, account, lookups) that fail; placements return outcomes instead."""

    def __init__(
        self,
        code: int,
        message: str,
        http_status: int = 0,
        retryable: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retryable = retryable
        self.extra = dict(extra or {})


@runtime_checkable
class Exchange(Protocol):
    """Every venue the engine trades on implements this."""

    name: str  # "paper", "binance-testnet", "binance-mainnet"

    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]: ...

    def ticker_price(self, symbol: str) -> Decimal: ...

    def average_price(self, symbol: str) -> Decimal: ...

    def balances(self) -> dict[str, Balance]: ...

    def place_order(self, order: OrderRequest) -> PlaceOutcome: ...

    def place_oco(self, request: OcoRequest) -> PlaceOutcome: ...

    def place_otoco(self, request: OtocoRequest) -> PlaceOutcome: ...

    def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder | None: ...

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> PlaceOutcome: ...

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...

    def recent_fills(self, symbol: str, limit: int = 50) -> list[Fill]: ...

    def order_fills(self, symbol: str, order_id: int) -> list[Fill]:
        """Every fill of one order (Binance ``myTrades`` with ``orderId``: an order lookup reports none)."""
        ...
