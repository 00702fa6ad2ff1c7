"""Prices and balances a decision needs, from snapshots every instance shares, fresh enough by rule.

Sizing used to ask the venue three times per signal (ticker 2, avgPrice 2, account 20: ~25 weight before
the order). Instead (docs/DESIGN.md, "Venue limits", says why each age is safe):

- **last prices**: every symbol's ticker in one weight-4 call, shared through ``Snapshots`` and used while
  at most ``ticker_s`` old (1 s). One instance per period refreshes it (``claim``); the others read the
  snapshot, or fetch it themselves when it is older than ``5 × ticker_s`` (the claimer died);
- **average price** (Binance's 5-minute avgPrice, the price bands and market notional are judged on): per
  symbol, shared, at most ``average_s`` old (10 s);
- **balances**: the account's answer, shared, at most ``balances_s`` old (60 s), made *conservative*:
  before an order is sent, what it may spend is debited (``moved``: the quote a buy may cost, the base a
  sell gives), and the balance served is the snapshot's free amount minus every debit made since it was
  read. Proceeds are not credited until the next read, so a served balance is never above what the
  account holds (but for deposits and trades outside the engine, bounded by ``balances_s``).
  ``changes`` counts every order sent since; a snapshot with none is *exact*. A decision whose size
  depends on the balance (``position_size_pct``, a close) asks for an exact one; any decision that a
  balance refuses is taken again on an exact one, so a stale balance can make the engine refuse only
  what the account itself cannot pay for. An unknown outcome invalidates the snapshot.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tradeengine.exchange import codes
from tradeengine.exchange.base import Balance, ExchangeError

TICKERS = "tickers"
BALANCES = "balances"
_D0 = Decimal(0)


class Snapshots(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def claim(self, key: str, now_s: float, every_s: float) -> bool: ...

    def put(self, key: str, data: str, fetched_at: float, base: Mapping[str, Decimal] | None = None) -> None: ...

    def add(self, key: str, amounts: Mapping[str, Decimal]) -> None: ...

    def invalidate(self, key: str) -> None: ...


class VenueReads(Protocol):
    """The venue's own answers, each one request (the Binance adapter)."""

    def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Decimal]: ...

    def fetch_average(self, symbol: str) -> Decimal: ...

    def fetch_balances(self) -> dict[str, Balance]: ...


@dataclass(frozen=True, slots=True)
class CacheAges:
    ticker_s: float = 1.0
    average_s: float = 10.0
    balances_s: float = 60.0


def served_balances(item: Mapping[str, Any]) -> dict[str, Balance]:
    """The snapshot's balances less every debit made since it was read (never below zero)."""
    data = json.loads(item.get("data") or "{}")
    out: dict[str, Balance] = {}
    assets = set(data) | {k[len("debit_") :] for k in item if k.startswith("debit_")}
    for asset in assets:
        free, locked = (Decimal(str(v)) for v in data.get(asset, ("0", "0")))
        since = Decimal(item.get(f"debit_{asset}", 0)) - Decimal(item.get(f"base_{asset}", 0))
        free = max(_D0, free - max(_D0, since))
        if free or locked:
            out[asset] = Balance(asset, free, locked)
    return out


def is_exact(item: Mapping[str, Any]) -> bool:
    return Decimal(item.get("changes", 0)) == Decimal(item.get("base_changes", 0))


