"""Faults the local exchange can be told to inject (POST /admin/faults), to test how a client copes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class Faults:
    """Every field defaults to "no fault"; a POST replaces the whole set.

    latency_ms      every API answer waits this long first
    fail_next       the next N order placements are ACCEPTED into the book, then answered with ``fail_status``
                    (the "unknown outcome" a client must resolve by looking the order up, never by resending)
    fail_status     the 5xx status for fail_next (default 503)
    rate_limit_next the next N API requests get 429 (-1003) with Retry-After
    ban_next        the next N API requests get 418 (-1003, IP banned) with Retry-After
    fail_next_lists the next N order-list placements (OCO, OTOCO) are accepted, then answered ``fail_status``
    reject_next_lists the next N order-list placements are refused (-2010), nothing placed: exits that
                    cannot stand after a fill
    retry_after_s   the Retry-After value for 429 / 418
    clock_skew_ms   the server clock runs this far ahead (negative: behind) of the host clock
    """

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 503
    fail_next_lists: int = 0
    reject_next_lists: int = 0
    rate_limit_next: int = 0
    ban_next: int = 0
    retry_after_s: int = 1
    clock_skew_ms: int = 0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}; known: {sorted(known)}")
        values = {k: int(v) for k, v in raw.items()}
        if not 500 <= values.get("fail_status", 503) <= 599:
            raise ValueError("fail_status must be a 5xx status")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
