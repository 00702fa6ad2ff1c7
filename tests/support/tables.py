"""The engine's tables and queues, created for tests against a local emulator (MiniStack). Nothing in the
Lambda layer creates a table or a queue: CloudFormation does that on AWS. The tables come from their one
definition, infra/tables.py, which the CDK stack builds from and template.yaml is checked against
(tests/infra/test_template.py); so every store's integration test runs on the deployed schema.

One function per table, named by what it holds; ``BY_LOGICAL_ID`` maps the template's resource names to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.tables import BY_LOGICAL_ID as SPECS
from infra.tables import TableSpec

MAX_RECEIVE_COUNT = 5  # receives before a message goes to its DLQ (template.yaml's RedrivePolicy)
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to look at what failed


def create_table(
    ddb: Any, name: str, *, hash_key: str = "pk", range_key: str | None = None, ttl_attribute: str | None = None
) -> None:
    """An on-demand table with string keys (a test's own table, not one of the engine's)."""
    make_table(ddb, TableSpec("adhoc", "a test's table", pk=hash_key, sk=range_key, ttl=ttl_attribute), name)


def make_table(ddb: Any, spec: TableSpec, name: str) -> None:
    """``spec`` (infra/tables.py, the one definition) as table ``name``, ready, its TTL on."""
    extra: dict[str, Any] = {}
    if spec.indexes:
        extra["GlobalSecondaryIndexes"] = spec.global_secondary_indexes()
    ddb.create_table(
        TableName=name,
        KeySchema=spec.key_schema(),
        AttributeDefinitions=spec.attribute_definitions(),
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    if spec.ttl is not None:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl})


def _of(logical_id: str) -> Callable[[Any, str], None]:
    spec = SPECS[logical_id]

    def make(ddb: Any, name: str) -> None:
        make_table(ddb, spec, name)

    make.__doc__ = spec.holds
    return make


signals = _of("SignalsTable")
book = _of("BookTable")
counters = _of("CountersTable")
control = _of("ControlTable")
rules = _of("RulesTable")
paper_book = _of("PaperBookTable")

BY_LOGICAL_ID: dict[str, Callable[[Any, str], None]] = {logical_id: _of(logical_id) for logical_id in SPECS}


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
