"""The exchange rules cache against a real DynamoDB emulator: fresh → no exchangeInfo call; stale or
missing → exactly one refresh; every item carries the table's TTL attribute."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradeengine.exchange.base import ExchangeError
from tradeengine.stores.rules_cache import RETRY_STALE_S, TTL_ATTRIBUTE, RulesCache

from tests.support import tables

pytestmark = pytest.mark.integration

INFO = json.loads((Path(__file__).parents[2] / "fixtures" / "exchange_info_2026_sample.json").read_text())


class CountingInfoSource:
    """The part of the Exchange port the cache uses, serving a real exchangeInfo snapshot and counting calls."""

    def __init__(self, name: str = "binance-testnet") -> None:
        self.name = name
        self.calls: list[list[str] | None] = []

    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        self.calls.append(list(symbols) if symbols else None)
        wanted = set(symbols or ())
        return {**INFO, "symbols": [s for s in INFO["symbols"] if not wanted or s["symbol"] in wanted]}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rules_table(ddb: Any, table_name: str) -> str:
    tables.rules(ddb, table_name)
    return table_name


def _cache(ddb: Any, table: str, source: CountingInfoSource, clock: Clock, ttl: int = 3600) -> RulesCache:
    return RulesCache(source, table, ttl, ddb_client=ddb, clock=clock)  # type: ignore[arg-type]


def test_missing_entry_is_fetched_once_and_stored_with_ttl(ddb: Any, rules_table: str) -> None:
    source, clock = CountingInfoSource(), Clock()
    rules = _cache(ddb, rules_table, source, clock).get("BTCUSDT")

    assert rules is not None and rules.symbol == "BTCUSDT"
    assert rules.lot_size is not None and rules.lot_size.step_size == Decimal("0.00001")
    assert source.calls == [["BTCUSDT"]]
    item = ddb.get_item(TableName=rules_table, Key={"pk": {"S": "binance-testnet#BTCUSDT"}})["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == int(clock.now) + 3600 + 86_400  # kept through the stale grace
    ttl = ddb.describe_time_to_live(TableName=rules_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE and ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")


def test_cold_start_with_a_fresh_entry_makes_no_exchange_call(ddb: Any, rules_table: str) -> None:
    clock = Clock()
    _cache(ddb, rules_table, CountingInfoSource(), clock).get("ETHUSDT")  # a previous Lambda container

    clock.now += 3599
    cold = CountingInfoSource()
    rules = _cache(ddb, rules_table, cold, clock).get("ETHUSDT")  # a new process: empty memo

    assert rules is not None and rules.symbol == "ETHUSDT"
    assert cold.calls == []


def test_stale_entry_is_refreshed_exactly_once(ddb: Any, rules_table: str) -> None:
    clock = Clock()
    _cache(ddb, rules_table, CountingInfoSource(), clock).get("SOLUSDT")

    clock.now += 3601
    source = CountingInfoSource()
    cache = _cache(ddb, rules_table, source, clock)
    first, second = cache.get("SOLUSDT"), cache.get("SOLUSDT")
    again = _cache(ddb, rules_table, CountingInfoSource(), clock)  # another container sees the refreshed item

    assert first is not None and first == second
    assert source.calls == [["SOLUSDT"]]
    assert again.get("SOLUSDT") == first and again.refreshes == 0
    item = ddb.get_item(TableName=rules_table, Key={"pk": {"S": "binance-testnet#SOLUSDT"}})["Item"]
    assert int(item["fetched_at"]["N"]) == int(clock.now)


def test_memo_expires_with_the_ttl_in_a_warm_process(ddb: Any, rules_table: str) -> None:
    clock, source = Clock(), CountingInfoSource()
    cache = _cache(ddb, rules_table, source, clock, ttl=60)
    cache.get("BTCUSDT")
    clock.now += 30
    cache.get("BTCUSDT")
    clock.now += 31
    cache.get("BTCUSDT")

    assert source.calls == [["BTCUSDT"], ["BTCUSDT"]]


def test_venues_do_not_share_rules(ddb: Any, rules_table: str) -> None:
    clock = Clock()
    _cache(ddb, rules_table, CountingInfoSource("binance-testnet"), clock).get("BTCUSDT")
    mainnet = CountingInfoSource("binance-mainnet")
    _cache(ddb, rules_table, mainnet, clock).get("BTCUSDT")

    assert mainnet.calls == [["BTCUSDT"]]


def test_unlisted_symbol_is_none(ddb: Any, rules_table: str) -> None:
    assert _cache(ddb, rules_table, CountingInfoSource(), Clock()).get("NOPEUSDT") is None


def test_full_refresh_writes_every_symbol_in_batches(ddb: Any, rules_table: str) -> None:
    clock, source = Clock(), CountingInfoSource()
    refreshed = _cache(ddb, rules_table, source, clock).refresh()

    assert set(refreshed) == {s["symbol"] for s in INFO["symbols"]}
    cold = CountingInfoSource()
    cache = _cache(ddb, rules_table, cold, clock)
    assert all(cache.get(symbol) == rules for symbol, rules in refreshed.items())
    assert cold.calls == []


def test_client_honours_aws_endpoint_url(
    ministack_endpoint: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeengine.stores import aws

    monkeypatch.setenv("AWS_ENDPOINT_URL", ministack_endpoint)
    client = aws.client("dynamodb", region="us-east-1")
    assert client.meta.endpoint_url == ministack_endpoint
    assert "TableNames" in client.list_tables()


class StrugglingInfoSource(CountingInfoSource):
    """exchangeInfo that fails (rate limited) while ``down``, as a busy venue's heaviest endpoint does."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        if self.down:
            self.calls.append(list(symbols) if symbols else None)
            raise ExchangeError(-1003, "Too much request weight used", 429, retryable=True)
        return super().exchange_info(symbols)


