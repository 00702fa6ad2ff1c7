"""The venue's request and order budget, one for every function and instance (pure: the store is a port).

Binance spot publishes its limits in exchangeInfo ``rateLimits``: REQUEST_WEIGHT per IP (6,000 a minute),
ORDERS per account (100 per 10 s, 200,000 a day; an OCO counts 2, an OTOCO 3), RAW_REQUESTS per IP. Its
windows are fixed intervals (a minute limit resets on the minute), and past a limit it answers 429, then
bans the IP (418) for a client that keeps going. Every Lambda instance and the monitor share that IP and
that account, so the count lives in one place (``BudgetStore``; DynamoDB in ``stores.venue_budget``):

- before a request, ``VenueBudget.spend(cost)`` counts it in every window it belongs to, atomically and
  only if each stays within its share (``weight_share`` of the weight limits, ``order_share`` of the order
  limits for entries; exits, cancels and flattens may use the whole order limit, so a burst of entries
  never leaves a filled position waiting for its protection). Otherwise it raises ``BudgetSpent`` with
  the time the window ends: the caller leaves the message in SQS that long, it does not sleep;
- denials in one window are ranked, and the n-th waits ``n // cap`` windows more, so a backlog larger
  than one window comes back spread over the windows that can take it, not all at once;
- ``observe(headers)``: what the venue says it counted (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``
  / ``-1D``) raises the shared count when it is higher (another client on the IP, a request counted
  nowhere else);
- ``rate_limited(retry_after_s)``: a 429 or 418 stops every instance until Retry-After has passed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

from tradeengine.exchange.codes import TOO_MANY_ORDERS, TOO_MANY_REQUESTS

INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
_SHORT = {"REQUEST_WEIGHT": "W", "ORDERS": "O", "RAW_REQUESTS": "R"}

# Binance's documented spot limits: what the budget assumes until the venue's exchangeInfo has been read.
DEFAULT_RATE_LIMITS: tuple[dict[str, Any], ...] = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200_000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61_000},
)

# Binance's request weight of each call the engine makes (rest-api.md, read 2026-07).
WEIGHT = {
    "time": 1,
    "exchange_info": 20,
    "ticker": 2,  # ticker/price for one symbol
    "tickers": 4,  # ticker/price for every symbol (or symbols=[...])
    "avg_price": 2,
    "account": 20,
    "order": 1,  # new order, order list, cancel
    "get_order": 4,
    "open_orders": 6,  # one symbol
    "open_orders_all": 80,
    "my_trades_order": 5,  # myTrades with orderId
    "my_trades": 20,
}

BUDGET_CODE = {
    "REQUEST_WEIGHT": TOO_MANY_REQUESTS,
    "RAW_REQUESTS": TOO_MANY_REQUESTS,
    "ORDERS": TOO_MANY_ORDERS,
}


@dataclass(frozen=True, slots=True)
class RateLimit:
    kind: str  # REQUEST_WEIGHT, ORDERS, RAW_REQUESTS
    interval: str
    interval_num: int
    limit: int

    @property
    def window_s(self) -> int:
        return INTERVAL_S[self.interval] * self.interval_num

    @property
    def suffix(self) -> str:
        """``1M``, ``10S``, ``1D``: as Binance names the window in its headers."""
        return f"{self.interval_num}{_LETTER[self.interval]}"

    @property
    def attribute(self) -> str:
        return f"{_SHORT.get(self.kind, 'X')}{self.suffix}"

    @property
    def header(self) -> str | None:
        if self.kind == "REQUEST_WEIGHT":
            return f"X-MBX-USED-WEIGHT-{self.suffix}"
        return f"X-MBX-ORDER-COUNT-{self.suffix}" if self.kind == "ORDERS" else None

    def window(self, now_s: float) -> int:
        return int(now_s // self.window_s)

    def left_s(self, now_s: float) -> float:
        return self.window_s - now_s % self.window_s

    def describe(self) -> str:
        return f"{self.limit} {self.kind} per {self.interval_num} {self.interval}"


def parse_rate_limits(raw: Sequence[Mapping[str, Any]] | None) -> tuple[RateLimit, ...]:
    """exchangeInfo ``rateLimits`` → limits (an interval this code does not know is skipped)."""
    out = []
    for item in raw or ():
        try:
            limit = RateLimit(
                str(item["rateLimitType"]), str(item["interval"]), int(item["intervalNum"]), int(item["limit"])
            )
        except (KeyError, TypeError, ValueError):
            continue
        if limit.interval in INTERVAL_S and limit.interval_num > 0 and limit.limit > 0:
            out.append(limit)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request spends: its weight, and the orders it places (0, 1, an OCO 2, an OTOCO 3)."""

    weight: int
    orders: int = 0
    entry: bool = True  # an entry may use ``order_share`` of an order window; an exit, cancel or flatten all of it


