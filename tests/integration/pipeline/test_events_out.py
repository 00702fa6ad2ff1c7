"""Execution events from the real handlers to a real SNS FIFO topic (MiniStack) and the FIFO queue subscribed
to it: a signal's steps, its fill and its position, in order, each once; with the topic unavailable the
signal still fills, and the monitor's next run publishes what the outbox kept, in order."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from tradeengine.stores import aws
from tradeengine.stores.events import create_topic, subscribe_queue

from tests.integration.pipeline.conftest import FakeContext, load_function
from tests.integration.pipeline.test_functions import drain, post, signal

pytestmark = pytest.mark.integration

STEPS = ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"]


def clients(stack: Any) -> tuple[Any, Any]:
    url = stack.env["AWS_ENDPOINT_URL"]
    return aws.client("sns", endpoint_url=url, region="us-east-1"), stack.sqs


def received(sqs: Any, url: str, want: int, timeout_s: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def trade(stack: Any, monkeypatch: pytest.MonkeyPatch, topic_arn: str, sid: str) -> dict[str, Any]:
    from tradeengine.api.tokens import mint

    monkeypatch.setenv("EXECUTION_EVENTS_TOPIC_ARN", topic_arn)
    fns = {name: load_function(name) for name in ("api", "sizing", "execution", "monitor")}
    token = mint(stack.env["JWT_SECRET_KEY"], "integration", ["signals:write", "orders:read"])
    status, _ = post(fns, token, signal(signal_id=sid))
    assert status == 202
    assert drain(fns, stack, stack.queues.signals, "sizing") == [{"batchItemFailures": []}]
    assert drain(fns, stack, stack.queues.orders, "execution") == [{"batchItemFailures": []}]
    return fns


def check(got: list[dict[str, Any]], sid: str) -> None:
    steps = [g for g in got if g["kind"] == "signal.state"]
    assert [g["event_id"] for g in steps] == [f"{sid}:{n}" for n in range(1, 6)]  # in order, each once
    assert [g["state"] for g in steps] == STEPS
    (fill,) = [g for g in got if g["kind"] == "fill"]
    (position,) = [g for g in got if g["kind"] == "position"]
    assert fill["signal_id"] == sid and isinstance(fill["detail"]["fill"]["price"], str)
    assert position["detail"]["position"]["open"] is True


def test_a_filled_signal_reaches_the_topic_in_order(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sns, sqs = clients(stack)
    run = uuid.uuid4().hex[:8]
    topic = create_topic(sns, f"ev-{run}")
    queue = subscribe_queue(sns, sqs, topic, f"ev-{run}")
    trade(stack, monkeypatch, topic, f"ev-{run}")
    got = received(sqs, queue, 7)
    got += received(sqs, queue, 1, timeout_s=2)  # nothing more: no step twice
    check(got, f"ev-{run}")


def test_with_the_topic_unavailable_trading_goes_on_and_the_monitor_catches_up(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns, sqs = clients(stack)
    run = uuid.uuid4().hex[:8]
    probe = create_topic(sns, f"probe-{run}")
    topic = probe.replace(f"probe-{run}", f"late-{run}")  # the ARN of a topic that does not exist yet
    sid = f"late-{run}"
    fns = trade(stack, monkeypatch, topic, sid)

    from tradeengine.pipeline.deps import build_deps

    deps = build_deps()
    assert deps.store.get(sid).state.value == "FILLED"  # trading unaffected
    assert deps.counters.snapshot()[("tradeengine_errors_total", (("type", "events_publish"),))] >= 1
    assert create_topic(sns, f"late-{run}") == topic  # the bus is back
    queue = subscribe_queue(sns, sqs, topic, f"late-{run}")
    report = fns["monitor"].handler({}, FakeContext())
    assert report is not None
    check(received(sqs, queue, 7) + received(sqs, queue, 1, timeout_s=2), sid)
    assert build_deps().outbox.pending(10) == {}  # type: ignore[union-attr]
