"""Step and tick arithmetic in Decimal (floats floor ``0.29 / 0.01`` one step too low)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` not above ``value``; a zero step means no step rule."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of ``step`` not below ``value``; a zero step means no step rule."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def quantize_places(value: Decimal, places: int) -> Decimal:
    """Round down to ``places`` decimals (an asset's precision)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)
