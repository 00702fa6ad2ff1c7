"""The execution events' AWS adapters against MiniStack: the SNS FIFO topic delivers to a subscribed FIFO
queue in publish order, once per event id, the event's JSON as the body; the outbox on the control table
keeps keys and bodies and forgets what is removed; a bus that is down fails fast."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from tradeengine.pipeline.ports import EventOutbox, EventPublisher
from tradeengine.stores import aws
from tradeengine.stores.events import DynamoDBEventOutbox, SnsEventPublisher, create_topic, subscribe_queue

from tests.support import tables
from tests.support.events import state_event as event
from tests.support.ports import assert_implements

pytestmark = pytest.mark.integration


@pytest.fixture
def bus(ministack_endpoint: str, aws_env: None) -> tuple[Any, str, str]:
    sns = aws.client("sns", endpoint_url=ministack_endpoint, region="us-east-1")
    sqs = aws.client("sqs", endpoint_url=ministack_endpoint, region="us-east-1")
    run = uuid.uuid4().hex[:8]
    topic = create_topic(sns, f"events-{run}")
    return sns, topic, subscribe_queue(sns, sqs, topic, f"events-{run}")


def received(sqs: Any, url: str, want: int, timeout_s: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in reply.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_the_topic_delivers_in_order_and_once(bus: tuple[Any, str, str], ministack_endpoint: str) -> None:
    sns, topic, url = bus
    sqs = aws.client("sqs", endpoint_url=ministack_endpoint, region="us-east-1")
    publisher = SnsEventPublisher(topic, sns_client=sns)
    assert_implements(publisher, EventPublisher)
    sid = f"s-{uuid.uuid4().hex[:6]}"
    events = [event(sid, n) for n in range(1, 13)]  # more than one PublishBatch of 10
    publisher.publish(events)
    publisher.publish(events[3:6])  # a republish (a heal, a drain): dropped by the dedup id
    got = received(sqs, url, 12)
    time.sleep(1)
    got += received(sqs, url, 1, timeout_s=2)
    assert [g["event_id"] for g in got] == [e.event_id for e in events]
    assert got[0]["schema"] == "petrosa.execution.v1" and got[0]["detail"]["price"] == "45000.10"


def test_a_bus_that_is_not_there_raises_quickly(ministack_endpoint: str, aws_env: None) -> None:
    sns = aws.client("sns", endpoint_url=ministack_endpoint, region="us-east-1")
    publisher = SnsEventPublisher("arn:aws:sns:us-east-1:000000000000:missing.fifo", sns_client=sns)
    with pytest.raises(Exception):  # noqa: B017 (botocore's NotFound; EventsOut catches anything)
        publisher.publish([event("s", 1)])
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        dead = SnsEventPublisher("arn:aws:sns:us-east-1:000000000000:x.fifo")  # the fast client; nothing listens
        with pytest.raises(Exception):  # noqa: B017
            dead.publish([event("s", 1)])
    assert time.monotonic() - started < 3  # 0.5 s to connect, one attempt: never the webhook's 3 s, nor a timeout


def test_the_outbox_keeps_keys_and_bodies_until_removed(ddb: Any, table_name: str) -> None:
    tables.control(ddb, table_name)
    outbox = DynamoDBEventOutbox(table_name, ddb_client=ddb)
    assert_implements(outbox, EventOutbox)
    body = event("s1", 2).wire()
    outbox.add({"signal:s1:0": ""})
    outbox.add({"event:fill:a:b:1:0": body, "signal:s1:3": ""})
    outbox.add({"signal:s1:0": ""})  # the same entry again: one entry
    assert outbox.pending(10) == {"event:fill:a:b:1:0": body, "signal:s1:0": "", "signal:s1:3": ""}
    assert len(outbox.pending(1)) == 1
    outbox.remove(["event:fill:a:b:1:0", "signal:s1:0"])
    assert outbox.pending(10) == {"signal:s1:3": ""}
    outbox.remove(["signal:s1:3"])
    assert outbox.pending(10) == {}
    item = ddb.get_item(TableName=table_name, Key={"pk": {"S": "events_outbox#event:fill:a:b:1:0"}}).get("Item")
    assert item is None  # the body went with its key
