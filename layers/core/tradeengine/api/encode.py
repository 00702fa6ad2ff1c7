"""JSON for responses: Decimal as a plain string (never a float, never ``1e-05``), times as ISO-8601.

FastAPI's ``jsonable_encoder`` turns Decimal into float, which is wrong for money; records read back
from DynamoDB hold Decimals anywhere, so every response body passes through ``jsonable`` instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from contracts.execution import Execution
from contracts.money import plain
from tradeengine.exchange.base import Balance, ExchangeOrder
from tradeengine.pipeline.ports import SignalRecord


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return plain(value) if value.is_finite() else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def order_json(order: ExchangeOrder) -> dict[str, Any]:
    body: dict[str, Any] = jsonable(order)
    body["average_price"] = jsonable(order.average_price)
    return body


def balance_json(balance: Balance) -> dict[str, Any]:
    return {"asset": balance.asset, "free": plain(balance.free), "locked": plain(balance.locked)}


def _protection(record: SignalRecord) -> str | None:
    protection = Execution.read(record.execution).protection
    return protection.value if protection is not None else None


def record_json(record: SignalRecord) -> dict[str, Any]:
    """A signal's state and its whole history, as ``GET /signals/{id}`` answers."""
    return {
        "signal_id": record.signal_id,
        "state": record.state.value,
        "terminal": record.terminal,
        "exits_working": record.watching_exits,  # FILLED, and its stop-loss / take-profit are still working
        # protected | pending | flattened | unprotected (tradeengine.pipeline.protection); None: no exits asked
        "protection": _protection(record),
        "code": record.code,
        "reason": record.reason,
        "symbol": record.symbol,
        "strategy_id": record.strategy_id,
        "source": record.source,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "version": record.version,
        "signal": jsonable(record.signal),
        "plan": jsonable(record.plan),
        "execution": jsonable(record.execution),
        "history": [
            {
                "state": step.state.value,
                "at": step.at.isoformat(),
                "stage": step.stage,
                "code": step.code,
                "reason": step.reason,
                "detail": jsonable(step.detail),
                "took_ms": step.took_ms,
            }
            for step in record.history
        ],
    }
