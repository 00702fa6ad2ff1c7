"""Exchange rules cache: exchangeInfo per symbol in DynamoDB, with a TTL, memoised in the process.

One item per (venue, symbol): the whole exchangeInfo of mainnet is several MB, far over DynamoDB's
400 KB item limit, while one symbol's entry is 2–3 KB and the sizing function needs one symbol at a
time. Testnet and mainnet rules differ, so the venue (the Exchange port's ``name``) is part of the key.

- fresh item (``fetched_at + ttl > now``): used as is; a cold start makes no exchangeInfo call;
- stale or missing item: refreshed once from the Exchange port, written back, then used;
- the refresh fails (exchangeInfo is a heavy endpoint: timeouts, 5xx, rate limits) and the item is no
  older than ``ttl + max_stale``: the stale rules are used, with a warning, and the next refresh is tried
  after ``RETRY_STALE_S`` (not on every signal, which would only add weight to a struggling venue);
  older than that, or no item at all: the error is raised (sizing retries the message later). Binance
  changes a symbol's filters rarely, and an order that breaks a changed filter is refused by Binance
  with its code (FAILED, recorded), never placed wrong;
- ``expires_at`` is also the table's TTL attribute (``fetched_at + ttl + max_stale``), so DynamoDB reaps
  what nobody reads any more (TTL deletion is lazy, which is why freshness is checked on
  ``fetched_at``, never on absence);
- every exchangeInfo answer also carries the venue's ``rateLimits``: each refresh hands them to
  ``on_rate_limits`` (the venue budget, which keeps them where every instance reads them).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contracts.money import dumps
from tradeengine.exchange import codes
from tradeengine.exchange.base import Exchange, ExchangeError
from tradeengine.exchange_info import parse_symbol
from tradeengine.rules import SymbolRules
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

log = logging.getLogger(__name__)
TTL_ATTRIBUTE = "expires_at"
RETRY_STALE_S = 60.0  # after a failed refresh, stale rules serve this long before the next attempt
_BATCH = 25  # BatchWriteItem's limit


class RulesCache:
    """``get(symbol)`` → SymbolRules (or None for a symbol the venue does not list)."""

    def __init__(
        self,
        exchange: Exchange,
        table: str,
        ttl_seconds: int = 3600,
        *,
        max_stale_seconds: int = 86_400,
        ddb_client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._exchange = exchange
        self._table = table
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._ddb = ddb_client or aws.client("dynamodb")
        self._clock = clock
        self._memo: dict[str, tuple[SymbolRules, float]] = {}
        self._lock = threading.Lock()
        self.refreshes = 0  # exchangeInfo calls made by this cache (visible to tests and metrics)
        self.stale_served = 0  # times stale rules were served because a refresh failed
        self.on_rate_limits: Callable[[list[dict[str, Any]]], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, exchange: Exchange, ddb_client: Any = None) -> RulesCache:
        return cls(
            exchange,
            settings.rules_table,
            settings.exchange_info_ttl_seconds,
            max_stale_seconds=settings.exchange_info_max_stale_seconds,
            ddb_client=ddb_client,
        )

    def _key(self, symbol: str) -> str:
        return f"{self._exchange.name}#{symbol}"

    def get(self, symbol: str) -> SymbolRules | None:
        symbol = symbol.upper()
        now = self._clock()
        memo = self._memo.get(symbol)
        if memo is not None and memo[1] > now:
            return memo[0]
        with self._lock:  # one refresh per process, however many threads ask at once
            now = self._clock()
            memo = self._memo.get(symbol)
            if memo is not None and memo[1] > now:
                return memo[0]
            item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": self._key(symbol)}}).get("Item")
            if item is not None and float(item["fetched_at"]["N"]) + self._ttl > now:
                return self._remember(symbol, json.loads(item["rules"]["S"]), float(item["fetched_at"]["N"]))
            try:
                fetched = self.refresh([symbol])
            except ExchangeError as exc:
                if item is None or float(item["fetched_at"]["N"]) + self._ttl + self._max_stale <= now:
                    raise
                return self._serve_stale(symbol, item, exc, now)
            return fetched.get(symbol)

    def _serve_stale(self, symbol: str, item: Mapping[str, Any], exc: ExchangeError, now: float) -> SymbolRules:
        age = now - float(item["fetched_at"]["N"])
        log.warning(
            "exchangeInfo for %s unavailable (%s: %s): using rules %.0f s old", symbol, exc.code, exc.message, age
        )
        self.stale_served += 1
        rules = parse_symbol(json.loads(item["rules"]["S"]))
        self._memo[symbol] = (rules, now + RETRY_STALE_S)
        return rules

    def refresh(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolRules]:
        """Fetch exchangeInfo (for ``symbols``, or every symbol), store each entry, memoise the rules."""
        try:
            info = self._exchange.exchange_info(list(symbols) if symbols else None)
        except ExchangeError as exc:
            if exc.code == codes.INVALID_SYMBOL:
                return {}
            raise
        finally:
            self.refreshes += 1
        if self.on_rate_limits is not None and isinstance(info.get("rateLimits"), list):
            self.on_rate_limits(info["rateLimits"])
        now = self._clock()
        entries = [e for e in info.get("symbols", ()) if not symbols or e.get("symbol") in symbols]
        self._write(entries, now)
        return {str(e["symbol"]): self._remember(str(e["symbol"]), e, now) for e in entries}

    def _remember(self, symbol: str, entry: Mapping[str, Any], fetched_at: float) -> SymbolRules:
        rules = parse_symbol(entry)
        self._memo[symbol] = (rules, fetched_at + self._ttl)
        return rules

    def _item(self, entry: Mapping[str, Any], now: float) -> dict[str, Any]:
        symbol = str(entry["symbol"])
        return {
            "pk": {"S": self._key(symbol)},
            "venue": {"S": self._exchange.name},
            "symbol": {"S": symbol},
            "rules": {"S": dumps(entry)},
            "fetched_at": {"N": str(int(now))},
            TTL_ATTRIBUTE: {"N": str(int(now) + self._ttl + self._max_stale)},
        }

    def _write(self, entries: Iterable[Mapping[str, Any]], now: float) -> None:
        items = [self._item(e, now) for e in entries]
        if len(items) == 1:
            self._ddb.put_item(TableName=self._table, Item=items[0])
            return
        for start in range(0, len(items), _BATCH):
            requests: dict[str, Any] = {
                self._table: [{"PutRequest": {"Item": i}} for i in items[start : start + _BATCH]]
            }
            for attempt in range(8):
                unprocessed = self._ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                requests = unprocessed
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError(f"rules cache: DynamoDB left {len(requests[self._table])} items unwritten")
