"""The paper book in DynamoDB: one item per book, written only if its ``version`` is the one read.

Implements ``tradeengine.exchange.paper_store.PaperBookStore``. The state is stored as JSON text
(``Decimal`` written as plain strings, so nothing is ever a float); above 64 KB it is zlib-compressed
into a binary attribute, keeping a busy book well under DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import TYPE_CHECKING, Any

from contracts.money import dumps
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

_COMPRESS_ABOVE = 64 * 1024
_ITEM_LIMIT = 390 * 1024  # DynamoDB's 400 KB, less room for the key and attribute names


class PaperBookTooLarge(RuntimeError):
    pass


class DynamoDBPaperBookStore:
    """PaperBookStore on DynamoDB; ``book_id`` separates books (per venue, per test, per account)."""

    def __init__(self, table: str, book_id: str = "default", *, ddb_client: Any = None) -> None:
        self._table = table
        self._key = {"pk": {"S": f"paper-book#{book_id}"}}
        self._ddb = ddb_client or aws.client("dynamodb")

    @classmethod
    def from_settings(
        cls, settings: Settings, book_id: str = "default", ddb_client: Any = None
    ) -> DynamoDBPaperBookStore:
        return cls(settings.paper_book_table, book_id, ddb_client=ddb_client)

    def load(self) -> tuple[dict[str, Any], int]:
        item = self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")
        if item is None:
            return {}, 0
        text = zlib.decompress(item["state_z"]["B"]).decode("utf-8") if "state_z" in item else item["state"]["S"]
        state: dict[str, Any] = json.loads(text)
        return state, int(item["version"]["N"])

    def save(self, state: dict[str, Any], version: int) -> bool:
        text = dumps(state)
        item: dict[str, Any] = {
            **self._key,
            "version": {"N": str(version + 1)},
            "saved_at": {"N": str(int(time.time()))},
        }
        if len(text) > _COMPRESS_ABOVE:
            blob = zlib.compress(text.encode("utf-8"), 6)
            if len(blob) > _ITEM_LIMIT:
                raise PaperBookTooLarge(f"paper book is {len(blob)} bytes compressed; archive old orders and fills")
            item["state_z"] = {"B": blob}
        else:
            item["state"] = {"S": text}
        if version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(version)}},
            }
        try:
            self._ddb.put_item(TableName=self._table, Item=item, **condition)
        except Exception as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
