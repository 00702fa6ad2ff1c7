"""The bridge relays execution events: SNS FIFO topic → subscribed SQS FIFO queue (MiniStack) → JetStream
subjects <prefix>.<strategy>.<symbol> (nats-server), in order, with Nats-Msg-Id = the event id, so a copy
that reaches the queue again (past SNS's dedup window) is not stored twice; an unreadable one is dropped."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import nats
import pytest
from tradeengine.stores import aws
from tradeengine.stores.events import SnsEventPublisher, create_topic, subscribe_queue

from tests.support.events import state_event as event

pytestmark = pytest.mark.integration


async def collect(
    url: str, subject: str, stream: str, want: int, timeout_s: float, started: asyncio.Event
) -> list[Any]:
    """A JetStream subscriber (an ordered consumer on the stream): it sees what the stream stored, so a copy
    JetStream dropped by its Nats-Msg-Id never reaches it (a core-NATS subscriber would see every publish)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while True:  # the bridge creates the stream as it starts
        try:
            await js.stream_info(stream)
            break
        except nats.js.errors.NotFoundError:
            assert time.monotonic() < deadline, f"no stream {stream}"
            await asyncio.sleep(0.1)
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True)
    started.set()
    try:
        while len(got) < want and time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=max(0.1, deadline - time.monotonic()))
            except nats.errors.TimeoutError:
                break
            got.append((msg.subject, json.loads(msg.data)))
    finally:
        await nc.close()
    return got


async def stored(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


def test_the_bridge_relays_a_signals_events_in_order_once_each(
    start_bridge: Any, nats_url: str, ministack_endpoint: str, sqs: Any
) -> None:
    sns = aws.client("sns", endpoint_url=ministack_endpoint, region="us-east-1")
    tag = uuid.uuid4().hex[:8]
    topic = create_topic(sns, f"ev-{tag}")
    queue = subscribe_queue(sns, sqs, topic, f"ev-{tag}")
    prefix, stream = f"x{tag}", f"X{tag}"
    bridge = start_bridge(
        BRIDGE_EXECUTIONS_QUEUE_URL=queue, NATS_EXECUTIONS_STREAM=stream, NATS_EXECUTIONS_PREFIX=prefix
    )
    bridge.wait_status("/readyz", 200)
    sid = f"s-{tag}"
    events = [event(sid, n, "BTCUSDT") for n in range(1, 13)] + [event(f"e-{tag}", 1, "ETHUSDT")]

    async def run() -> list[Any]:
        started = asyncio.Event()
        task = asyncio.create_task(collect(nats_url, f"{prefix}.>", stream, 14, 8, started))
        await started.wait()
        await asyncio.to_thread(SnsEventPublisher(topic, sns_client=sns).publish, events)
        # the same event reaching the queue again after SNS's dedup window: JetStream drops it by Nats-Msg-Id
        await asyncio.to_thread(
            sqs.send_message,
            QueueUrl=queue,
            MessageBody=events[2].wire(),
            MessageGroupId="again",
            MessageDeduplicationId=f"again-{tag}",
        )
        await asyncio.to_thread(
            sqs.send_message,
            QueueUrl=queue,
            MessageBody='{"not": "an event"}',
            MessageGroupId="bad",
            MessageDeduplicationId=f"bad-{tag}",
        )
        return await task

    got = asyncio.run(run())
    btc = [body["event_id"] for subject, body in got if subject == f"{prefix}.momentum_v1.BTCUSDT"]
    assert btc == [f"{sid}:{n}" for n in range(1, 13)]  # in order, each once (the copy was not re-delivered)
    assert [s for s, _ in got if s.endswith("ETHUSDT")] == [f"{prefix}.momentum_v1.ETHUSDT"]
    assert got[0][1]["detail"]["price"] == "45000.10" and len(got) == 13
    assert asyncio.run(stored(nats_url, stream)) == 13
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the copy and the unreadable one are deleted from the queue too
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
        left = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        if left == 0:
            break
        time.sleep(0.3)
    assert left == 0, bridge.log()
    _, metrics = bridge.probe("/metrics")
    assert "tradeengine_bridge_executions_unreadable_total 1.0" in str(metrics)
