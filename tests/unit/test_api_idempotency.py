"""A signal_id is an idempotency key: the same signal again is a duplicate, another signal under it is a 409
(HTTP) or a dead letter with the reason (the queue path), and the first signal's record is never touched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tradeengine.pipeline.arrival import received
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.size import size_message
from tradeengine.pipeline.sqs_batch import run_record

from contracts.signal import Signal
from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps as pipeline_deps
from tests.unit.api_support import bearer, client

WRITE = bearer("signals:write", "orders:read")


def post(c: Any, body: dict[str, Any]) -> Any:
    return c.post("/trade/signal", json=body, headers=WRITE)


def conflict(response: Any, signal_id: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "signal_id_conflict" and repr(signal_id) in error["message"]
    assert error["details"] == [{"field": "signal_id", "rule": "idempotency_key_reused", "message": error["message"]}]
    return dict(error)


def test_a_reused_signal_id_with_another_content_is_a_409_naming_the_key_and_is_not_queued() -> None:
    c, deps = client()
    assert post(c, signal_dict(signal_id="strat-42")).status_code == 202
    conflict(post(c, signal_dict(signal_id="strat-42", action="sell")), "strat-42")
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]
    record = c.get("/signals/strat-42", headers=WRITE).json()
    assert record["signal"]["action"] == "buy" and [h["state"] for h in record["history"]] == ["RECEIVED", "QUEUED"]


def test_the_same_signal_written_differently_is_still_a_duplicate() -> None:
    c, deps = client()
    first = signal_dict(signal_id="strat-43", price=45000.0, timestamp="2026-11-25T12:00:00Z")
    again = signal_dict(signal_id="strat-43", price="45000.000", timestamp="2026-11-25T12:00:00+00:00",
                        action="BUY", symbol="btcusdt")  # fmt: skip
    assert post(c, first).status_code == 202
    response = post(c, again)
    assert response.status_code == 202 and response.json()["duplicate"] is True, response.text
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_a_corrected_signal_under_the_id_of_a_refused_one_is_a_409() -> None:
    c, deps = client()
    assert post(c, signal_dict(signal_id="strat-44", confidence=7)).status_code == 422
    error = conflict(post(c, signal_dict(signal_id="strat-44")), "strat-44")
    assert "refused as invalid" in error["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_a_derived_id_shared_by_two_different_signals_is_a_409_that_says_so() -> None:
    c, deps = client()
    first = post(c, signal_dict(confidence=0.7)).json()
    error = conflict(post(c, signal_dict(confidence=0.9)), first["signal_id"])  # confidence is not in the derived id
    assert "given by its content" in error["message"]
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_another_strategy_cannot_take_over_a_signal_id_and_learns_nothing_of_it() -> None:
    c, deps = client()
    assert post(c, signal_dict(signal_id="shared-1", strategy_id="alpha_secret")).status_code == 202
    response = post(c, signal_dict(signal_id="shared-1", strategy_id="beta"))
    conflict(response, "shared-1")
    assert "alpha_secret" not in response.text
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_a_record_left_received_is_not_queued_with_another_content() -> None:
    c, deps = client()
    now = datetime.now(UTC)
    first = Signal.model_validate(signal_dict(signal_id="crash-1"))
    deps.store.create(received("crash-1", "api", now, {}, first))  # the process died before queueing it
    conflict(post(c, signal_dict(signal_id="crash-1", action="sell")), "crash-1")
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    assert post(c, signal_dict(signal_id="crash-1")).status_code == 202  # the real retry finishes the job
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_the_queue_path_dead_letters_another_signal_under_a_recorded_id_and_trades_the_first() -> None:
    deps = pipeline_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "0"})
    now = datetime.now(UTC).isoformat()
    result = ingest(signal_dict(signal_id="nats-1", timestamp=now), source="api", recorder=deps.recorder("ingest"),
                    queue=deps.signals)  # fmt: skip
    assert result.accepted
    # The same id arrives over NATS with a sell (the bridge does not read the state table): sizing sees it first.
    other = Signal.model_validate(signal_dict(signal_id="nats-1", action="sell", timestamp=now))
    text = json.dumps({"signal_id": "nats-1", "source": "nats", "signal": other.model_dump(mode="json")})
    run_record(text, lambda body: size_message(body, deps), deps.dead_letters)
    body, why = deps.dead_letters.messages[-1]
    assert body == text and "'nats-1'" in why and "already used" in why
    assert deps.store.get("nats-1").state is SignalState.QUEUED  # the first signal's record is untouched
    for queued in deps.signals.drain():
        size_message(queued, deps)
    record = deps.store.get("nats-1")
    assert record.state is SignalState.SIZED and record.plan["order"]["side"] == "BUY"
