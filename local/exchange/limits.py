"""The venue's rate limits, read from the exchangeInfo it serves, counted always and enforced on request.

As Binance documents them (rest-api.md "LIMITS", faqs/order_count_decrement.md):

- ``REQUEST_WEIGHT`` per IP: each request adds its endpoint's weight to the current interval (fixed
  intervals: a 1-minute limit resets on the minute). Every answer carries
  ``X-MBX-USED-WEIGHT-<intervalNum><letter>`` (``-1M``). Past the limit: 429, -1003, ``Retry-After``
  = seconds until the interval ends.
- ``RAW_REQUESTS`` per IP: every request counts 1, same answer past the limit.
- ``ORDERS`` per account: each order placed counts 1 (an OCO 2, an OTOCO 3) in every ORDERS interval;
  order answers carry ``X-MBX-ORDER-COUNT-10S`` / ``-1D``. Past the limit: 429, -1015, ``Retry-After``.
  (Binance gives the count back when an order first fills; this venue does not, so it is stricter.)
- A client that keeps going after 429s (``ban_after`` refusals without one admitted request between
  them) is banned: 418, -1003, ``Retry-After`` = seconds left. Bans grow for repeat offenders:
  ``ban_seconds`` × 2^(n-1), from 2 minutes up to 3 days by default, like Binance's.

A refused request adds nothing to the counts. ``scale`` multiplies every limit (at least 1 left), so
tests can meet them in a few requests; the scaled limits are what exchangeInfo then shows.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from local.exchange.params import ApiError

_INTERVAL_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
MAX_BAN_SECONDS = 3 * 86_400


@dataclass(frozen=True, slots=True)
class Limit:
    kind: str  # REQUEST_WEIGHT, ORDERS, RAW_REQUESTS
    interval: str
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        return _INTERVAL_MS[self.interval] * self.interval_num

    @property
    def suffix(self) -> str:
        return f"{self.interval_num}{_LETTER[self.interval]}"

    @property
    def per(self) -> str:
        return f"{self.interval_num} {self.interval}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rateLimitType": self.kind,
            "interval": self.interval,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }


def parse_limits(raw: list[dict[str, Any]], scale: Decimal = Decimal(1)) -> list[Limit]:
    out = []
    for item in raw:
        interval = str(item["interval"])
        if interval not in _INTERVAL_MS:
            raise ValueError(f"rateLimits: unknown interval {interval!r}")
        scaled = int((Decimal(int(item["limit"])) * scale).to_integral_value(rounding=ROUND_FLOOR))
        out.append(Limit(str(item["rateLimitType"]), interval, int(item["intervalNum"]), max(1, scaled)))
    return out


@dataclass(slots=True)
class LimitSettings:
    """How the venue treats its limits; ``POST /admin/limits`` replaces them (omitted fields: defaults)."""

    enforce: bool = False
    scale: Decimal = Decimal(1)
    ban_after: int = 5
    ban_seconds: int = 120
    rate_limits: list[dict[str, Any]] | None = None  # None: the exchangeInfo's own

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LimitSettings:
        known = {"enforce", "scale", "ban_after", "ban_seconds", "rate_limits"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown limit settings: {sorted(unknown)}; known: {sorted(known)}")
        settings = cls(
            enforce=bool(raw.get("enforce", False)),
            scale=Decimal(str(raw.get("scale", "1"))),
            ban_after=int(raw.get("ban_after", 5)),
            ban_seconds=int(raw.get("ban_seconds", 120)),
            rate_limits=raw.get("rate_limits"),
        )
        if not settings.scale.is_finite() or settings.scale <= 0 or settings.ban_after < 1 or settings.ban_seconds < 1:
            raise ValueError("scale must be > 0, ban_after and ban_seconds at least 1")
        return settings

    def to_json(self) -> dict[str, Any]:
        return {
            "enforce": self.enforce,
            "scale": format(self.scale, "f"),
            "ban_after": self.ban_after,
            "ban_seconds": self.ban_seconds,
            "rate_limits": self.rate_limits,
        }


@dataclass(slots=True)
class _Client:
    """One IP (weights, raw requests, bans) or one account (orders): count per limit in its current interval."""

    counts: dict[Limit, tuple[int, int]] = field(default_factory=dict)  # limit -> (interval start, count)
    strikes: int = 0
    bans: int = 0
    banned_until_ms: int = 0

    def used(self, limit: Limit, now_ms: int) -> int:
        start, count = self.counts.get(limit, (-1, 0))
        return count if start == now_ms - now_ms % limit.window_ms else 0

    def add(self, limit: Limit, now_ms: int, amount: int) -> None:
        self.counts[limit] = (now_ms - now_ms % limit.window_ms, self.used(limit, now_ms) + amount)


def _seconds_left(limit: Limit, now_ms: int) -> int:
    return max(1, math.ceil((limit.window_ms - now_ms % limit.window_ms) / 1000))


class RateLimiter:
    def __init__(self, exchange_rate_limits: list[dict[str, Any]], settings: LimitSettings | None = None) -> None:
        self._served = exchange_rate_limits
        self._lock = threading.Lock()
        self.configure(settings or LimitSettings())

    def configure(self, settings: LimitSettings) -> None:
        limits = parse_limits(
            settings.rate_limits if settings.rate_limits is not None else self._served, settings.scale
        )
        with self._lock:
            self.settings = settings
            self.limits = limits
            self._clear()

    def reset(self) -> None:
        """Forget every count and ban (the settings stay)."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._ips: dict[str, _Client] = {}
        self._accounts: dict[str, _Client] = {}

    def served(self) -> list[dict[str, Any]]:
        """The rateLimits exchangeInfo shows: the limits in force, scaled."""
        return [limit.to_json() for limit in self.limits]

    def admit(self, ip: str, weight: int, now_ms: int) -> dict[str, str]:
        """Count one request of this weight; its X-MBX-USED-WEIGHT headers, or ApiError (429 / 418)."""
        with self._lock:
            client = self._ips.setdefault(ip, _Client())
            if self.settings.enforce:
                self._refuse_if_over(ip, client, weight, now_ms)
            client.strikes = 0
            for limit in self.limits:
                if limit.kind == "REQUEST_WEIGHT":
                    client.add(limit, now_ms, weight)
                elif limit.kind == "RAW_REQUESTS":
                    client.add(limit, now_ms, 1)
            return self._weight_headers(client, now_ms)

    def weight_headers(self, ip: str, now_ms: int) -> dict[str, str]:
        with self._lock:
            return self._weight_headers(self._ips.setdefault(ip, _Client()), now_ms)

    def place(self, account: str, orders: int, now_ms: int) -> dict[str, str]:
        """Before an order is placed: count it (-1015, 429, when it would go past an ORDERS limit).

        Counted before placing, under one lock, so concurrent orders cannot slip past the limit
        together; ``release`` gives the count back when the venue then refuses the order. Returns the
        X-MBX-ORDER-COUNT headers.
        """
        with self._lock:
            client = self._accounts.setdefault(account, _Client())
            ordering = [limit for limit in self.limits if limit.kind == "ORDERS"]
            for limit in ordering if self.settings.enforce else ():
                if client.used(limit, now_ms) + orders > limit.limit:
                    retry = {"Retry-After": str(_seconds_left(limit, now_ms))}
                    msg = f"Too many new orders; current limit is {limit.limit} orders per {limit.per}."
                    raise ApiError(-1015, msg, 429, retry)
            for limit in ordering:
                client.add(limit, now_ms, orders)
            return {f"X-MBX-ORDER-COUNT-{limit.suffix}": str(client.used(limit, now_ms)) for limit in ordering}

    def release(self, account: str, orders: int, now_ms: int) -> None:
        """The venue refused the order after all: it counts nothing."""
        with self._lock:
            client = self._accounts.setdefault(account, _Client())
            for limit in self.limits:
                if limit.kind == "ORDERS":
                    client.add(limit, now_ms, -min(orders, client.used(limit, now_ms)))

    def order_counts(self, account: str, now_ms: int) -> list[dict[str, Any]]:
        """GET /api/v3/rateLimit/order."""
        with self._lock:
            client = self._accounts.setdefault(account, _Client())
            return [
                {**limit.to_json(), "count": client.used(limit, now_ms)}
                for limit in self.limits
                if limit.kind == "ORDERS"
            ]

    def state(self, now_ms: int) -> dict[str, Any]:
        with self._lock:
            ips = {
                ip: {
                    "used": {lim.kind + "-" + lim.suffix: c.used(lim, now_ms) for lim in self.limits},
                    "strikes": c.strikes,
                    "bans": c.bans,
                    "banned_until": c.banned_until_ms,
                }
                for ip, c in self._ips.items()
            }
            return {"settings": self.settings.to_json(), "rateLimits": self.served(), "ips": ips}

    # ---- helpers --------------------------------------------------------------------------------
    def _weight_headers(self, client: _Client, now_ms: int) -> dict[str, str]:
        return {
            f"X-MBX-USED-WEIGHT-{lim.suffix}": str(client.used(lim, now_ms))
            for lim in self.limits
            if lim.kind == "REQUEST_WEIGHT"
        }

    def _refuse_if_over(self, ip: str, client: _Client, weight: int, now_ms: int) -> None:
        if client.banned_until_ms > now_ms:
            raise self._banned(ip, client, now_ms)
        for limit in self.limits:
            amount = weight if limit.kind == "REQUEST_WEIGHT" else 1 if limit.kind == "RAW_REQUESTS" else None
            if amount is None or client.used(limit, now_ms) + amount <= limit.limit:
                continue
            client.strikes += 1
            if client.strikes > self.settings.ban_after:  # kept going after ban_after 429s: banned
                client.bans += 1
                seconds = min(MAX_BAN_SECONDS, self.settings.ban_seconds * 2 ** (client.bans - 1))
                client.banned_until_ms = now_ms + seconds * 1000
                client.strikes = 0
                raise self._banned(ip, client, now_ms)
            headers = {"Retry-After": str(_seconds_left(limit, now_ms)), **self._weight_headers(client, now_ms)}
            if limit.kind == "REQUEST_WEIGHT":
                msg = (
                    f"Too much request weight used; current limit is {limit.limit} request weight per "
                    f"{limit.per}. Please use WebSocket Streams for live updates to avoid polling the API."
                )
            else:
                msg = f"Too many requests; current limit is {limit.limit} requests per {limit.per}."
            raise ApiError(-1003, msg, 429, headers)

    def _banned(self, ip: str, client: _Client, now_ms: int) -> ApiError:
        left = max(1, math.ceil((client.banned_until_ms - now_ms) / 1000))
        msg = (
            f"Way too much request weight used; IP banned until {client.banned_until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans."
        )
        return ApiError(-1003, msg, 418, {"Retry-After": str(left), **self._weight_headers(client, now_ms)})
