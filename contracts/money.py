"""Decimal money on the wire: parsed exactly, written as plain strings (never ``1e-05``)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

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