@dataclass(frozen=True, slots=True)
class Take:
    attribute: str  # the limit's window: "W1M_29000000"
    amount: int
    most: int  # the count may be at most this once the amount is added
    limit: RateLimit


@dataclass(frozen=True, slots=True)
class Shares:
    weight: Decimal = Decimal("0.8")  # of every REQUEST_WEIGHT / RAW_REQUESTS limit
    orders: Decimal = Decimal("0.9")  # of every ORDERS limit, for entries


def cap(limit: RateLimit, share: Decimal) -> int:
    return max(1, int((Decimal(limit.limit) * share).to_integral_value(rounding=ROUND_FLOOR)))


def plan_takes(limits: Sequence[RateLimit], cost: Cost, now_s: float, shares: Shares) -> list[Take]:
    takes = []
    for limit in limits:
        if limit.kind == "REQUEST_WEIGHT" and cost.weight > 0:
            amount, most = cost.weight, cap(limit, shares.weight)
        elif limit.kind == "RAW_REQUESTS":
            amount, most = 1, cap(limit, shares.weight)
        elif limit.kind == "ORDERS" and cost.orders > 0:
            amount, most = cost.orders, cap(limit, shares.orders) if cost.entry else limit.limit
        else:
            continue
        takes.append(Take(f"{limit.attribute}_{limit.window(now_s)}", amount, most, limit))
    return takes


class BudgetSpent(Exception):
    """The budget of one window is spent: come back in ``delay_s`` (the message waits in SQS, never a Lambda)."""

    def __init__(self, limit: str, delay_s: float, code: int = TOO_MANY_REQUESTS) -> None:
        super().__init__(f"the venue's budget is spent ({limit}): retry in {delay_s:.1f} s")
        self.limit = limit
        self.delay_s = delay_s
        self.code = code


class BudgetStore(Protocol):
    def take(self, takes: Sequence[Take], now_s: float) -> dict[str, int] | None:
        """Add every amount if each count stays within ``most`` and nothing blocks: the new counts, else None."""
        ...

    def deny(self, rank_attribute: str) -> dict[str, Any]:
        """Count one denial under ``rank_attribute``; the item as it is now (counts, ``blocked_until``)."""
        ...

    def raise_to(self, attribute: str, used: int) -> None:
        """The venue counted ``used`` in this window: make the shared count at least that."""
        ...

    def block(self, until_s: float) -> None: ...

    def limits(self) -> list[dict[str, Any]] | None: ...

    def remember_limits(self, raw: list[dict[str, Any]]) -> None: ...


