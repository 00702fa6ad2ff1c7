"""SQS FIFO adapters of ``SignalQueue`` (signals.fifo) and ``PlanQueue`` (orders.fifo).

Each message: MessageGroupId = symbol (one symbol's signals are handled in order; symbols in parallel),
MessageDeduplicationId = signal id, body = JSON with Decimals as plain strings (never ``1E-8``).

SQS FIFO deduplicates for 5 minutes only: a resend of the same signal id later than that is delivered
again, which is why execution is idempotent per signal id as well (docs/DESIGN.md, "One order per
signal"), not just the queue.

template.yaml declares the queues (each with its DLQ and a redrive policy); tests create them the same
way with ``tests.support.tables.create_queues``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from contracts.money import dumps
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings


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
