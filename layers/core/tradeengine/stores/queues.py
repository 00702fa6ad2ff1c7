"""SQS FIFO adapters of ``SignalQueue`` (signals.fifo) and ``PlanQueue`` (orders.fifo).

Each message: MessageGroupId = symbol (one symbol's signals are handled in order; symbols in parallel),
MessageDeduplicationId = signal id, body = JSON with Decimals as plain strings (never ``1E-8``).

SQS FIFO deduplicates for 5 minutes only: a resend of the same signal id later than that is delivered
again, which is why execution is idempotent per signal id as well (docs/DESIGN.md, "One order per
signal"), not just the queue.

``create_queues`` builds the queues the way template.yaml declares them (for the local stack and
tests): each main queue with its DLQ (``*-dlq.fifo``, 14 days' retention) and a redrive policy after
``max_receive_count`` receives. The visibility timeout must exceed the consuming function's timeout
(AWS recommends six times it for Lambda event sources), or a slow batch is delivered twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts.money import dumps
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to look at what failed


def message_body(body: Mapping[str, Any]) -> str:
    """The message text: compact JSON, Decimal as plain strings."""
    return dumps(dict(body))


class SqsFifoQueue:
    """One FIFO queue; serves as SignalQueue or PlanQueue (same shape, different URL)."""

    def __init__(self, queue_url: str, *, sqs_client: Any = None) -> None:
        if not queue_url.endswith(".fifo"):
            raise ValueError(f"not a FIFO queue URL: {queue_url}")
        self._url = queue_url
        self._sqs = sqs_client or aws.client("sqs")

    @property
    def url(self) -> str:
        return self._url

    def send(self, signal_id: str, symbol: str, body: Mapping[str, Any]) -> str:
        response = self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message_body(body),
            MessageGroupId=symbol,
            MessageDeduplicationId=signal_id,
        )
        return str(response["MessageId"])


class SqsDeadLetters:
    """An unreadable message, sent to its queue's DLQ with the reason as a message attribute."""

    def __init__(self, queue_url: str, *, sqs_client: Any = None) -> None:
        self._url = queue_url
        self._sqs = sqs_client or aws.client("sqs")

    def send(self, body: str, reason: str) -> None:
        kwargs: dict[str, Any] = {}
        if self._url.endswith(".fifo"):
            digest = hashlib.sha256(f"{reason}\n{body}".encode()).hexdigest()
            kwargs = {"MessageGroupId": "unreadable", "MessageDeduplicationId": digest}
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=body or "(empty)",
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000] or "unreadable"}},
            **kwargs,
        )


def signal_queue(settings: Settings, sqs_client: Any = None) -> SqsFifoQueue:
    if not settings.signals_queue_url:
        raise ValueError("SIGNALS_QUEUE_URL is not set")
    return SqsFifoQueue(settings.signals_queue_url, sqs_client=sqs_client)


def plan_queue(settings: Settings, sqs_client: Any = None) -> SqsFifoQueue:
    if not settings.orders_queue_url:
        raise ValueError("ORDERS_QUEUE_URL is not set")
    return SqsFifoQueue(settings.orders_queue_url, sqs_client=sqs_client)


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
    """signals.fifo and orders.fifo with their DLQs; ``prefix`` (e.g. a stack or test name) is joined
    with a dash: ``prefix-signals.fifo``. Idempotent: same names and attributes give the same URLs."""
    stem = f"{prefix}-" if prefix else ""
    signals, signals_dlq = _create_pair(sqs, f"{stem}signals", visibility_timeout, max_receive_count)
    orders, orders_dlq = _create_pair(sqs, f"{stem}orders", visibility_timeout, max_receive_count)
    return FifoQueues(signals, signals_dlq, orders, orders_dlq)
