"""The venue budget and the shared snapshots, on their in-memory store and a clock the test moves."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tradeengine.exchange.base import Balance
from tradeengine.venue_budget import (
    BudgetSpent,
    Cost,
    MemoryBudgetStore,
    Shares,
    VenueBudget,
    parse_rate_limits,
)
from tradeengine.venue_cache import BALANCES, CacheAges, VenueCache, served_balances

LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 10},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 1000},
]


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:  # on a minute (and a 10 s) boundary
        self.now = now

    def __call__(self) -> float:
        return self.now


def budget(store: MemoryBudgetStore, clock: Clock, **shares: Decimal) -> VenueBudget:
    b = VenueBudget(store, shares=Shares(**shares), clock=clock)
    b.remember_limits(LIMITS)
    return b


def test_rate_limits_are_read_as_binance_names_their_windows() -> None:
    limits = parse_rate_limits([*LIMITS, {"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1}])
    assert [(limit.kind, limit.suffix, limit.window_s) for limit in limits] == [
        ("REQUEST_WEIGHT", "1M", 60),
        ("ORDERS", "10S", 10),
        ("ORDERS", "1D", 86_400),
    ]
    assert limits[0].header == "X-MBX-USED-WEIGHT-1M" and limits[1].header == "X-MBX-ORDER-COUNT-10S"


def test_entries_stop_at_their_share_of_the_window_and_wait_for_its_end() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    b = budget(store, clock)  # orders: 9 of 10 per 10 s for entries
    clock.now += 3.0
    for _ in range(9):
        b.spend(Cost(1, 1))
    with pytest.raises(BudgetSpent) as spent:
        b.spend(Cost(1, 1))
    assert spent.value.code == -1015
    assert 7.0 <= spent.value.delay_s <= 7.1  # the 10 s window ends 7 s later
    b.spend(Cost(1, 1, entry=False))  # an exit may use the window's last order
    with pytest.raises(BudgetSpent):
        b.spend(Cost(1, 1, entry=False))
    clock.now += 7.1  # the next window
    b.spend(Cost(1, 1))


def test_two_instances_sharing_the_store_never_pass_the_limit_together() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    a, b = budget(store, clock, orders=Decimal(1)), budget(store, clock, orders=Decimal(1))
    sent = 0
    for instance in (a, b) * 10:
        try:
            instance.spend(Cost(1, 1))
            sent += 1
        except BudgetSpent:
            pass
    assert sent == 10


def test_a_backlog_is_sent_back_spread_over_the_windows_that_can_take_it() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    instances = [budget(store, clock, orders=Decimal(1)) for _ in range(30)]  # one message each, like Lambdas
    delays = []
    for instance in instances:
        try:
            instance.spend(Cost(1, 1))
        except BudgetSpent as exc:
            delays.append(exc.delay_s)
    assert len(delays) == 20
    windows = sorted(round(d // 10) for d in delays)
    assert windows.count(1) == 10 and windows.count(2) == 10  # the next window, then the one after


def test_the_weight_budget_counts_each_request_and_keeps_its_share() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    b = budget(store, clock)  # 80 of 100 weight a minute
    for _ in range(4):
        b.spend(Cost(20))
    with pytest.raises(BudgetSpent) as spent:
        b.spend(Cost(1))
    assert spent.value.code == -1003 and spent.value.delay_s > 59


def test_what_the_venue_counted_raises_the_shared_count() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    b = budget(store, clock)
    clock.now += 2.0
    b.spend(Cost(1))
    b.observe({"x-mbx-used-weight-1m": "79"})  # another client on the IP spent the rest
    with pytest.raises(BudgetSpent):
        b.spend(Cost(2))


def test_a_429_stops_every_instance_until_retry_after() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    a, b = budget(store, clock), budget(store, clock)
    a.rate_limited(5.0)
    with pytest.raises(BudgetSpent) as spent:
        b.spend(Cost(1, 1, entry=False))
    assert 4.9 <= spent.value.delay_s <= 5.1
    clock.now += 5.1
    b.spend(Cost(1))


def test_without_the_venues_limits_binance_documented_ones_apply() -> None:
    b = VenueBudget(MemoryBudgetStore(), clock=Clock())
    assert {(limit.kind, limit.suffix, limit.limit) for limit in b.limits()} >= {
        ("REQUEST_WEIGHT", "1M", 6000),
        ("ORDERS", "10S", 100),
    }


# -- the shared snapshots -----------------------------------------------------------------------------


class MemorySnapshots:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, object]] = {}

    def get(self, key: str) -> dict[str, object] | None:
        return dict(self.items[key]) if key in self.items else None

    def claim(self, key: str, now_s: float, every_s: float) -> bool:
        item = self.items.setdefault(key, {})
        if float(item.get("claimed_at", -1e18)) > now_s - every_s:  # type: ignore[arg-type]
            return False
        item["claimed_at"] = now_s
        return True

    def put(self, key: str, data: str, fetched_at: float, base: dict[str, Decimal] | None = None) -> None:
        item = self.items.setdefault(key, {})
        if float(item.get("fetched_at", -1)) < fetched_at:  # type: ignore[arg-type]
            item.update({"data": data, "fetched_at": fetched_at, **(base or {})})

    def add(self, key: str, amounts: dict[str, Decimal]) -> None:
        item = self.items.setdefault(key, {})
        for name, amount in amounts.items():
            item[name] = Decimal(str(item.get(name, 0))) + amount

    def invalidate(self, key: str) -> None:
        self.items.setdefault(key, {})["fetched_at"] = 0


class Venue:
    def __init__(self) -> None:
        self.calls = {"tickers": 0, "average": 0, "account": 0}
        self.usdt = Decimal(1000)

    def fetch_tickers(self, symbols: object) -> dict[str, Decimal]:
        self.calls["tickers"] += 1
        return {"BTCUSDT": Decimal("50000")}

    def fetch_average(self, symbol: str) -> Decimal:
        self.calls["average"] += 1
        return Decimal("49900")

    def fetch_balances(self) -> dict[str, Balance]:
        self.calls["account"] += 1
        return {"USDT": Balance("USDT", self.usdt)}


def cache(snapshots: MemorySnapshots, venue: Venue, clock: Clock) -> VenueCache:
    c = VenueCache(snapshots, venue, ages=CacheAges(ticker_s=1, average_s=10, balances_s=60), clock=clock)
    c.assets_of = lambda symbol: ("BTC", "USDT") if symbol == "BTCUSDT" else None
    return c


def test_every_instance_shares_one_ticker_call_per_second() -> None:
    snapshots, venue, clock = MemorySnapshots(), Venue(), Clock()
    instances = [cache(snapshots, venue, clock) for _ in range(5)]
    for _ in range(4):
        for instance in instances:
            assert instance.price("BTCUSDT") == Decimal("50000")
            assert instance.average_price("BTCUSDT") == Decimal("49900")
        clock.now += 0.4
    assert venue.calls["tickers"] == 2  # at 0 s, and at 1.2 s when it was more than 1 s old
    assert venue.calls["average"] == 1


def test_a_served_balance_never_counts_money_an_order_may_already_have_spent() -> None:
    snapshots, venue, clock = MemorySnapshots(), Venue(), Clock()
    a, b = cache(snapshots, venue, clock), cache(snapshots, venue, clock)
    assert a.balances()["USDT"].free == Decimal(1000)
    b.moved("BTCUSDT", "BUY", Decimal("0.01"), None, Decimal("50000"))  # another instance sends a 500 USDT buy
    assert a.balances()["USDT"].free == Decimal(500)  # not re-read from the account, and not 1000
    assert venue.calls["account"] == 1
    venue.usdt = Decimal(500)  # the buy went through
    exact = a.balances(exact=True)  # a size that depends on it: the account is read again
    assert exact["USDT"].free == Decimal(500) and venue.calls["account"] == 2


def test_a_debit_made_before_the_account_answered_is_kept() -> None:
    item = {
        "data": json.dumps({"USDT": ["1000", "0"]}),
        "debit_USDT": Decimal(300),  # 100 before the read (the account already reflects it) + 200 after
        "base_USDT": Decimal(100),
    }
    assert served_balances(item)["USDT"].free == Decimal(800)


def test_stale_or_unknown_balances_are_read_again() -> None:
    snapshots, venue, clock = MemorySnapshots(), Venue(), Clock()
    c = cache(snapshots, venue, clock)
    c.balances()
    clock.now += 30
    c.balances()
    assert venue.calls["account"] == 1
    c.unknown()  # an order's outcome is unknown
    c.balances()
    assert venue.calls["account"] == 2
    clock.now += 61
    c.balances()
    assert venue.calls["account"] == 3
    assert snapshots.items[BALANCES]["fetched_at"] == clock.now


# -- sizing on the shared balance -----------------------------------------------------------------------


class _TwoBalances:
    """The paper exchange with a shared (possibly stale) and an exact balance, as the Binance adapter has."""

    def __init__(self, real: object, shared: Decimal, exact: Decimal) -> None:
        self._real, self.shared, self.exact, self.exact_reads = real, shared, exact, 0

    def balances(self) -> dict[str, Balance]:
        return {"USDT": Balance("USDT", self.shared)}

    def exact_balances(self) -> dict[str, Balance]:
        self.exact_reads += 1
        return {"USDT": Balance("USDT", self.exact)}

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def _size(shared: str, exact: str, **meta: object) -> tuple[object, _TwoBalances, object]:
    from datetime import UTC, datetime

    from tradeengine.pipeline.size import size_message

    from tests.conftest import INFO_2021, load_info, signal_dict
    from tests.support.memory import memory_deps

    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    venue = deps.exchange = _TwoBalances(deps.exchange, Decimal(shared), Decimal(exact))
    body = signal_dict(signal_id="shared-bal", timestamp=datetime.now(UTC).isoformat(), price=45000,
                       quantity=0, meta={"order_type": "market", **meta})  # fmt: skip
    out = size_message({"signal_id": "shared-bal", "source": "nats", "signal": body}, deps)
    return out, venue, deps.store.get("shared-bal")


def test_a_market_buy_at_the_minimum_sizes_on_the_shared_balance_without_reading_the_account() -> None:
    out, venue, _ = _size("1000", "1000")
    assert out.state.value == "SIZED" and venue.exact_reads == 0


def test_a_refusal_for_the_balance_is_decided_again_on_the_account_s_own_figure() -> None:
    out, venue, _ = _size("1", "1000")  # the shared figure is too low (proceeds not credited yet)
    assert out.state.value == "SIZED" and venue.exact_reads == 1
    out, venue, _ = _size("1", "2")  # the account itself cannot pay: refused
    assert out.code == "INSUFFICIENT_BALANCE" and venue.exact_reads == 1


def test_a_size_that_is_a_share_of_the_balance_reads_the_exact_one() -> None:
    out, venue, record = _size("1000", "500", position_size_pct=10)
    plan = record.plan
    assert out.state.value == "SIZED" and venue.exact_reads == 1
    assert Decimal(plan["notional"]) <= Decimal(50)  # 10 % of what the account holds, not of the stale 1000