class VenueBudget:
    """``spend`` before a request, ``observe`` its answer's headers, ``rate_limited`` on a 429 / 418."""

    LIMITS_TTL_S = 60.0

    def __init__(
        self, store: BudgetStore, *, shares: Shares | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.shares = shares or Shares()
        self._clock = clock
        self.offset_s = 0.0  # the venue's clock minus ours (the adapter keeps it from server time)
        self._limits: tuple[RateLimit, ...] = ()
        self._limits_at = -math.inf
        self._known: dict[str, int] = {}  # the shared counts this process last saw, per window attribute
        # a denial or a 429 seen here: refuse without asking the store until then ("orders": entries only)
        self._local_until: dict[str, tuple[float, int]] = {}
        self.denied = 0  # requests this process did not send because the budget was spent

    def now(self) -> float:
        return self._clock() + self.offset_s

    def limits(self) -> tuple[RateLimit, ...]:
        if self._clock() - self._limits_at > self.LIMITS_TTL_S:
            self._limits = parse_rate_limits(self.store.limits()) or parse_rate_limits(DEFAULT_RATE_LIMITS)
            self._limits_at = self._clock()
        return self._limits

    def remember_limits(self, raw: Sequence[Mapping[str, Any]] | None) -> None:
        """The exchangeInfo's rateLimits, whenever the rules cache reads them."""
        parsed = parse_rate_limits(raw)
        if parsed and parsed != self._limits:
            self.store.remember_limits([dict(item) for item in raw or ()])
            self._limits, self._limits_at = parsed, self._clock()

    def spend(self, cost: Cost) -> None:
        now = self.now()
        for scope in ("weight", "orders") if cost.entry and cost.orders else ("weight",):
            until, code = self._local_until.get(scope, (0.0, TOO_MANY_REQUESTS))
            if until > now:
                self.denied += 1
                raise BudgetSpent(f"waiting for the {scope} window to end", until - now, code)
        takes = plan_takes(self.limits(), cost, now, self.shares)
        if not takes:
            return
        counts = self.store.take(takes, now)
        if counts is not None:
            self._known.update(counts)
            return
        self.denied += 1
        rank_on = min(takes, key=lambda t: (t.limit.kind != "ORDERS", t.limit.window_s))
        item = self.store.deny(f"D{rank_on.attribute}")
        delay, reason, kind = denial_delay(takes, item, rank_on, now)
        code = BUDGET_CODE.get(kind, TOO_MANY_REQUESTS)
        if kind == "ORDERS" and cost.entry:
            self._local_until["orders"] = (now + min(delay, rank_on.limit.left_s(now)), code)
        elif kind != "ORDERS":
            self._local_until["weight"] = (now + min(delay, rank_on.limit.left_s(now)), code)
        raise BudgetSpent(reason, delay, code)

    def observe(self, headers: Mapping[str, str] | None) -> None:
        if not headers:
            return
        lowered = {k.lower(): v for k, v in headers.items()}
        now = self.now()
        for limit in self.limits():
            raw = lowered.get((limit.header or "").lower())
            if raw is None or not raw.isdigit() or now % limit.window_s < 1.0:
                continue  # just after the window turned, the figure may be the old window's
            attribute = f"{limit.attribute}_{limit.window(now)}"
            used = int(raw)
            if used > self._known.get(attribute, 0) + max(2, limit.limit // 50):
                self.store.raise_to(attribute, used)
                self._known[attribute] = used

    def rate_limited(self, retry_after_s: float) -> None:
        until = self.now() + max(retry_after_s, 1.0)
        code = TOO_MANY_REQUESTS
        self._local_until["weight"] = (max(self._local_until.get("weight", (0.0, code))[0], until), code)
        self.store.block(until)


def denial_delay(takes: Sequence[Take], item: Mapping[str, Any], rank_on: Take, now_s: float) -> tuple[float, str, str]:
    """How long a denied request waits, what denied it, and that limit's kind."""
    blocked = float(item.get("blocked_until", 0) or 0)
    rank = max(0, int(item.get(f"D{rank_on.attribute}", 1) or 1) - 1)
    spread = (rank // max(1, rank_on.most)) * rank_on.limit.window_s
    if blocked > now_s:
        return blocked - now_s + spread, "a 429 / 418 from the venue (Retry-After)", "REQUEST_WEIGHT"
    spent = [t for t in takes if int(item.get(t.attribute, 0) or 0) + t.amount > t.most]
    limit = max(spent, key=lambda t: t.limit.left_s(now_s)) if spent else rank_on
    return limit.limit.left_s(now_s) + spread + 0.05, f"{limit.most} of {limit.limit.describe()}", limit.limit.kind


class MemoryBudgetStore:
    """The store in one process (tests, memory deps)."""

    def __init__(self) -> None:
        self.item: dict[str, Any] = {}
        self.rate_limits: list[dict[str, Any]] | None = None

    def take(self, takes: Sequence[Take], now_s: float) -> dict[str, int] | None:
        if float(self.item.get("blocked_until", 0)) > now_s:
            return None
        if any(int(self.item.get(t.attribute, 0)) + t.amount > t.most for t in takes):
            return None
        for t in takes:
            self.item[t.attribute] = int(self.item.get(t.attribute, 0)) + t.amount
        return {t.attribute: int(self.item[t.attribute]) for t in takes}

    def deny(self, rank_attribute: str) -> dict[str, Any]:
        self.item[rank_attribute] = int(self.item.get(rank_attribute, 0)) + 1
        return dict(self.item)

    def raise_to(self, attribute: str, used: int) -> None:
        self.item[attribute] = max(int(self.item.get(attribute, 0)), used)

    def block(self, until_s: float) -> None:
        self.item["blocked_until"] = max(float(self.item.get("blocked_until", 0)), until_s)

    def limits(self) -> list[dict[str, Any]] | None:
        return self.rate_limits

    def remember_limits(self, raw: list[dict[str, Any]]) -> None:
        self.rate_limits = raw
