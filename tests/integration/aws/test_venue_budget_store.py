"""The venue budget and the venue's snapshots in the counters table (MiniStack): one count for every instance."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.exchange.base import Balance
from tradeengine.stores.counters import DynamoDBCounters
from tradeengine.stores.venue_budget import DynamoDBBudgetStore, DynamoDBSnapshots
from tradeengine.venue_budget import BudgetSpent, Cost, Shares, VenueBudget
from tradeengine.venue_cache import VenueCache

from tests.support import tables

pytestmark = pytest.mark.integration

LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 20},
]


@pytest.fixture
def counters_table(ddb: Any, table_name: str) -> str:
    tables.counters(ddb, table_name)
    return table_name


def _instance(ddb: Any, table: str) -> VenueBudget:
    budget = VenueBudget(DynamoDBBudgetStore(table, "binance-test", ddb_client=ddb), shares=Shares(orders=Decimal(1)))
    budget.remember_limits(LIMITS)
    return budget


def test_eight_instances_at_once_place_exactly_the_window_s_orders(ddb: Any, counters_table: str) -> None:
    while time.time() % 10 > 6:  # all 40 attempts inside one 10 s window
        time.sleep(0.2)
    instances = [_instance(ddb, counters_table) for _ in range(8)]

    def attempts(budget: VenueBudget) -> tuple[int, list[float]]:
        sent, delays = 0, []
        for _ in range(5):
            try:
                budget.spend(Cost(1, 1))
                sent += 1
            except BudgetSpent as exc:
                delays.append(exc.delay_s)
        return sent, delays

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempts, instances))
    assert sum(sent for sent, _ in results) == 20
    delays = sorted(d for _, ds in results for d in ds)
    assert len(delays) == 20 and all(0 < d <= 10.1 for d in delays)  # the 20 denied wait for the next window


def test_a_429_seen_by_one_instance_stops_the_others(ddb: Any, counters_table: str) -> None:
    a, b = _instance(ddb, counters_table), _instance(ddb, counters_table)
    a.rate_limited(3.0)
    with pytest.raises(BudgetSpent) as spent:
        b.spend(Cost(1))
    assert 2.0 < spent.value.delay_s <= 3.1
    assert (
        json.loads(json.dumps(DynamoDBBudgetStore(counters_table, "binance-test", ddb_client=ddb).limits())) == LIMITS
    )


def test_the_budget_items_stay_out_of_metrics(ddb: Any, counters_table: str) -> None:
    _instance(ddb, counters_table).spend(Cost(5, 1))
    assert DynamoDBCounters(counters_table, ddb_client=ddb).snapshot() == {}


class _Venue:
    def __init__(self) -> None:
        self.accounts = 0

    def fetch_tickers(self, symbols: Any) -> dict[str, Decimal]:
        return {"BTCUSDT": Decimal("50000")}

    def fetch_average(self, symbol: str) -> Decimal:
        return Decimal("50000")

    def fetch_balances(self) -> dict[str, Balance]:
        self.accounts += 1
        return {"USDT": Balance("USDT", Decimal("1000"))}


def test_debits_from_every_instance_reach_the_balance_each_one_serves(ddb: Any, counters_table: str) -> None:
    venue = _Venue()
    caches = [VenueCache(DynamoDBSnapshots(counters_table, "binance-test", ddb_client=ddb), venue) for _ in range(4)]
    for c in caches:
        c.assets_of = lambda symbol: ("BTC", "USDT")
    assert caches[0].balances()["USDT"].free == Decimal("1000")
    with ThreadPoolExecutor(4) as pool:  # four instances each send a 100 USDT limit buy
        list(pool.map(lambda c: c.moved("BTCUSDT", "BUY", Decimal("0.002"), None, Decimal("50000")), caches))
    assert {c.balances()["USDT"].free for c in caches} == {Decimal("600")}
    assert venue.accounts == 1
    caches[1].balances(exact=True)  # orders were sent since: an exact balance reads the account again
    assert venue.accounts == 2
