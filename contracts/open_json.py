"""meta's free-form objects (``tags``, the seed's ``indicators``): plain JSON, bounded, whole characters."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

# What meta's free-form objects (``tags``, the seed's ``indicators``) may hold: a few levels of plain JSON.
# Bounded so that no signal makes a record or a queue message larger than the README's bound, and so that
# every stored string can be written back as UTF-8.
MAX_META_DEPTH = 8
MAX_META_BYTES = 8 * 1024  # the whole meta as stored (compact JSON, non-ASCII escaped)
MAX_META_KEY_CHARS = 128


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
