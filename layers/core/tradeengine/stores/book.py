"""The strategy book in DynamoDB: a fill ledger, and one position summary per (strategy, symbol).

Implements ``tradeengine.pipeline.ports.Ledger``. Table (template.yaml declares the same): ``pk`` (S, HASH)
+ ``sk`` (S, RANGE), PAY_PER_REQUEST.

- A fill is the item ``pk = fills#<strategy>#<symbol>``, ``sk = <venue>#<trade id, 20 digits>#<order id>``,
  written with ``attribute_not_exists(pk)``: of any number of writers (execution, the monitor, a
  redelivery) exactly one records it; the others see ConditionalCheckFailed and count nothing.
- A position is the item ``pk = positions``, ``sk = <strategy>#<symbol>``: the replay of that ledger,
  written only if it replays more fills than the stored one (``fills``). Each writer queries the ledger
  (strongly consistent) after its own conditional put, so the last query sees every fill, and its
  summary is the one that stays.
Amounts are stored as plain decimal strings (never floats, never exponents).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contracts.money import plain
from tradeengine.book import BookFill, Position
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

POSITIONS = "positions"
_FILL_FIELDS = (
    "client_order_id",
    "signal_id",
    "strategy_id",
    "symbol",
    "base_asset",
    "quote_asset",
    "side",
    "commission_asset",
    "role",
    "venue",
)
_FILL_AMOUNTS = ("price", "qty", "quote_qty", "commission")


def fills_key(strategy_id: str, symbol: str) -> str:
    return f"fills#{strategy_id}#{symbol}"


def fill_item(fill: BookFill) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": fills_key(fill.strategy_id, fill.symbol)}, "sk": {"S": fill.key}}
    for name in _FILL_FIELDS:
        item[name] = {"S": str(getattr(fill, name))}
    for name in _FILL_AMOUNTS:
        item[name] = {"S": plain(getattr(fill, name))}
    if fill.commission_quote is not None:
        item["commission_quote"] = {"S": plain(fill.commission_quote)}
    item["trade_id"] = {"N": str(fill.trade_id)}
    item["order_id"] = {"N": str(fill.order_id)}
    item["time_ms"] = {"N": str(fill.time_ms)}
    return item


def fill_from_item(item: dict[str, Any]) -> BookFill:
    text: dict[str, Any] = {name: item[name]["S"] for name in _FILL_FIELDS}
    amounts: dict[str, Any] = {name: Decimal(item[name]["S"]) for name in _FILL_AMOUNTS}
    quote = item.get("commission_quote")
    return BookFill(
        **text,
        **amounts,
        commission_quote=Decimal(quote["S"]) if quote else None,
        trade_id=int(item["trade_id"]["N"]),
        order_id=int(item["order_id"]["N"]),
        time_ms=int(item["time_ms"]["N"]),
    )


_POSITION_TEXT = ("strategy_id", "symbol", "base_asset", "quote_asset")
_POSITION_AMOUNTS = ("quantity", "dust", "realized_pnl", "fees", "untracked_sold")


def position_item(position: Position) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": POSITIONS}, "sk": {"S": f"{position.strategy_id}#{position.symbol}"}}
    for name in _POSITION_TEXT:
        item[name] = {"S": getattr(position, name)}
    for name in _POSITION_AMOUNTS:
        item[name] = {"S": plain(getattr(position, name))}
    if position.average_entry_price is not None:
        item["average_entry_price"] = {"S": plain(position.average_entry_price)}
    if position.opened_ms is not None:
        item["opened_ms"] = {"N": str(position.opened_ms)}
    item["fills"] = {"N": str(position.fills)}
    item["fees_unknown"] = {"N": str(position.fees_unknown)}
    item["updated_ms"] = {"N": str(position.updated_ms)}
    return item


def position_from_item(item: dict[str, Any]) -> Position:
    avg = item.get("average_entry_price")
    opened = item.get("opened_ms")
    text: dict[str, Any] = {name: item[name]["S"] for name in _POSITION_TEXT}
    amounts: dict[str, Any] = {name: Decimal(item[name]["S"]) for name in _POSITION_AMOUNTS}
    return Position(
        **text,
        **amounts,
        average_entry_price=Decimal(avg["S"]) if avg else None,
        opened_ms=int(opened["N"]) if opened else None,
        fills=int(item["fills"]["N"]),
        fees_unknown=int(item["fees_unknown"]["N"]),
        updated_ms=int(item["updated_ms"]["N"]),
    )


class DynamoDBLedger:
    """Ledger on DynamoDB (see the module docstring for the items)."""

    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client or aws.client("dynamodb")

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBLedger:
        return cls(settings.book_table, ddb_client=ddb_client)

    def add(self, fills: Sequence[BookFill]) -> list[BookFill]:
        added = []
        for fill in fills:
            try:
                self._ddb.put_item(
                    TableName=self._table, Item=fill_item(fill), ConditionExpression="attribute_not_exists(pk)"
                )
            except Exception as exc:
                if aws.error_code(exc) == "ConditionalCheckFailedException":
                    continue  # recorded already, by this path or another
                raise
            added.append(fill)
        return added

    def fills(self, strategy_id: str, symbol: str) -> list[BookFill]:
        return [fill_from_item(i) for i in self._query(fills_key(strategy_id, symbol))]

    def save_position(self, position: Position) -> bool:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=position_item(position),
                ConditionExpression="attribute_not_exists(pk) OR fills < :n",
                ExpressionAttributeValues={":n": {"N": str(position.fills)}},
            )
        except Exception as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False  # a summary of at least as many fills is stored
            raise
        return True

    def positions(self, strategy_id: str | None = None) -> list[Position]:
        prefix = f"{strategy_id}#" if strategy_id is not None else None
        found = [position_from_item(i) for i in self._query(POSITIONS, prefix)]
        # exact: a strategy id may itself hold '#' ("a#b" shares the prefix "a#")
        return [p for p in found if strategy_id is None or p.strategy_id == strategy_id]

    def _query(self, pk: str, prefix: str | None = None) -> list[dict[str, Any]]:
        condition = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": {"S": pk}}
        if prefix:
            values[":prefix"] = {"S": prefix}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
