"""Decimal money on the wire: parsed exactly, written as plain strings (never ``1e-05``)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

# Bounds on a money value, checked on the input before pydantic parses it. Without them "1e999999" is a
# one-character-cheap Decimal that ``plain`` writes as a million digits (a 1 MB record, or all memory).
# 20 digits before the point covers every Binance price, quantity and notional (maxQty ~ 9.2e10);
# 30 after covers a float a strategy computed (10 / 45000 = 0.00022222222222222223) with room to spare.
MAX_INTEGER_DIGITS = 20
MAX_DECIMAL_PLACES = 30
MAX_NUMBER_CHARS = 64  # a number written as a string: enough for 20 + 30 digits, a sign, a point and zeros
_LIMIT = 10**MAX_INTEGER_DIGITS


def plain(value: Decimal) -> str:
    """``Decimal`` as the exchange wants it: fixed-point, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _as_decimal(value: object) -> Decimal | None:
    """The Decimal that ``value`` spells, or None for what pydantic itself must judge (a bad string, a list)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        if value.bit_length() > 4 * MAX_INTEGER_DIGITS:  # well past 10**20 already: no need to convert it
            raise _too_large()
        return None if -_LIMIT < value < _LIMIT else Decimal(value)
    if isinstance(value, float):
        text = repr(value)  # the shortest repr, as pydantic reads a float (nan/inf: finite's job)
        return None if "e" not in text else Decimal(text)  # no exponent: 1e-4 <= |x| < 1e16, within bounds
    if isinstance(value, str):
        if len(value) <= MAX_INTEGER_DIGITS and "e" not in value and "E" not in value:
            return None  # the common case, cheaply: too short to break either bound
        if len(value) > MAX_NUMBER_CHARS:
            raise PydanticCustomError(
                "number_too_long",
                "a number must be written in at most {max_chars} characters (this one has {chars})",
                {"max_chars": MAX_NUMBER_CHARS, "chars": len(value)},
            )
        try:
            return Decimal(value.strip())
        except (InvalidOperation, ValueError):  # an exponent beyond Decimal's own range lands here too
            if "e" in value.lower():
                raise _too_large() from None
            return None
    return None


def _too_large() -> PydanticCustomError:
    return PydanticCustomError(
        "number_too_large",
        "must have at most {max_digits} digits before the decimal point",
        {"max_digits": MAX_INTEGER_DIGITS},
    )


def _trailing_zeros(digits: tuple[int, ...]) -> int:
    """Counted on the digits, not with ``round``: that works in the context's 28 digits and raises past them."""
    count = 0
    for digit in reversed(digits):
        if digit:
            break
        count += 1
    return count


def bounded(value: Any) -> Any:
    """Refuse a number too large or too finely divided for money; the value itself goes on to pydantic."""
    number = _as_decimal(value)
    if number is None or not number.is_finite() or not number:
        return value
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise _too_large()
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_DECIMAL_PLACES and exponent + _trailing_zeros(digits) < -MAX_DECIMAL_PLACES:
        raise PydanticCustomError(
            "too_many_decimal_places",
            "must have at most {max_places} digits after the decimal point",
            {"max_places": MAX_DECIMAL_PLACES},
        )
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(bounded),
    AfterValidator(_finite),
    PlainSerializer(plain, return_type=str, when_used="json"),
]
"""A Decimal within ``bounded``'s limits, never NaN/Infinity, serialised to JSON as a plain string."""


def json_default(value: object) -> Any:
    """``json.dumps`` default for the engine's values: Decimal as a plain string, never a float."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a JSON type")


def dumps(value: Any) -> str:
    """Compact JSON with exact money (``json_default``)."""
    return json.dumps(value, default=json_default, separators=(",", ":"))
