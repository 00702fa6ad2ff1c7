"""Execution events (contracts.events, tradeengine.events): one per step of a signal's history, per fill and
per position change, derived from what is already written, with stable ids, in order, amounts as strings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from tradeengine.events import book_events, signal_events
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.size import size_message

from contracts.events import SCHEMA, EventKind, ExecutionEvent, subject_token
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps


def traded(strategy: str = "momentum_v1") -> tuple[object, str]:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    body = signal_dict(strategy_id=strategy, timestamp=datetime.now(UTC).isoformat())
    sid = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals).signal_id
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    assert sid is not None
    return deps, sid


def test_a_filled_signal_gives_its_states_in_order_with_stable_ids() -> None:
    deps, sid = traded()
    record = deps.store.get(sid)  # type: ignore[attr-defined]
    events = signal_events(record, "simulation")
    assert [e.state for e in events] == ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.event_id for e in events] == [f"{sid}:{n}" for n in range(1, 6)]
    assert signal_events(record, "simulation") == events  # the same record, the same events: a replay is a no-op
    assert signal_events(record, "simulation", after_seq=3) == events[3:]  # a cursor picks up where it stopped
    assert {e.subject() for e in events} == {"executions.momentum_v1.BTCUSDT"}


def test_the_book_gives_a_fill_and_a_position_event_with_decimal_strings() -> None:
    deps, sid = traded()
    audit = list(deps.audit._events.values())  # type: ignore[attr-defined]
    events = book_events(audit)
    kinds = sorted(e.kind for e in events)
    assert kinds == [EventKind.FILL, EventKind.POSITION]
    fill = next(e for e in events if e.kind is EventKind.FILL)
    assert fill.signal_id == sid and fill.strategy_id == "momentum_v1" and fill.symbol == "BTCUSDT"
    assert isinstance(fill.detail["fill"]["price"], str) and fill.detail["fill"]["price"] == "45000"
    wire = json.loads(fill.wire())
    assert wire["schema"] == SCHEMA and "schema_" not in wire
    assert not any(isinstance(v, float) for v in wire["detail"]["fill"].values())


def test_subject_tokens_are_safe_for_nats() -> None:
    assert subject_token("alpha.v2 *>") == "alpha_v2___" and subject_token("") == "_"


BASE = {"event_id": "x:1", "kind": "fill", "strategy_id": "s", "symbol": "B", "seq": 1,
        "at": "2026-11-25T12:00:00Z", "mode": "simulation"}  # fmt: skip


def test_the_schema_refuses_what_it_does_not_define() -> None:
    assert ExecutionEvent.model_validate(BASE).schema_ == SCHEMA
    with pytest.raises(ValidationError):
        ExecutionEvent.model_validate({**BASE, "extra": 1})
    with pytest.raises(ValidationError):
        ExecutionEvent.model_validate({**BASE, "schema": "petrosa.execution.v2"})
