"""The notifier's channels in the control table, and what it has delivered in the counters table.

Channels (``tradeengine.notifications.Channel``): one item per channel, ``pk = "notify#<channel_id>"``,
beside the hooks and the trading switch: ``type``, ``strategy_id``, ``topics`` (string set), ``target``,
``secret``, ``label``, ``created_at``, ``disabled_at``. A Telegram bot token, a signing secret and a
Discord or Slack webhook URL are all secrets: the table is encrypted at rest (template.yaml's SSE), only
the notifier function and the CLI read it, and nothing ever prints them (``Channel.masked``).

Delivered (``pipeline.notify.Delivered``): ``pk = "notified"``, ``sk = "<event id>|<channel id>"``,
written after a channel took the message, expiring by TTL after a day. A message SQS delivers again (a
batch that failed on another channel, a Lambda that timed out) is sent only to the channels that have not
taken it yet; a crash between the send and this write sends that one message twice (at least once).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradeengine.notifications import Channel
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

PREFIX = "notify#"
DELIVERED_PK = "notified"
DELIVERED_TTL_S = 86_400


class DynamoDBChannels:
    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBChannels:
        return cls(settings.control_table, ddb_client=ddb_client)

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = aws.client("dynamodb")
        return self._ddb

    def get(self, channel_id: str) -> Channel | None:
        item = self.ddb.get_item(TableName=self._table, Key=_key(channel_id), ConsistentRead=True).get("Item")
        return None if item is None else _channel(item)

    def put(self, channel: Channel, *, new: bool = False) -> bool:
        extra: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"} if new else {}
        try:
            self.ddb.put_item(TableName=self._table, Item=_item(channel), **extra)
        except Exception as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete(self, channel_id: str) -> bool:
        reply = self.ddb.delete_item(TableName=self._table, Key=_key(channel_id), ReturnValues="ALL_OLD")
        return "Attributes" in reply

    def all(self) -> list[Channel]:
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": PREFIX}},
            ConsistentRead=True,
        )
        return sorted((_channel(i) for p in pages for i in p.get("Items", [])), key=lambda c: c.channel_id)

    def active(self) -> list[Channel]:
        return [c for c in self.all() if c.disabled_at is None]


def _key(channel_id: str) -> dict[str, Any]:
    return {"pk": {"S": PREFIX + channel_id}}


def _item(channel: Channel) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(channel.channel_id),
        "type": {"S": channel.type},
        "strategy_id": {"S": channel.strategy_id},
        "topics": {"SS": sorted(channel.topics)},
        "target": {"S": channel.target},
        "created_at": {"S": channel.created_at.isoformat()},
        "label": {"S": channel.label},
    }
    if channel.secret:
        item["secret"] = {"S": channel.secret}
    if channel.disabled_at is not None:
        item["disabled_at"] = {"S": channel.disabled_at.isoformat()}
    return item


def _channel(item: dict[str, Any]) -> Channel:
    disabled = item.get("disabled_at", {}).get("S")
    return Channel(
        channel_id=item["pk"]["S"].removeprefix(PREFIX),
        type=item["type"]["S"],
        strategy_id=item["strategy_id"]["S"],
        topics=frozenset(item["topics"]["SS"]),
        target=item["target"]["S"],
        secret=item.get("secret", {}).get("S", ""),
        label=item.get("label", {}).get("S", ""),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        disabled_at=datetime.fromisoformat(disabled) if disabled else None,
    )


class DynamoDBDelivered:
    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBDelivered:
        return cls(settings.counters_table, ddb_client=ddb_client)

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = aws.client("dynamodb")
        return self._ddb

    def seen(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [self._key(k) for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "sk",
                }
            }
            while request:
                reply = self.ddb.batch_get_item(RequestItems=request)
                found.update(row["sk"]["S"] for row in reply.get("Responses", {}).get(self._table, []))
                request = reply.get("UnprocessedKeys") or {}
        return found

    def mark(self, key: str) -> None:
        expires = int(time.time()) + DELIVERED_TTL_S
        self.ddb.put_item(TableName=self._table, Item={**self._key(key), "expires_at": {"N": str(expires)}})

    @staticmethod
    def _key(key: str) -> dict[str, Any]:
        return {"pk": {"S": DELIVERED_PK}, "sk": {"S": key[:1000]}}
