"""The operator's trading switch (ACTIVE / REDUCING / HALTED) in DynamoDB, read by every sizing call.

Implements ``tradeengine.pipeline.ports.TradingStateStore``. Table (template.yaml declares the same):
``pk`` (S, HASH), PAY_PER_REQUEST; the switch is the item ``pk = "trading_state"`` with ``state``,
``set_by``, ``reason`` and ``set_at`` (ISO-8601 UTC), so GET /trading/state can say who halted trading,
when and why. Reads are strongly consistent: a HALT is obeyed by the very next signal, whichever Lambda
instance sizes it. With no item, the configured default applies (``Settings.trading_state``, ACTIVE).

The same table keeps ``Cursors`` (``pipeline.ports``): ``pk = "cursor#<name>"`` with a ``value``; the
monitor keeps its place there (``cursor#monitor``), so each scheduled run goes on where the last stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tradeengine.pipeline.ports import TradingStateInfo
from tradeengine.risk import TradingState
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

_KEY = {"pk": {"S": "trading_state"}}


class DynamoDBTradingState:
    """TradingStateStore on DynamoDB (see the module docstring for the table)."""

    def __init__(
        self,
        table: str,
        *,
        default: TradingState = TradingState.ACTIVE,
        ddb_client: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._table = table
        self._default = default
        self._ddb = ddb_client or aws.client("dynamodb")
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBTradingState:
        return cls(settings.control_table, default=settings.trading_state, ddb_client=ddb_client)

    def describe(self) -> TradingStateInfo:
        item = self._ddb.get_item(TableName=self._table, Key=_KEY, ConsistentRead=True).get("Item")
        if item is None:
            return TradingStateInfo(self._default)
        return TradingStateInfo(
            state=TradingState(item["state"]["S"]),
            set_by=str(item.get("set_by", {}).get("S", "")),
            reason=str(item.get("reason", {}).get("S", "")),
            set_at=datetime.fromisoformat(item["set_at"]["S"]) if "set_at" in item else None,
        )

    def get(self) -> TradingState:
        return self.describe().state

    def set(self, state: TradingState, by: str = "", reason: str = "") -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **_KEY,
                "state": {"S": TradingState(state).value},
                "set_by": {"S": by},
                "reason": {"S": reason},
                "set_at": {"S": self._clock().astimezone(UTC).isoformat()},
            },
        )


class DynamoDBCursors:
    """Cursors on the control table: one item per name, ``pk = "cursor#<name>"``, attribute ``value``."""

    def __init__(self, table: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._ddb = ddb_client or aws.client("dynamodb")

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBCursors:
        return cls(settings.control_table, ddb_client=ddb_client)

    def get(self, name: str) -> str | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(name), ConsistentRead=True).get("Item")
        return None if item is None else str(item["value"]["S"])

    def set(self, name: str, value: str | None) -> None:
        if value is None:
            self._ddb.delete_item(TableName=self._table, Key=self._key(name))
        else:
            self._ddb.put_item(TableName=self._table, Item={**self._key(name), "value": {"S": value}})

    @staticmethod
    def _key(name: str) -> dict[str, Any]:
        return {"pk": {"S": f"cursor#{name}"}}
