"""Webhook hooks in the control table, and wrong passphrases per source address in the counters table.

Hooks (``tradeengine.hooks.HookStore``): one item per hook, ``pk = "hook#<hook_id>"`` beside the trading
switch and the cursors, with ``strategy_id``, ``secret_hash`` (SHA-256 hex, never the secret),
``previous_hash`` / ``previous_until`` while a rotation lasts, ``defaults`` (JSON), ``created_at``,
``revoked_at`` and ``label``. Reads are strongly consistent: a revoke or a rotation holds for the very
next alert, whichever Lambda instance answers it.

Failures (``tradeengine.hooks.AuthFailures``): the quota windows' partition of the counters table
(``pk = "quota"``, ``sk = "webhook-auth:<address>|<minute>"``), an atomic ``ADD``, expiring by TTL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradeengine.hooks import Hook, HookDefaults
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

PREFIX = "hook#"
WINDOW_S = 60


def _key(hook_id: str) -> dict[str, Any]:
    return {"pk": {"S": PREFIX + hook_id}}


class DynamoDBHookStore:
    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBHookStore:
        return cls(settings.control_table, ddb_client=ddb_client)

    @property
    def ddb(self) -> Any:
        if self._ddb is None:  # created on first use: most requests to the API never read a hook
            self._ddb = aws.client("dynamodb")
        return self._ddb

    def get(self, hook_id: str) -> Hook | None:
        item = self.ddb.get_item(TableName=self._table, Key=_key(hook_id), ConsistentRead=True).get("Item")
        return None if item is None else _hook(item)

    def put(self, hook: Hook, *, new: bool = False) -> bool:
        extra: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"} if new else {}
        try:
            self.ddb.put_item(TableName=self._table, Item=_item(hook), **extra)
        except Exception as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list(self) -> Iterator[Hook]:
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": PREFIX}},
            ConsistentRead=True,
        )
        hooks = [_hook(item) for page in pages for item in page.get("Items", [])]
        return iter(sorted(hooks, key=lambda h: h.hook_id))


def _item(hook: Hook) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(hook.hook_id),
        "strategy_id": {"S": hook.strategy_id},
        "secret_hash": {"S": hook.secret_hash},
        "created_at": {"S": hook.created_at.isoformat()},
        "defaults": {"S": json.dumps(hook.defaults.as_json(), sort_keys=True)},
        "label": {"S": hook.label},
    }
    if hook.previous_hash and hook.previous_until:
        item["previous_hash"] = {"S": hook.previous_hash}
        item["previous_until"] = {"S": hook.previous_until.isoformat()}
    if hook.revoked_at is not None:
        item["revoked_at"] = {"S": hook.revoked_at.isoformat()}
    return item


def _when(item: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(item[name]["S"]) if name in item else None


def _hook(item: dict[str, Any]) -> Hook:
    return Hook(
        hook_id=item["pk"]["S"].removeprefix(PREFIX),
        strategy_id=item["strategy_id"]["S"],
        secret_hash=item["secret_hash"]["S"],
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        defaults=HookDefaults.from_json(json.loads(item.get("defaults", {}).get("S", "{}"))),
        previous_hash=item.get("previous_hash", {}).get("S"),
        previous_until=_when(item, "previous_until"),
        revoked_at=_when(item, "revoked_at"),
        label=item.get("label", {}).get("S", ""),
    )


class DynamoDBAuthFailures:
    def __init__(self, table: str, *, ddb_client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ddb = ddb_client
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBAuthFailures:
        return cls(settings.counters_table, ddb_client=ddb_client)

    def _key(self, source: str) -> tuple[dict[str, Any], int]:
        window = int(self._clock() // WINDOW_S)
        return {"pk": {"S": "quota"}, "sk": {"S": f"webhook-auth:{source}|{window}"}}, window

    def count(self, source: str) -> int:
        if self._ddb is None:
            self._ddb = aws.client("dynamodb")
        key, _ = self._key(source)
        item = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return int(item["hits"]["N"]) if item and "hits" in item else 0

    def add(self, source: str) -> int:
        if self._ddb is None:
            self._ddb = aws.client("dynamodb")
        key, window = self._key(source)
        answer = self._ddb.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str((window + 2) * WINDOW_S)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["hits"]["N"])
