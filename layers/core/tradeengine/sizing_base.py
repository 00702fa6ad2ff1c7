"""What sizing works with: the market's prices, the operator's sizing settings, the order ids (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from contracts.rejection import Rejection, RejectionCode


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
