"""The execution events' adapters on AWS: the SNS FIFO topic (``EventPublisher``) and the outbox on the
control table (``EventOutbox``), both ports of ``tradeengine.pipeline.ports``.

SNS: ``PublishBatch`` of up to 10 events, ``MessageGroupId`` = the event's subject
(``executions.<strategy>.<symbol>``, so one strategy's symbol is delivered in order), ``MessageDeduplicationId``
= the event id (SNS drops a repeat within 5 minutes; the bridge's ``Nats-Msg-Id`` after that), the event's
JSON as the message, its subject and id as message attributes. The client fails fast (0.5 s to connect,
1 s to read, no retry): a publish sits after an order, never before it, and ``EventsOut``'s breaker stops a
process trying a bus that is down.

Outbox: one index item ``pk = "events_outbox"`` with the string set ``keys`` (an ``ADD`` per failed
publish, no read), and, for an entry with a body (a book event, kept whole), the item
``pk = "events_outbox#<key>"`` with ``body``, written before its key. A signal's entry needs no body: its
steps are read back from the signal-state table. The set's item is bounded by DynamoDB's 400 KB, a few
thousand entries: past that an outage's events are counted lost (``events_lost``), trading unaffected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contracts.events import ExecutionEvent

if TYPE_CHECKING:
    from tradeengine.config import Settings

BATCH = 10  # SNS PublishBatch's limit
_INDEX = {"pk": {"S": "events_outbox"}}


def dedup_id(event_id: str) -> str:
    """SNS's MessageDeduplicationId: the event id, or its SHA-256 when longer than SNS's 128 characters."""
    return event_id if len(event_id) <= 128 else hashlib.sha256(event_id.encode()).hexdigest()


def fast_client(service: str, attempts: int = 1) -> Any:
    """A client that gives up quickly (the events are caught up later; the order, the 202, must not wait):
    at worst ``attempts`` x 1.5 s, once per process per breaker period (``pipeline.events_out.BREAKER_S``)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=0.5, read_timeout=1)
    return boto3.client(service, config=config)


class SnsEventPublisher:
    def __init__(self, topic_arn: str, *, sns_client: Any = None) -> None:
        self._topic = topic_arn
        self._sns = sns_client or fast_client("sns")

    def publish(self, events: Sequence[ExecutionEvent]) -> None:
        for start in range(0, len(events), BATCH):
            chunk = events[start : start + BATCH]
            entries = [
                {
                    "Id": str(i),
                    "Message": event.wire(),
                    "MessageGroupId": event.subject()[:128],
                    "MessageDeduplicationId": dedup_id(event.event_id),
                    "MessageAttributes": {
                        "subject": {"DataType": "String", "StringValue": event.subject()},
                        "event_id": {"DataType": "String", "StringValue": event.event_id},
                    },
                }
                for i, event in enumerate(chunk)
            ]
            reply = self._sns.publish_batch(TopicArn=self._topic, PublishBatchRequestEntries=entries)
            failed = reply.get("Failed") or []
            if failed:  # the ones after a failed entry must not overtake it: the whole call counts as failed
                raise ConnectionError(f"SNS refused {len(failed)} of {len(entries)}: {failed[0].get('Code', '')}")


class DynamoDBEventOutbox:
    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client or fast_client("dynamodb", attempts=2)

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBEventOutbox:
        return cls(settings.control_table, ddb_client=ddb_client)

    def add(self, entries: Mapping[str, str]) -> None:
        if not entries:
            return
        for key, body in entries.items():
            if body:
                self._ddb.put_item(TableName=self._table, Item={**self._body_key(key), "body": {"S": body}})
        self._ddb.update_item(
            TableName=self._table,
            Key=_INDEX,
            UpdateExpression="ADD #k :keys",
            ExpressionAttributeNames={"#k": "keys"},
            ExpressionAttributeValues={":keys": {"SS": sorted(entries)}},
        )

    def pending(self, limit: int) -> dict[str, str]:
        item = self._ddb.get_item(TableName=self._table, Key=_INDEX, ConsistentRead=True).get("Item") or {}
        keys = sorted(item.get("keys", {}).get("SS", []))[: max(limit, 0)]
        out = dict.fromkeys(keys, "")
        wanted = [k for k in keys if not k.startswith("signal:")]
        for start in range(0, len(wanted), 100):
            request = {
                self._table: {"Keys": [self._body_key(k) for k in wanted[start : start + 100]], "ConsistentRead": True}
            }
            while request:
                reply = self._ddb.batch_get_item(RequestItems=request)
                for row in reply.get("Responses", {}).get(self._table, []):
                    out[row["pk"]["S"].removeprefix("events_outbox#")] = row["body"]["S"]
                request = reply.get("UnprocessedKeys") or {}
        return out

    def remove(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        self._ddb.update_item(
            TableName=self._table,
            Key=_INDEX,
            UpdateExpression="DELETE #k :keys",
            ExpressionAttributeNames={"#k": "keys"},
            ExpressionAttributeValues={":keys": {"SS": list(keys)}},
        )
        for key in keys:
            if not key.startswith("signal:"):
                self._ddb.delete_item(TableName=self._table, Key=self._body_key(key))

    @staticmethod
    def _body_key(key: str) -> dict[str, Any]:
        return {"pk": {"S": f"events_outbox#{key}"}}


def create_topic(sns: Any, name: str) -> str:
    """The FIFO topic (for the local stack and tests; template.yaml declares ExecutionEventsTopic)."""
    name = name if name.endswith(".fifo") else f"{name}.fifo"
    reply = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"})
    return str(reply["TopicArn"])


def subscribe_queue(sns: Any, sqs: Any, topic_arn: str, name: str) -> str:
    """A FIFO queue subscribed to the topic with raw delivery (the body is the event); returns its URL."""
    name = name if name.endswith(".fifo") else f"{name}.fifo"
    url = str(sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(sub.get("Endpoint") == arn for sub in subscribed):  # again (a stack brought up again): once
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url
