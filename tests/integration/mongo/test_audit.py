"""The MongoDB audit sink against a real MongoDB wire server (SecantusDB): no mocks of pymongo."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from tradeengine.config import Settings
from tradeengine.pipeline.ports import SignalRecord, Step
from tradeengine.pipeline.recorder import Recorder
from tradeengine.stores.audit import MongoAuditSink

from contracts.status import AuditEvent, SignalState
from tests.integration.mongo.conftest import MongoServer, free_port
from tests.support.memory import MemoryCounters, MemorySignalStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
HISTORY = [
    (SignalState.RECEIVED, "ingest", {}),
    (SignalState.QUEUED, "ingest", {"message_id": "m-1"}),
    (SignalState.SIZED, "sizing", {"quantity": Decimal("0.00012"), "price": Decimal("45000.10")}),
    (SignalState.SUBMITTED, "execution", {"client_order_id": "pte-abc", "request": {"type": "MARKET"}}),
]


def history(signal_id: str, upto: int = len(HISTORY)) -> list[AuditEvent]:
    return [
        AuditEvent(
            signal_id=signal_id,
            seq=seq,
            stage=stage,
            state=state,
            at=T0 + timedelta(seconds=seq),
            mode="simulation",
            detail=detail,
            latency_ms=1.5 * seq,
        )
        for seq, (state, stage, detail) in enumerate(HISTORY[:upto], start=1)
    ]


def test_records_and_reads_back_in_seq_order(mongo_url: str, database_name: str) -> None:
    sink = MongoAuditSink(mongo_url, database=database_name)
    events = history("sig-order")
    sink.record(list(reversed(events)))
    sink.record(history("sig-other", 2))

    assert list(sink.events("sig-order")) == events  # equal field by field, `at` to the microsecond
    assert [e.seq for e in sink.events("sig-other")] == [1, 2]
    assert list(sink.events("sig-unknown")) == []


def test_rewriting_the_history_adds_only_missing_steps(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    sink = MongoAuditSink(mongo_url, database=database_name)
    sink.record(history("sig-dup", 2))
    sink.record(history("sig-dup", 2))
    sink.record(history("sig-dup"))  # the recorder writes the whole history every time

    raw = mongo_client[database_name]["audit_events"]
    assert raw.count_documents({"signal_id": "sig-dup"}) == len(HISTORY)
    # a stored step is never rewritten, even when a later write carries different content for it
    altered = history("sig-dup", 1)[0].model_copy(update={"stage": "tampered"})
    sink.record([altered])
    assert sink.events("sig-dup")[0].stage == "ingest"


def test_concurrent_writers_of_one_history_leave_one_copy(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    sink = MongoAuditSink(mongo_url, database=database_name)
    sink.ensure_indexes()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            sink.record(history("sig-race"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert mongo_client[database_name]["audit_events"].count_documents({"signal_id": "sig-race"}) == len(HISTORY)


def test_decimals_are_stored_as_decimal128_and_come_back_exact(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    sink = MongoAuditSink(mongo_url, database=database_name)
    detail = {
        "price": Decimal("45000.10"),  # trailing zero kept: same exponent, not just the same value
        "quantity": Decimal("0.00000001"),
        "fills": [{"price": Decimal("0.1"), "commission": Decimal("0.000012345678901234567890123456789")}],
        "too_precise": Decimal("1." + "1" * 40),  # beyond Decimal128's 34 digits: kept as text, every digit
        "state": SignalState.FILLED,
    }
    event = AuditEvent(
        signal_id="sig-dec", seq=1, stage="execution", state=SignalState.FILLED, at=T0, mode="simulation", detail=detail
    )
    sink.record([event])

    raw = mongo_client[database_name]["audit_events"].find_one({"signal_id": "sig-dec"})
    assert raw is not None
    assert raw["detail"]["price"] == Decimal128("45000.10")
    assert isinstance(raw["detail"]["fills"][0]["commission"], Decimal128)
    assert raw["at"] == T0.replace(microsecond=123000)  # BSON date (TTL / range queries), ms precision

    back = sink.events("sig-dec")[0].detail
    assert str(back["price"]) == "45000.10"
    assert back["quantity"] == Decimal("0.00000001")
    assert back["fills"][0]["commission"] == Decimal("0.000012345678901234567890123456789")
    assert back["too_precise"] == "1." + "1" * 40
    assert back["state"] == "FILLED"
    assert Decimal("0.1") + Decimal("0.2") == back["fills"][0]["price"] + Decimal("0.2")


def test_indexes_exist_and_unique_per_signal_step(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    MongoAuditSink(mongo_url, database=database_name).record(history("sig-ix", 1))

    indexes = {ix["name"]: ix for ix in mongo_client[database_name]["audit_events"].list_indexes()}
    assert dict(indexes["signal_id_1_seq_1"]["key"]) == {"signal_id": 1, "seq": 1}
    assert indexes["signal_id_1_seq_1"]["unique"] is True
    assert dict(indexes["signal_id_1_at_1"]["key"]) == {"signal_id": 1, "at": 1}
    assert dict(indexes["at_1"]["key"]) == {"at": 1}
    assert "expireAfterSeconds" not in indexes["at_1"]  # no retention configured: kept forever


def test_retention_is_a_ttl_index_that_follows_the_setting(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    raw = mongo_client[database_name]["audit_events"]

    def at_index() -> dict[str, Any]:
        return next(ix for ix in raw.list_indexes() if ix["name"] == "at_1")

    MongoAuditSink(mongo_url, database=database_name, retention_days=7).record(history("sig-ttl", 1))
    assert at_index()["expireAfterSeconds"] == 7 * 86_400

    MongoAuditSink(mongo_url, database=database_name, retention_days=30).ensure_indexes()
    assert at_index()["expireAfterSeconds"] == 30 * 86_400

    MongoAuditSink(mongo_url, database=database_name).ensure_indexes()  # retention switched off
    assert "expireAfterSeconds" not in at_index()
    assert raw.count_documents({}) == 1


def test_retention_reaps_events_older_than_the_ttl(
    mongo_server_factory: Callable[..., MongoServer], database_name: str
) -> None:
    server = mongo_server_factory(ttl_sweep_seconds=0.5)
    sink = MongoAuditSink(server.url, database=database_name, retention_days=1)
    now = datetime.now(UTC)
    old, fresh = (
        AuditEvent(signal_id=sid, seq=1, stage="ingest", state=SignalState.RECEIVED, at=at, mode="simulation")
        for sid, at in (("sig-old", now - timedelta(days=3)), ("sig-fresh", now))
    )
    sink.record([old, fresh])

    deadline = time.monotonic() + 10  # this server sweeps TTL indexes twice a second
    while sink.events("sig-old") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(sink.events("sig-old")) == []
    assert [e.signal_id for e in sink.events("sig-fresh")] == ["sig-fresh"]


def test_from_settings_uses_database_collection_and_retention(
    mongo_url: str, database_name: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    settings = Settings(
        mongodb_url=mongo_url, mongodb_database=database_name, audit_collection="trail", audit_retention_days=3
    )
    MongoAuditSink.from_settings(settings).record(history("sig-cfg", 1))
    col = mongo_client[database_name]["trail"]
    assert col.count_documents({"signal_id": "sig-cfg"}) == 1
    assert next(ix for ix in col.list_indexes() if ix["name"] == "at_1")["expireAfterSeconds"] == 3 * 86_400


def test_unreachable_store_raises_within_seconds_and_hides_credentials(database_name: str) -> None:
    url = f"mongodb://auditor:s3cr3t-pw@127.0.0.1:{free_port()}/?authSource=admin"  # nothing listens there
    sink = MongoAuditSink(url, database=database_name)
    assert "s3cr3t-pw" not in repr(sink)

    started = time.monotonic()
    with pytest.raises(PyMongoError) as caught:
        sink.record(history("sig-down", 1))
    assert time.monotonic() - started < 6  # not pymongo's default 30 s
    assert "s3cr3t-pw" not in str(caught.value)


def test_server_stopping_mid_life_makes_the_recorder_count_and_retry(
    mongo_server_factory: Callable[..., MongoServer], database_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = mongo_server_factory()
    sink = MongoAuditSink(server.url, database=database_name)
    store, counters = MemorySignalStore(), MemoryCounters()
    recorder = Recorder(store=store, audit=sink, counters=counters, mode="simulation", stage="ingest")
    now = datetime.now(UTC)
    recorder.create(SignalRecord("sig-life", SignalState.RECEIVED, 0, "BTCUSDT", "s1", now, now))
    recorder.flush()
    assert [e.state for e in sink.events("sig-life")] == [SignalState.RECEIVED]

    server.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        recorder.advance("sig-life", Step(SignalState.QUEUED))
        recorder.flush()
    assert time.monotonic() - started < 8
    assert recorder.audit_failed  # the state moved on; the audit backlog is retried with the message
    assert counters.snapshot()[("tradeengine_errors_total", (("type", "audit_write"),))] == 1
    assert store.get("sig-life").state is SignalState.QUEUED  # type: ignore[union-attr]
