"""The engine's tables and queues, created the way template.yaml declares them, for tests against a local
emulator (MiniStack). Nothing in the Lambda layer creates a table or a queue: CloudFormation does that on
AWS, and template.yaml is checked against these schemas (tests/infra/test_template.py), which are the
schemas every store's integration test runs on.

One function per table of template.yaml, named by what it holds; ``BY_LOGICAL_ID`` maps the template's
resource names to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradeengine.stores import rules_cache, signal_state

MAX_RECEIVE_COUNT = 5  # receives before a message goes to its DLQ (template.yaml's RedrivePolicy)
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to look at what failed


def create_table(
    ddb: Any, name: str, *, hash_key: str = "pk", range_key: str | None = None, ttl_attribute: str | None = None
) -> None:
    """An on-demand table with string keys."""
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    ddb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": k["AttributeName"], "AttributeType": "S"} for k in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    _ready(ddb, name, ttl_attribute)


def _ready(ddb: Any, name: str, ttl_attribute: str | None) -> None:
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    if ttl_attribute is not None:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )


def signals(ddb: Any, name: str) -> None:
    """stores.signal_state: one item per signal, and the open-signals index the monitor walks."""
    open_state, created = signal_state.OPEN_ATTRIBUTE, "created_at"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": open_state, "AttributeType": "S"},
            {"AttributeName": created, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": signal_state.OPEN_INDEX,
                "KeySchema": [
                    {"AttributeName": open_state, "KeyType": "HASH"},
                    {"AttributeName": created, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _ready(ddb, name, signal_state.TTL_ATTRIBUTE)


def book(ddb: Any, name: str) -> None:
    """stores.book: the fill ledger and the position summaries."""
    create_table(ddb, name, range_key="sk")


def counters(ddb: Any, name: str) -> None:
    """stores.counters, and on it the quota windows (stores.quotas, hence the TTL) and the venue budget."""
    create_table(ddb, name, range_key="sk", ttl_attribute="expires_at")


def control(ddb: Any, name: str) -> None:
    """stores.control: the trading switch, the monitor's cursors, the hooks and the events outbox."""
    create_table(ddb, name)


def rules(ddb: Any, name: str) -> None:
    """stores.rules_cache: one item per symbol's exchange filters."""
    create_table(ddb, name, ttl_attribute=rules_cache.TTL_ATTRIBUTE)


def paper_book(ddb: Any, name: str) -> None:
    """stores.paper_book_dynamodb: the paper exchange's orders and balances."""
    create_table(ddb, name)


def idempotency(ddb: Any, name: str) -> None:
    """The table powertools idempotency expects (pipeline.idempotency): ``id`` hash key, TTL on ``expiration``."""
    create_table(ddb, name, hash_key="id", ttl_attribute="expiration")


BY_LOGICAL_ID: dict[str, Callable[[Any, str], None]] = {
    "BookTable": book,
    "SignalsTable": signals,
    "CountersTable": counters,
    "ControlTable": control,
    "RulesTable": rules,
    "PaperBookTable": paper_book,
    "IdempotencyTable": idempotency,
}


@dataclass(frozen=True, slots=True)
class FifoQueues:
    signals: str
    signals_dlq: str
    orders: str
    orders_dlq: str


def _create_pair(sqs: Any, name: str, visibility_timeout: int, max_receive_count: int) -> tuple[str, str]:
    dlq_url = str(
        sqs.create_queue(
            QueueName=f"{name}-dlq.fifo",
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
            },
        )["QueueUrl"]
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = str(
        sqs.create_queue(
            QueueName=f"{name}.fifo",
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
                ),
            },
        )["QueueUrl"]
    )
    return url, dlq_url


def create_queues(
    sqs: Any,
    prefix: str = "",
    *,
    visibility_timeout: int = 180,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> FifoQueues:
    """signals.fifo and orders.fifo, each with its DLQ (``*-dlq.fifo``, 14 days' retention) and a redrive
    policy after ``max_receive_count`` receives; ``prefix`` (a test's name) is joined with a dash:
    ``prefix-signals.fifo``. The visibility timeout must exceed the consuming function's timeout (AWS
    recommends six times it for Lambda event sources), or a slow batch is delivered twice. Idempotent:
    same names and attributes give the same URLs."""
    stem = f"{prefix}-" if prefix else ""
    signals, signals_dlq = _create_pair(sqs, f"{stem}signals", visibility_timeout, max_receive_count)
    orders, orders_dlq = _create_pair(sqs, f"{stem}orders", visibility_timeout, max_receive_count)
    return FifoQueues(signals, signals_dlq, orders, orders_dlq)
