"""Reading a JSON object from the wire, strictly: every refusal says what it is, not only "not valid JSON".

- Duplicate keys are refused: with "last one wins", a proxy or a log that keeps the first sees another
  order than the engine trades.
- ``NaN``/``Infinity`` are not JSON and are refused.
- An integer longer than ``MAX_INTEGER_CHARS`` digits is refused before Python converts it (which costs
  quadratic time, and past 4,300 digits raises a ``ValueError`` that looks like a syntax error).
- Nesting deeper than the parser's recursion limit is told apart from a syntax error.
"""

from __future__ import annotations

import json
from typing import Any

MAX_INTEGER_CHARS = 100


class WireError(ValueError):
    """Bytes that are not a usable JSON object. ``status`` is 400 for broken JSON, 422 for JSON we refuse."""

    def __init__(self, status: int, rule: str, message: str, field: str = "(body)") -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message
        self.field = field


class _Refused(Exception):
    """Raised from inside json.loads' hooks; carries the WireError out."""

    def __init__(self, error: WireError) -> None:
        self.error = error


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            shown = key.encode("utf-8", "backslashreplace").decode()[:80]
            raise _Refused(WireError(422, "duplicate_key", f"the key {shown!r} appears twice in one object", shown))
        out[key] = value
    return out


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_CHARS:
        message = f"the body holds an integer of {digits} digits; at most {MAX_INTEGER_CHARS}"
        raise _Refused(WireError(422, "number_too_long", message))
    return int(text)


def _constant(name: str) -> Any:
    raise _Refused(WireError(400, "malformed_json", f"{name} is not a JSON number"))


def loads(text: str | bytes) -> Any:
    """Parse JSON strictly (see the module's rules); raises ``WireError``."""
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_integer, parse_constant=_constant)
    except _Refused as refused:
        raise refused.error from None
    except RecursionError:
        raise WireError(422, "too_deep", "the body nests objects or arrays too deeply to read") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise WireError(400, "malformed_json", f"the body is not valid JSON ({where})") from None
    except (ValueError, UnicodeDecodeError) as exc:  # bytes that are not UTF-8 (json.loads detects the encoding)
        raise WireError(400, "malformed_json", f"the body is not valid JSON text: {type(exc).__name__}") from None


def load_object(text: str | bytes) -> dict[str, Any]:
    """``loads``, and the value must be a JSON object."""
    value = loads(text)
    if not isinstance(value, dict):
        raise WireError(422, "model_type", f"the body must be a JSON object (a signal), not {type(value).__name__}")
    return value
