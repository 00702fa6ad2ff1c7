"""Counters (shared by every Lambda instance) and the trading switch, in DynamoDB (MiniStack)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from tradeengine.pipeline.ports import Counters, TradingStateStore
from tradeengine.risk import TradingState
from tradeengine.stores.control import DynamoDBCursors, DynamoDBTradingState
from tradeengine.stores.counters import BufferedCounters, DynamoDBCounters

from tests.support import tables
from tests.support.memory import MemoryCounters

pytestmark = pytest.mark.integration

LATENCY_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


@pytest.fixture
def counters_table(ddb: Any, table_name: str) -> str:
    tables.counters(ddb, table_name)
    return table_name


@pytest.fixture
def control_table(ddb: Any, table_name: str) -> str:
    tables.control(ddb, table_name)
    return table_name


def test_implement_the_ports(ddb: Any, counters_table: str) -> None:
    from tests.support.ports import assert_implements

    assert_implements(DynamoDBCounters(counters_table, ddb_client=ddb), Counters)
    assert_implements(DynamoDBTradingState(counters_table, ddb_client=ddb), TradingStateStore)


def test_counters_are_exact_under_eight_concurrent_writers(ddb: Any, counters_table: str) -> None:
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        store = DynamoDBCounters(counters_table, ddb_client=ddb)  # as if each were its own Lambda instance
        barrier.wait()
        for _ in range(50):
            store.incr("tradeengine_trades_total", {"type": "market", "status": "executed"})
        store.incr("tradeengine_errors_total", {"type": f"w{worker % 2}"}, by=0.5)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))

    snapshot = DynamoDBCounters(counters_table, ddb_client=ddb).snapshot()
    assert snapshot == {
        ("tradeengine_trades_total", (("status", "executed"), ("type", "market"))): 400.0,
        ("tradeengine_errors_total", (("type", "w0"),)): 2.0,
        ("tradeengine_errors_total", (("type", "w1"),)): 2.0,
    }


def test_histogram_snapshot_matches_the_in_memory_counters(ddb: Any, counters_table: str) -> None:
    store, memory = DynamoDBCounters(counters_table, ddb_client=ddb), MemoryCounters()
    for adapter in (store, memory):
        for value in (0.004, 0.25, 0.25, 0.75, 3.0):
            adapter.observe("tradeengine_latency_seconds", {"stage": "sizing"}, value, LATENCY_BUCKETS)
        adapter.incr("tradeengine_nats_messages_processed_total", {"status": "ok"}, by=3)

    snapshot = store.snapshot()
    assert snapshot == memory.snapshot()
    labels = lambda le: (("le", le), ("stage", "sizing"))  # noqa: E731
    assert snapshot[("tradeengine_latency_seconds_bucket", labels("0.005"))] == 1
    assert snapshot[("tradeengine_latency_seconds_bucket", labels("0.5"))] == 3
    assert snapshot[("tradeengine_latency_seconds_bucket", labels("1.0"))] == 4
    assert snapshot[("tradeengine_latency_seconds_bucket", labels("+Inf"))] == 5
    assert snapshot[("tradeengine_latency_seconds_count", (("stage", "sizing"),))] == 5
    assert snapshot[("tradeengine_latency_seconds_sum", (("stage", "sizing"),))] == pytest.approx(4.254)


def test_buffered_counters_write_one_update_per_series_and_agree_with_the_direct_ones(
    ddb: Any, counters_table: str
) -> None:
    direct = DynamoDBCounters(counters_table, namespace="direct", ddb_client=ddb)
    inner = DynamoDBCounters(counters_table, namespace="buffered", ddb_client=ddb)
    buffered = BufferedCounters(inner)
    writes: list[str] = []
    for name in ("incr", "add_observations"):
        original = getattr(inner, name)
        setattr(inner, name, lambda *a, _o=original, _n=name, **k: writes.append(_n) or _o(*a, **k))
    for adapter in (direct, buffered):
        for value in (0.004, 0.25, 0.25, 0.75, 3.0, 120.0):
            adapter.observe("tradeengine_latency_seconds", {"stage": "execution"}, value, LATENCY_BUCKETS)
        for status in ("filled", "filled", "open", "filled"):
            adapter.incr("tradeengine_trades_total", {"status": status, "type": "market"})

    assert writes == []  # nothing written before the flush
    buffered.flush()
    assert sorted(writes) == ["add_observations", "incr", "incr"]  # one write per series, not one per fact
    assert buffered.snapshot() == direct.snapshot()
    buffered.flush()
    assert len(writes) == 3  # nothing left to write


def test_buffered_counters_keep_what_a_failed_flush_could_not_write(ddb: Any, counters_table: str) -> None:
    inner = DynamoDBCounters(counters_table, namespace="retry", ddb_client=ddb)
    buffered = BufferedCounters(inner)
    buffered.incr("tradeengine_errors_total", {"type": "x"}, by=2)
    buffered.observe("tradeengine_latency_seconds", {}, 0.3, LATENCY_BUCKETS)
    real_incr, real_add = inner.incr, inner.add_observations

    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the counter store is down")

    inner.incr, inner.add_observations = down, down  # type: ignore[method-assign]
    buffered.flush()  # logged, not raised: a metrics outage must not fail a trade
    buffered.incr("tradeengine_errors_total", {"type": "x"})
    inner.incr, inner.add_observations = real_incr, real_add  # type: ignore[method-assign]
    snapshot = buffered.snapshot()
    assert snapshot[("tradeengine_errors_total", (("type", "x"),))] == 3
    assert snapshot[("tradeengine_latency_seconds_count", ())] == 1


def test_snapshot_pages_through_one_partition_and_namespaces_stay_apart(ddb: Any, counters_table: str) -> None:
    store = DynamoDBCounters(counters_table, ddb_client=ddb)
    other = DynamoDBCounters(counters_table, namespace="other-stack", ddb_client=ddb)
    padding = "x" * 2000  # ~2 KB per item: 700 items cross DynamoDB's 1 MB page, so the Query must paginate
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.incr("series", {"i": f"{i:04d}", "pad": padding}), range(700)))
    other.incr("series", {"i": "0000"})

    first_page = ddb.query(
        TableName=counters_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "counters"}},
    )
    assert "LastEvaluatedKey" in first_page  # so the snapshot below did follow the pages

    snapshot = store.snapshot()
    assert len(snapshot) == 700 and set(snapshot.values()) == {1.0}
    assert other.snapshot() == {("series", (("i", "0000"),)): 1.0}


def test_non_finite_values_are_refused(ddb: Any, counters_table: str) -> None:
    store = DynamoDBCounters(counters_table, ddb_client=ddb)
    with pytest.raises(ValueError):
        store.incr("x", {}, by=float("nan"))
    assert store.snapshot() == {}


def test_trading_state_defaults_then_follows_the_operator(ddb: Any, control_table: str) -> None:
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store = DynamoDBTradingState(control_table, ddb_client=ddb, clock=lambda: at)
    halted_by_default = DynamoDBTradingState(control_table, default=TradingState.HALTED, ddb_client=ddb)

    assert store.get() is TradingState.ACTIVE
    assert halted_by_default.get() is TradingState.HALTED  # Settings.trading_state applies until someone sets one
    assert store.describe().set_at is None

    store.set(TradingState.HALTED, by="ops@desk", reason="exchange maintenance")
    other_instance = DynamoDBTradingState(control_table, ddb_client=ddb)
    assert other_instance.get() is TradingState.HALTED
    info = other_instance.describe()
    assert (info.set_by, info.reason, info.set_at) == ("ops@desk", "exchange maintenance", at)

    store.set(TradingState.REDUCING)
    assert halted_by_default.get() is TradingState.REDUCING


def test_cursors_are_kept_set_and_cleared_beside_the_trading_state(ddb: Any, control_table: str) -> None:
    cursors, switch = (
        DynamoDBCursors(control_table, ddb_client=ddb),
        DynamoDBTradingState(control_table, ddb_client=ddb),
    )
    assert cursors.get("monitor") is None
    cursors.set("monitor", "OPEN|2025-01-02T03:04:05+00:00|sig-1")
    cursors.set("monitor", "OPEN|2025-01-02T03:04:06+00:00|sig-2")
    assert cursors.get("monitor") == "OPEN|2025-01-02T03:04:06+00:00|sig-2"
    assert cursors.get("other") is None
    cursors.set("monitor", None)
    cursors.set("monitor", None)  # clearing twice is fine
    assert cursors.get("monitor") is None
    assert switch.get() is TradingState.ACTIVE  # the switch's item is untouched
