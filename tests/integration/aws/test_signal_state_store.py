"""Signal state in DynamoDB (MiniStack): created once, moved only forward, open signals via the sparse GSI."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.pipeline.ports import OpenPosition, SignalRecord, SignalStateStore, Step, Transition
from tradeengine.stores.signal_state import TTL_ATTRIBUTE, DynamoDBSignalStateStore

from contracts.status import EXIT_MOVES, EXITING, ORDER_MOVES, SignalState
from tests.support import tables

pytestmark = pytest.mark.integration

S = SignalState
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def signals_table(ddb: Any) -> str:
    name = f"signals-{uuid.uuid4().hex[:8]}"
    tables.signals(ddb, name)
    return name


@pytest.fixture
def store(ddb: Any, signals_table: str) -> DynamoDBSignalStateStore:
    return DynamoDBSignalStateStore(signals_table, retention_days=90, ddb_client=ddb)


def _record(sid: str | None = None, *, at: datetime = T0, symbol: str = "BTCUSDT") -> SignalRecord:
    sid = sid or f"sig-{uuid.uuid4().hex[:12]}"
    return SignalRecord(
        signal_id=sid,
        state=S.RECEIVED,
        version=1,
        symbol=symbol,
        strategy_id="momentum",
        created_at=at,
        updated_at=at,
        signal={"symbol": symbol, "price": "0.00001234", "quantity": "0"},
        history=(Transition(S.RECEIVED, at, stage="ingest", detail={"source": "api"}),),
    )


def _walk(store: DynamoDBSignalStateStore, sid: str, *states: SignalState) -> None:
    for state in states:
        assert store.advance(sid, Step(state, stage="test")) is not None, state


def test_implements_the_port(store: DynamoDBSignalStateStore) -> None:
    from tests.support.ports import assert_implements

    assert_implements(store, SignalStateStore)  # every method of the port, by name and kind; the rest: behaviour


def test_create_once_then_duplicate_is_refused(store: DynamoDBSignalStateStore) -> None:
    record = _record()
    assert store.create(record) is True
    assert store.create(record) is False

    stored = store.get(record.signal_id)
    assert stored is not None
    assert (stored.state, stored.version, stored.symbol, stored.strategy_id) == (S.RECEIVED, 1, "BTCUSDT", "momentum")
    assert stored.created_at == T0 and stored.signal == record.signal  # Decimal-looking text stays exact
    assert store.get("no-such-signal") is None


def test_ingest_records_two_steps_in_one_put_and_takes_back_only_an_unmoved_record(
    store: DynamoDBSignalStateStore,
) -> None:
    from tradeengine.pipeline.ingest import queued

    record = queued(_record())
    assert store.create(record)
    stored = store.get(record.signal_id)
    assert stored is not None and stored.state is S.QUEUED and stored.version == 2
    assert [t.state for t in stored.history] == [S.RECEIVED, S.QUEUED]
    assert store.forget(record.signal_id, 1) is False  # not at that version: kept
    assert store.forget(record.signal_id, 2) is True
    assert store.get(record.signal_id) is None
    assert store.forget(record.signal_id, 2) is False  # gone already

    moved = queued(_record())
    assert store.create(moved)
    _walk(store, moved.signal_id, S.SIZED)  # sizing took it meanwhile: ingest must not delete it
    assert store.forget(moved.signal_id, 2) is False
    assert store.get(moved.signal_id).state is S.SIZED  # type: ignore[union-attr]


def test_eight_concurrent_creates_exactly_one_wins(store: DynamoDBSignalStateStore) -> None:
    record = _record()
    barrier = threading.Barrier(8)

    def create(_: int) -> bool:
        barrier.wait()
        return store.create(record)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    assert results.count(True) == 1


def test_advance_forward_and_refuse_backward_or_illegal(store: DynamoDBSignalStateStore) -> None:
    record = _record()
    store.create(record)
    plan = {"symbol": "BTCUSDT", "quantity": Decimal("0.00010000"), "price": Decimal("1E-8")}

    queued = store.advance(record.signal_id, Step(S.QUEUED, at=T0 + timedelta(seconds=1), stage="ingest"))
    sized = store.advance(record.signal_id, Step(S.SIZED, plan=plan, at=T0 + timedelta(seconds=2), stage="sizing"))

    assert queued is not None and (queued.state, queued.version) == (S.QUEUED, 2)
    assert sized is not None and (sized.state, sized.version) == (S.SIZED, 3)
    assert sized.plan == {"symbol": "BTCUSDT", "quantity": "0.0001", "price": "0.00000001"}  # plain, never 1E-8
    assert store.advance(record.signal_id, Step(S.QUEUED)) is None  # backward
    assert store.advance(record.signal_id, Step(S.FILLED)) is None  # skips SUBMITTED: not legal from SIZED
    assert store.advance(record.signal_id, Step(S.RECEIVED)) is None  # nothing ever goes back to RECEIVED
    assert store.advance("no-such-signal", Step(S.QUEUED)) is None
    assert store.get("no-such-signal") is None  # the refused update created nothing
    after = store.get(record.signal_id)
    assert after is not None and (after.state, after.version, after.plan) == (S.SIZED, 3, sized.plan)


def test_terminal_state_is_final_and_keeps_its_code(store: DynamoDBSignalStateStore) -> None:
    record = _record()
    store.create(record)
    rejected = store.advance(
        record.signal_id, Step(S.REJECTED, code="DUST", reason="below the minimum", stage="sizing")
    )

    assert rejected is not None and (rejected.code, rejected.reason, rejected.terminal) == (
        "DUST",
        "below the minimum",
        True,
    )
    assert store.advance(record.signal_id, Step(S.QUEUED)) is None
    assert store.advance(record.signal_id, Step(S.FAILED)) is None


def test_two_racing_workers_only_one_submits(store: DynamoDBSignalStateStore) -> None:
    for _ in range(5):  # a few rounds: the race must be lost the same way whoever gets there first
        record = _record()
        store.create(record)
        _walk(store, record.signal_id, S.QUEUED, S.SIZED)
        barrier = threading.Barrier(2)

        def submit(worker: int, sid: str = record.signal_id, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            return store.advance(sid, Step(S.SUBMITTED, execution={"worker": worker}, stage="execution")) is not None

        with ThreadPoolExecutor(2) as pool:
            wins = list(pool.map(submit, range(2)))
        assert wins.count(True) == 1
        final = store.get(record.signal_id)
        assert final is not None and (final.state, final.version) == (S.SUBMITTED, 4)
        assert [t.state for t in final.history].count(S.SUBMITTED) == 1
        assert final.execution == {"worker": wins.index(True)}


def test_history_and_ttl_are_stored(ddb: Any, signals_table: str, store: DynamoDBSignalStateStore) -> None:
    record = _record()
    store.create(record)
    at = T0 + timedelta(minutes=1)
    store.advance(record.signal_id, Step(S.QUEUED, at=at, stage="ingest"))
    store.advance(record.signal_id, Step(S.SIZED, at=at, stage="sizing", detail={"fee": Decimal("0.001")}))

    stored = store.get(record.signal_id)
    assert stored is not None
    assert [(t.state, t.stage) for t in stored.history] == [
        (S.RECEIVED, "ingest"),
        (S.QUEUED, "ingest"),
        (S.SIZED, "sizing"),
    ]
    assert stored.history[0].detail == {"source": "api"} and stored.history[2].detail == {"fee": "0.001"}
    assert stored.history[2].at == at and stored.updated_at == at

    item = ddb.get_item(TableName=signals_table, Key={"pk": {"S": record.signal_id}})["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == int((at + timedelta(days=90)).timestamp())
    ttl = ddb.describe_time_to_live(TableName=signals_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE and ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")

    store.advance(record.signal_id, Step(S.SUBMITTED, at=at))  # an order live at the exchange is never reaped
    item = ddb.get_item(TableName=signals_table, Key={"pk": {"S": record.signal_id}})["Item"]
    assert TTL_ATTRIBUTE not in item and item["open_state"]["S"] == "SUBMITTED"
    store.advance(record.signal_id, Step(S.FILLED, at=at + timedelta(days=1)))
    item = ddb.get_item(TableName=signals_table, Key={"pk": {"S": record.signal_id}})["Item"]
    assert "open_state" not in item
    assert int(item[TTL_ATTRIBUTE]["N"]) == int((at + timedelta(days=91)).timestamp())


def test_open_signals_come_from_the_sparse_index(ddb: Any) -> None:
    name = f"signals-open-{uuid.uuid4().hex[:8]}"  # a table of its own: only this test's signals in it
    tables.signals(ddb, name)
    store = DynamoDBSignalStateStore(name, ddb_client=ddb)
    paths = {
        "queued": (S.QUEUED,),
        "sized": (S.QUEUED, S.SIZED),
        "submitted": (S.QUEUED, S.SIZED, S.SUBMITTED),
        "open": (S.QUEUED, S.SIZED, S.SUBMITTED, S.OPEN),
        "partial": (S.QUEUED, S.SIZED, S.SUBMITTED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        "filled": (S.QUEUED, S.SIZED, S.SUBMITTED, S.OPEN, S.FILLED),
        "canceled": (S.QUEUED, S.SIZED, S.SUBMITTED, S.CANCELED),
        "rejected": (S.QUEUED, S.REJECTED),
    }
    for i, (sid, path) in enumerate(paths.items()):
        store.create(_record(sid, at=T0 + timedelta(seconds=i)))
        _walk(store, sid, *path)

    deadline = time.monotonic() + 5  # a GSI is eventually consistent
    while True:
        found = store.open_signals()
        if len(found) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert [r.signal_id for r in found] == ["submitted", "open", "partial"]  # oldest first
    assert [r.state for r in found] == [S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED]
    assert [r.signal_id for r in store.open_signals(limit=2)] == ["submitted", "open"]
    assert store.open_signals(limit=0) == []


def test_concurrent_fill_updates_are_never_lost(store: DynamoDBSignalStateStore) -> None:
    """PARTIALLY_FILLED → PARTIALLY_FILLED is legal, so every concurrent writer lands its own step, none
    overwritten: one conditional UpdateItem per step, which DynamoDB applies one at a time."""
    record = _record()
    store.create(record)
    _walk(store, record.signal_id, S.QUEUED, S.SIZED, S.SUBMITTED, S.PARTIALLY_FILLED)
    barrier = threading.Barrier(6)

    def fill(worker: int) -> int | None:
        barrier.wait()
        new = store.advance(record.signal_id, Step(S.PARTIALLY_FILLED, detail={"fill": worker}, stage="monitor"))
        return None if new is None else new.version

    with ThreadPoolExecutor(6) as pool:
        versions = list(pool.map(fill, range(6)))

    assert sorted(v for v in versions if v is not None) == [6, 7, 8, 9, 10, 11]  # each its own version
    final = store.get(record.signal_id)
    assert final is not None
    fills = [t.detail["fill"] for t in final.history if "fill" in t.detail]
    assert sorted(fills) == list(range(6))
    assert final.version == 11


def test_open_signals_walk_in_pages_from_a_position_across_the_three_states(ddb: Any) -> None:
    name = f"signals-walk-{uuid.uuid4().hex[:8]}"
    tables.signals(ddb, name)
    store = DynamoDBSignalStateStore(name, ddb_client=ddb)
    paths = {
        "OPEN": (S.QUEUED, S.SIZED, S.SUBMITTED, S.OPEN),
        "SUBMITTED": (S.QUEUED, S.SIZED, S.SUBMITTED),
        "PARTIALLY_FILLED": (S.QUEUED, S.SIZED, S.SUBMITTED, S.PARTIALLY_FILLED),
    }
    for i in range(9):
        state = list(paths)[i % 3]
        at = T0 + timedelta(seconds=i // 2)  # pairs share a created_at: ties are broken by id
        sid = f"walk-{i}"
        store.create(_record(sid, at=at))
        _walk(store, sid, *paths[state])
    store.create(_record("walk-done"))
    _walk(store, "walk-done", S.QUEUED, S.SIZED, S.SUBMITTED, S.FILLED)

    deadline = time.monotonic() + 5  # a GSI is eventually consistent
    while len(store.open_signals(limit=20)) < 9 and time.monotonic() < deadline:
        time.sleep(0.1)
    everything = store.open_signals(limit=20)
    seen: list[SignalRecord] = []
    after = None
    while True:
        page = store.open_signals(limit=2, after=after)
        seen += page
        if len(page) < 2:
            break
        after = OpenPosition.of(page[-1])

    expected = sorted(everything, key=OpenPosition.of)
    assert [r.signal_id for r in everything] == [r.signal_id for r in expected]  # already in walk order
    assert [r.signal_id for r in seen] == [r.signal_id for r in expected]  # every one once, in order
    assert len(seen) == 9 and "walk-done" not in {r.signal_id for r in seen}
    assert [r.state for r in seen[:3]] == [S.SUBMITTED] * 3 and seen[-1].state is S.PARTIALLY_FILLED
    tie = OpenPosition.of(seen[0])
    assert OpenPosition.loads(tie.dumps()) == tie


def test_a_fill_with_working_exits_is_followed_until_they_are_closed(ddb: Any) -> None:
    name = f"signals-exits-{uuid.uuid4().hex[:8]}"
    tables.signals(ddb, name)
    store = DynamoDBSignalStateStore(name, ddb_client=ddb)
    for sid in ("exits-1", "plain-1", "open-1"):
        store.create(_record(sid))
        _walk(store, sid, S.QUEUED, S.SIZED, S.SUBMITTED)
    store.advance("open-1", Step(S.OPEN))
    store.advance("plain-1", Step(S.FILLED))
    at = T0 + timedelta(hours=1)
    filled = store.advance("exits-1", Step(EXITING, execution={"exits": {"result": "accepted"}}, at=at))
    assert filled is not None and filled.watching_exits and filled.state is S.FILLED and filled.life is EXITING
    assert filled.history[-1].state is S.FILLED  # EXITING is FILLED to everyone outside the store
    late = Step(EXITING, execution={"exits": {"result": "rejected"}}, source=ORDER_MOVES)
    assert store.advance("exits-1", late) is None  # a late delivery of the same fill finds nothing to do
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "exits-1"}})["Item"]
    assert item["open_state"]["S"] == "EXITING" and TTL_ATTRIBUTE not in item  # never reaped while exits work

    deadline = time.monotonic() + 5  # a GSI is eventually consistent
    while len(store.open_signals()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r.signal_id for r in store.open_signals()] == ["open-1", "exits-1"]  # EXITING walks last
    assert store.advance("plain-1", Step(S.FILLED, source=EXIT_MOVES)) is None  # a fill without exits: nothing
    retried = store.advance("exits-1", Step(EXITING, execution=filled.execution, at=at, source=EXIT_MOVES))
    assert retried is not None and retried.life is EXITING and retried.version == filled.version + 1
    filled = retried  # one more step while the exits work: still followed

    done_at = at + timedelta(minutes=5)
    result = {"closed_by": "take_profit", "legs": {"take_profit": {"executed_qty": Decimal("0.0100")}}}
    closed = store.advance(
        "exits-1",
        Step(
            S.FILLED,
            execution={**filled.execution, "exit_result": result},
            at=done_at,
            stage="monitor",
            detail={"exit_result": result},
            source=EXIT_MOVES,
        ),
    )
    assert closed is not None and not closed.watching_exits and closed.state is S.FILLED
    assert closed.version == filled.version + 1 and closed.updated_at == done_at
    assert closed.execution["exit_result"]["legs"]["take_profit"]["executed_qty"] == "0.01"  # plain, exact
    assert [(t.state, t.stage) for t in closed.history[-2:]] == [(S.FILLED, ""), (S.FILLED, "monitor")]
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "exits-1"}})["Item"]
    assert "open_state" not in item
    assert int(item[TTL_ATTRIBUTE]["N"]) == int((done_at + timedelta(days=90)).timestamp())
    assert store.advance("exits-1", Step(S.FILLED, source=EXIT_MOVES)) is None  # closed once: a second finds nothing
    assert store.get("exits-1") == closed