class VenueCache:
    def __init__(
        self,
        snapshots: Snapshots,
        reads: VenueReads,
        *,
        ages: CacheAges | None = None,
        symbols: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshots = snapshots
        self._reads = reads
        self.ages = ages or CacheAges()
        self._symbols = tuple(symbols)  # SYMBOL_ALLOWLIST: only those tickers are kept (empty: all)
        self._clock = clock
        self._memo: dict[str, tuple[Any, float]] = {}
        self.assets_of: Callable[[str], tuple[str, str] | None] = lambda symbol: None
        self.refreshes: dict[str, int] = {}  # venue calls made by this process, per snapshot (tests, the bench)

    # -- prices ---------------------------------------------------------------------------------------

    def price(self, symbol: str) -> Decimal:
        prices: dict[str, Decimal] = self._shared(TICKERS, self.ages.ticker_s, self._fetch_tickers)
        if symbol not in prices:
            raise ExchangeError(codes.INVALID_SYMBOL, "Invalid symbol.", 400)
        return prices[symbol]

    def average_price(self, symbol: str) -> Decimal:
        average: Decimal = self._shared(f"avg#{symbol}", self.ages.average_s, lambda: self._reads.fetch_average(symbol))
        return average

    def _fetch_tickers(self) -> dict[str, Decimal]:
        return self._reads.fetch_tickers(self._symbols)

    def _shared(self, key: str, age_s: float, fetch: Callable[[], Any]) -> Any:
        now = self._clock()
        memo = self._memo.get(key)
        if memo is not None and now - memo[1] <= age_s:
            return memo[0]
        item = self._snapshots.get(key)
        fetched_at = float(item.get("fetched_at", 0)) if item else -math.inf
        if item is not None and now - fetched_at <= age_s:
            return self._keep(key, _load(item["data"]), fetched_at)
        if item is not None and now - fetched_at <= 5 * age_s and not self._snapshots.claim(key, now, age_s):
            return self._keep(key, _load(item["data"]), fetched_at)  # another instance is refreshing it
        value = fetch()
        self.refreshes[key] = self.refreshes.get(key, 0) + 1
        self._snapshots.put(key, _dump(value), now)
        return self._keep(key, value, now)

    def _keep(self, key: str, value: Any, fetched_at: float) -> Any:
        self._memo[key] = (value, fetched_at)
        return value

    # -- balances -------------------------------------------------------------------------------------

    def balances(self, exact: bool = False) -> dict[str, Balance]:
        item = self._snapshots.get(BALANCES) or {}
        fetched_at = float(item.get("fetched_at", 0) or 0)
        fresh = fetched_at > 0 and self._clock() - fetched_at <= self.ages.balances_s
        if not fresh or (exact and not is_exact(item)):
            item = self._refresh_balances(item)
        return served_balances(item)

    def _refresh_balances(self, before: Mapping[str, Any]) -> dict[str, Any]:
        # What was debited and sent before the account is read: the account's figure already reflects it
        # (or, for an order still on its way, the debit is kept: counted twice, never missed).
        base = {f"base_{k[len('debit_') :]}": Decimal(v) for k, v in before.items() if k.startswith("debit_")}
        base["base_changes"] = Decimal(before.get("changes", 0))
        started = self._clock()
        fresh = self._reads.fetch_balances()
        self.refreshes[BALANCES] = self.refreshes.get(BALANCES, 0) + 1
        data = json.dumps({a: [format(b.free, "f"), format(b.locked, "f")] for a, b in fresh.items()})
        self._snapshots.put(BALANCES, data, started, base)
        debits = {k: v for k, v in before.items() if k.startswith("debit_") or k == "changes"}
        return {**debits, **base, "data": data, "fetched_at": started}

    def moved(
        self, symbol: str, side: str, quantity: Decimal | None, quote: Decimal | None, price: Decimal | None
    ) -> None:
        """Before an order is sent: debit what it may spend, and mark the snapshot inexact."""
        amounts: dict[str, Decimal] = {"changes": Decimal(1)}
        assets = self.assets_of(symbol)
        if assets is not None:
            base, quote_asset = assets
            if side.upper() == "SELL" and quantity:
                amounts[f"debit_{base}"] = quantity
            elif side.upper() == "BUY":
                cost = quote
                if cost is None and quantity and price is not None:
                    cost = quantity * price  # a limit buy locks what it would pay
                elif cost is None and quantity:
                    at = self._last_or_none(symbol)
                    cost = quantity * at * Decimal("1.02") if at is not None else None  # a market buy may slip
                if cost:
                    amounts[f"debit_{quote_asset}"] = cost
        self._snapshots.add(BALANCES, amounts)

    def unknown(self) -> None:
        """An order's outcome is unknown: the next balance comes from the account."""
        self._snapshots.invalidate(BALANCES)

    def _last_or_none(self, symbol: str) -> Decimal | None:
        try:
            return self.price(symbol)
        except ExchangeError:
            return None


def _dump(value: Any) -> str:
    if isinstance(value, Mapping):
        return json.dumps({k: format(v, "f") for k, v in value.items()}, separators=(",", ":"))
    return json.dumps(format(value, "f"))


def _load(text: str) -> Any:
    value = json.loads(text)
    if isinstance(value, dict):
        return {k: Decimal(v) for k, v in value.items()}
    return Decimal(value)