def test_stale_rules_serve_while_exchange_info_fails_within_the_grace(ddb: Any, rules_table: str) -> None:
    source, clock = StrugglingInfoSource(), Clock()
    _cache(ddb, rules_table, source, clock).get("BTCUSDT")  # stored at t0
    source.down = True
    clock.now += 3600 + 600  # stale by 10 minutes, a new process (cold start)
    cache = _cache(ddb, rules_table, source, clock)

    rules = cache.get("BTCUSDT")
    assert rules is not None and rules.symbol == "BTCUSDT" and cache.stale_served == 1
    assert len(source.calls) == 2  # one attempt to refresh
    clock.now += RETRY_STALE_S / 2
    assert cache.get("BTCUSDT") == rules and len(source.calls) == 2  # no new attempt on every signal
    clock.now += RETRY_STALE_S
    assert cache.get("BTCUSDT") == rules and len(source.calls) == 3  # tries again after a while

    source.down = False
    clock.now += RETRY_STALE_S
    assert cache.get("BTCUSDT") == rules and len(source.calls) == 4 and cache.stale_served == 2  # refreshed
    item = ddb.get_item(TableName=rules_table, Key={"pk": {"S": "binance-testnet#BTCUSDT"}})["Item"]
    assert int(item["fetched_at"]["N"]) == int(clock.now)


def test_rules_past_the_grace_or_never_fetched_are_not_served(ddb: Any, rules_table: str) -> None:
    source, clock = StrugglingInfoSource(), Clock()
    _cache(ddb, rules_table, source, clock).get("BTCUSDT")
    source.down = True
    with pytest.raises(ExchangeError):
        _cache(ddb, rules_table, source, clock).get("ETHUSDT")  # never fetched: nothing to fall back on
    clock.now += 3600 + 86_400 + 1
    with pytest.raises(ExchangeError):
        _cache(ddb, rules_table, source, clock).get("BTCUSDT")  # too old to trust
    strict = RulesCache(source, rules_table, 3600, max_stale_seconds=0, ddb_client=ddb, clock=clock)  # type: ignore[arg-type]
    clock.now -= 86_400  # an hour and a second old: stale, and no grace at all
    with pytest.raises(ExchangeError):
        strict.get("BTCUSDT")


def test_the_grace_comes_from_the_settings(ddb: Any, rules_table: str) -> None:
    from tradeengine.config import Settings

    source, clock = StrugglingInfoSource(), Clock()

    def cache(**settings: int) -> RulesCache:
        made = RulesCache.from_settings(Settings(rules_table=rules_table, **settings), source, ddb_client=ddb)  # type: ignore[arg-type]
        made._clock = clock
        return made

    cache().get("BTCUSDT")
    source.down = True
    clock.now += 3601  # stale by a second
    assert cache().get("BTCUSDT") is not None  # the default grace (a day) serves it
    with pytest.raises(ExchangeError):
        cache(exchange_info_max_stale_seconds=0).get("BTCUSDT")  # no grace: refused
