"""SQS FIFO adapters (MiniStack): dedup on the signal id, group by symbol, plain Decimals, DLQ redrive."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.config import Settings
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.ports import PlanQueue, SignalQueue
from tradeengine.pipeline.recorder import Recorder
from tradeengine.stores import aws, counters, signal_state
from tradeengine.stores.queues import SqsFifoQueue, signal_queue

from contracts.status import SignalState
from tests.conftest import signal_dict
from tests.support import tables
from tests.support.memory import MemoryAudit
from tests.support.tables import FifoQueues, create_queues

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sqs(ministack_endpoint: str, aws_env: None) -> Any:
    return aws.client("sqs", endpoint_url=ministack_endpoint, region="us-east-1")


@pytest.fixture
def queues(sqs: Any) -> Iterator[FifoQueues]:
    created = create_queues(sqs, f"t{uuid.uuid4().hex[:8]}", visibility_timeout=30)
    yield created
    for url in (created.signals, created.signals_dlq, created.orders, created.orders_dlq):
        sqs.delete_queue(QueueUrl=url)


def _receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def test_implement_the_ports(sqs: Any, queues: FifoQueues) -> None:
    from tests.support.ports import assert_implements

    assert_implements(SqsFifoQueue(queues.signals, sqs_client=sqs), SignalQueue)
    assert_implements(SqsFifoQueue(queues.orders, sqs_client=sqs), PlanQueue)


def test_same_signal_id_five_times_is_one_message(sqs: Any, queues: FifoQueues) -> None:
    queue = SqsFifoQueue(queues.signals, sqs_client=sqs)
    body = {"signal_id": "strategy-42-0001", "price": Decimal("0.00000100"), "qty": Decimal("1E+1")}
    ids = {queue.send("strategy-42-0001", "BTCUSDT", body) for _ in range(5)}

    messages = _receive_all(sqs, queues.signals)
    assert len(messages) == 1 and len(ids) == 1  # SQS answers a deduplicated send with the first message id
    message = messages[0]
    assert message["MessageId"] in ids
    assert message["Attributes"]["MessageGroupId"] == "BTCUSDT"
    assert message["Attributes"]["MessageDeduplicationId"] == "strategy-42-0001"
    assert '"price":"0.000001"' in message["Body"] and '"qty":"10"' in message["Body"]  # never 1E-6
    assert json.loads(message["Body"]) == {"signal_id": "strategy-42-0001", "price": "0.000001", "qty": "10"}


def test_one_symbol_keeps_its_order(sqs: Any, queues: FifoQueues) -> None:
    queue = SqsFifoQueue(queues.orders, sqs_client=sqs)
    for i in range(4):
        queue.send(f"sig-{i}", "ETHUSDT", {"n": i})

    # One message at a time, deleted after handling, as the FIFO event source mapping delivers a group.
    seen = []
    for _ in range(4):
        (message,) = sqs.receive_message(QueueUrl=queues.orders, MaxNumberOfMessages=1)["Messages"]
        seen.append(json.loads(message["Body"])["n"])
        sqs.delete_message(QueueUrl=queues.orders, ReceiptHandle=message["ReceiptHandle"])
    assert seen == [0, 1, 2, 3]


def test_queues_have_a_dlq_after_five_receives(sqs: Any, queues: FifoQueues) -> None:
    for url, dlq in ((queues.signals, queues.signals_dlq), (queues.orders, queues.orders_dlq)):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert attributes["FifoQueue"] == "true" and dlq_attributes["FifoQueue"] == "true"
        assert attributes["VisibilityTimeout"] == "30"
        assert redrive["deadLetterTargetArn"] == dlq_attributes["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == 5
        assert url.endswith("signals.fifo") or url.endswith("orders.fifo")
        assert dlq.endswith("-dlq.fifo")


def test_a_message_that_keeps_failing_lands_in_the_dlq(sqs: Any, queues: FifoQueues) -> None:
    SqsFifoQueue(queues.signals, sqs_client=sqs).send("poison-1", "BTCUSDT", {"signal_id": "poison-1"})
    receives = 0
    for _ in range(10):  # a handler that fails every time: received, never deleted, released at once
        batch = sqs.receive_message(QueueUrl=queues.signals, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        receives += 1
        for message in batch:
            sqs.change_message_visibility(
                QueueUrl=queues.signals, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    assert receives == 5
    dead = _receive_all(sqs, queues.signals_dlq)
    assert [json.loads(m["Body"]) for m in dead] == [{"signal_id": "poison-1"}]


def test_settings_must_name_the_queue_and_it_must_be_fifo() -> None:
    with pytest.raises(ValueError, match="SIGNALS_QUEUE_URL"):
        signal_queue(Settings())
    with pytest.raises(ValueError, match="FIFO"):
        SqsFifoQueue("http://127.0.0.1:1/000000000000/signals")


def test_ingest_five_times_over_dynamodb_and_sqs_queues_once(ddb: Any, sqs: Any, queues: FifoQueues) -> None:
    """The ingest use-case on the real adapters: one record, one message, four duplicates."""
    table, counters_table = f"sig-{uuid.uuid4().hex[:8]}", f"cnt-{uuid.uuid4().hex[:8]}"
    tables.signals(ddb, table)
    tables.counters(ddb, counters_table)
    store = signal_state.DynamoDBSignalStateStore(table, ddb_client=ddb)
    recorder = Recorder(
        store, MemoryAudit(), counters.DynamoDBCounters(counters_table, ddb_client=ddb), "simulation", "ingest"
    )
    queue = SqsFifoQueue(queues.signals, sqs_client=sqs)
    body = signal_dict(signal_id="strategy-42-0002", timestamp=datetime.now(UTC).isoformat())

    results = [ingest(body, source="api", recorder=recorder, queue=queue) for _ in range(5)]

    assert [r.duplicate for r in results] == [False, True, True, True, True]
    assert {r.state for r in results} == {SignalState.QUEUED}
    messages = _receive_all(sqs, queues.signals)
    assert len(messages) == 1 and json.loads(messages[0]["Body"])["signal_id"] == "strategy-42-0002"
    record = store.get("strategy-42-0002")
    assert record is not None and [t.state for t in record.history] == [SignalState.RECEIVED, SignalState.QUEUED]
    snapshot = recorder.counters.snapshot()
    assert snapshot[("tradeengine_signals_total", (("result", "duplicate"), ("source", "api")))] == 4
    assert snapshot[("tradeengine_signals_total", (("result", "queued"), ("source", "api")))] == 1
