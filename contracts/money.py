"""Decimal money on the wire: parsed exactly, written as plain strings (never ``1e-05``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer


def plain(value: Decimal) -> str:
    """``Decimal`` as the exchange wants it: fixed-point, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Money = Annotated[
    Decimal,
    AfterValidator(_finite),
    PlainSerializer(plain, return_type=str, when_used="json"),
]
"""A Decimal that rejects NaN/Infinity and serialises to JSON as a plain string."""
