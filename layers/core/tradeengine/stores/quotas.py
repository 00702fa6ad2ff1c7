"""Quota windows (``pipeline.quotas.Windows``) in the counters table, under their own partition key.

One item per key and minute: ``pk = "quota"``, ``sk = "<key>|<window>"``, incremented with an atomic
``ADD hits :one`` that returns the new count, so concurrent Lambda instances never lose a hit. Items carry
``expires_at`` (the window's end plus a minute) for the table's TTL. /metrics never sees them: its
snapshot reads only the ``counters`` partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradeengine.pipeline.quotas import WINDOW_S, Hit, hit_for
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

PK = "quota"


class DynamoDBWindows:
    def __init__(self, table: str, *, ddb_client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ddb = ddb_client
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBWindows:
        return cls(settings.counters_table, ddb_client=ddb_client)

    def hit(self, key: str) -> Hit:
        if self._ddb is None:  # created on first use: most processes never count a quota
            self._ddb = aws.client("dynamodb")
        now = self._clock()
        window = int(now // WINDOW_S)
        answer = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": PK}, "sk": {"S": f"{key}|{window}"}},
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str((window + 2) * WINDOW_S)}},
            ReturnValues="UPDATED_NEW",
        )
        return hit_for(int(answer["Attributes"]["hits"]["N"]), now)
