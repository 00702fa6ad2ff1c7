"""Signal state in DynamoDB: one item per signal, moved only forward, by conditional writes.

Implements ``tradeengine.pipeline.ports.SignalStateStore`` with the semantics of the in-memory store.

Table (template.yaml declares the same):
- key: ``pk`` (S) = signal id; billing PAY_PER_REQUEST; TTL on ``expires_at`` (N, epoch seconds).
- GSI ``open-signals``: HASH ``open_state`` (S), RANGE ``created_at`` (S, ISO-8601 UTC, microseconds),
  projection ALL. ``open_state`` is written only while the monitor has something to follow: the
  signal's order may still be live at the exchange (SUBMITTED, OPEN, PARTIALLY_FILLED), or it is FILLED
  and its exit orders are working (``EXITING``); it is removed otherwise, so the index is sparse: the
  monitor reads what to follow with four small Queries, never a Scan. The GSI is eventually
  consistent; the monitor re-reads nothing from it that it does not re-check with a conditional write.

Item attributes: ``state``, ``version`` (N, 1 on create, +1 per step), ``symbol``, ``strategy_id``,
``source``, ``created_at`` / ``updated_at`` (ISO strings), ``code`` / ``reason`` (when set), ``signal`` /
``plan`` / ``execution`` (JSON text, Decimals as plain strings, so nothing ever becomes a float), and
``history``: a list of maps {state, at, stage, detail (JSON text), code?, reason?, took_ms?}, one per
transition (``took_ms``: how long its stage had been at the message when it wrote the step).

Retention: ``expires_at`` = last change + ``signal_retention_days``; it is removed while an order is
open or exits are working, so DynamoDB never reaps the record of an order the exchange may still fill.

``advance`` is one conditional UpdateItem, no read first: it writes on condition that the item's
state is one from which the move is legal (``state IN (sources of to)``, the sources derived from
``SignalState.can_become``), increments ``version`` server-side and returns the new item. DynamoDB
applies writes to one item one at a time and checks the condition against the item as it is at that
moment, so concurrent writers never overwrite each other's step: each legal move lands (with its own
version), and a move that is no longer legal fails its condition and returns None ("someone else did
it"). No retry loop, no contention error: one round trip per step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from contracts.money import dumps
from contracts.status import Life, SignalState, SubState
from tradeengine.pipeline.ports import (
    EXITING,
    OPEN_STATES,
    WALK,
    OpenPosition,
    SignalQuery,
    SignalRecord,
    Step,
    Transition,
)
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

TTL_ATTRIBUTE = "expires_at"
OPEN_INDEX = "open-signals"
OPEN_ATTRIBUTE = "open_state"
_CONFLICT = "ConditionalCheckFailedException"


def _dumps(value: Any) -> str:
    return dumps(value)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso(at: datetime) -> str:
    """UTC, fixed width (always microseconds), so the strings sort as the instants do (the GSI's range key)."""
    return _utc(at).isoformat(timespec="microseconds")


def _s(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def _transition_item(step: Transition) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "state": {"S": step.state.value},
        "at": {"S": _iso(step.at)},
        "stage": {"S": step.stage},
        "detail": {"S": _dumps(dict(step.detail))},
    }
    if step.code is not None:
        fields["code"] = {"S": step.code}
    if step.reason is not None:
        fields["reason"] = {"S": step.reason}
    if step.took_ms is not None:
        fields["took_ms"] = {"N": str(step.took_ms)}
    return {"M": fields}


def _transition(value: Mapping[str, Any]) -> Transition:
    m = value["M"]
    return Transition(
        state=SignalState(m["state"]["S"]),
        at=datetime.fromisoformat(m["at"]["S"]),
        code=_s(m, "code"),
        reason=_s(m, "reason"),
        stage=str(m.get("stage", {}).get("S", "")),
        detail=json.loads(m["detail"]["S"]) if "detail" in m else {},
        took_ms=int(m["took_ms"]["N"]) if "took_ms" in m else None,
    )


def record_from_item(item: Mapping[str, Any]) -> SignalRecord:
    """A stored item as the port's SignalRecord."""
    plan, execution = _s(item, "plan"), _s(item, "execution")
    return SignalRecord(
        signal_id=str(item["pk"]["S"]),
        state=SignalState(item["state"]["S"]),
        version=int(item["version"]["N"]),
        symbol=str(item["symbol"]["S"]),
        strategy_id=str(item["strategy_id"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        code=_s(item, "code"),
        reason=_s(item, "reason"),
        source=str(item.get("source", {}).get("S", "api")),
        signal=json.loads(item["signal"]["S"]) if "signal" in item else {},
        plan=None if plan is None else json.loads(plan),
        execution=None if execution is None else json.loads(execution),
        history=tuple(_transition(v) for v in item.get("history", {}).get("L", ())),
        watching_exits=_s(item, OPEN_ATTRIBUTE) == EXITING,
    )


class DynamoDBSignalStateStore:
    """SignalStateStore on DynamoDB (see the module docstring for the table)."""

    def __init__(self, table: str, *, retention_days: int = 90, ddb_client: Any = None) -> None:
        self._table = table
        self._retention = timedelta(days=retention_days)
        self._ddb = ddb_client or aws.client("dynamodb")

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBSignalStateStore:
        return cls(settings.signals_table, retention_days=settings.signal_retention_days, ddb_client=ddb_client)

    def _expires(self, at: datetime) -> dict[str, str]:
        return {"N": str(int((_utc(at) + self._retention).timestamp()))}

    def create(self, record: SignalRecord) -> bool:
        history = record.history or (Transition(record.state, record.created_at),)
        item: dict[str, Any] = {
            "pk": {"S": record.signal_id},
            "state": {"S": record.state.value},
            "version": {"N": str(len(history))},
            "symbol": {"S": record.symbol},
            "strategy_id": {"S": record.strategy_id},
            "source": {"S": record.source},
            "created_at": {"S": _iso(record.created_at)},
            "updated_at": {"S": _iso(record.updated_at)},
            "signal": {"S": _dumps(dict(record.signal))},
            "history": {"L": [_transition_item(step) for step in history]},
        }
        for name, text in (("code", record.code), ("reason", record.reason)):
            if text is not None:
                item[name] = {"S": text}
        for name, value in (("plan", record.plan), ("execution", record.execution)):
            if value is not None:
                item[name] = {"S": _dumps(dict(value))}
        if record.state in OPEN_STATES:
            item[OPEN_ATTRIBUTE] = {"S": record.state.value}
        else:
            item[TTL_ATTRIBUTE] = self._expires(record.updated_at)
        try:
            self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if aws.error_code(exc) == _CONFLICT:
                return False
            raise
        return True

    def forget(self, signal_id: str, version: int) -> bool:
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": signal_id}},
                ConditionExpression="#v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except Exception as exc:
            if aws.error_code(exc) == _CONFLICT:
                return False
            raise
        return True

    def get(self, signal_id: str) -> SignalRecord | None:
        item = self._get_item(signal_id)
        return None if item is None else record_from_item(item)

    def _get_item(self, signal_id: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": signal_id}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def advance(self, signal_id: str, step: Step) -> SignalRecord | None:
        sources = step.sources()
        if not sources:
            return None
        update = self._update(step, sources, step.at or datetime.now(UTC))
        try:
            response = self._ddb.update_item(
                TableName=self._table, Key={"pk": {"S": signal_id}}, ReturnValues="ALL_NEW", **update
            )
        except Exception as exc:
            if aws.error_code(exc) == _CONFLICT:  # no such signal, or its state cannot become ``to``
                return None
            raise
        return record_from_item(response["Attributes"])

    def _update(self, step: Step, sources: Sequence[Life], when: datetime) -> dict[str, Any]:
        """The UpdateItem's expressions: append the step, bump the version, on condition the move is legal.

        EXITING is stored as ``state`` FILLED with the sparse index's attribute EXITING (the monitor's group)."""
        to = step.to
        names = {"#s": "state", "#v": "version", "#u": "updated_at", "#h": "history"}
        values: dict[str, Any] = {
            ":to": {"S": to.public.value},
            ":at": {"S": _iso(when)},
            ":step": {"L": [_transition_item(step.transition(when))]},
            ":empty": {"L": []},
            ":one": {"N": "1"},
        }
        sets = ["#s = :to", "#v = #v + :one", "#u = :at", "#h = list_append(if_not_exists(#h, :empty), :step)"]
        removes: list[str] = []
        for name, text in (("code", step.code), ("reason", step.reason)):
            if text is not None:
                names[f"#{name}"], values[f":{name}"] = name, {"S": text}
                sets.append(f"#{name} = :{name}")
        for name, value in (("plan", step.plan), ("execution", step.execution)):
            if value is not None:
                names[f"#{name}"], values[f":{name}"] = name, {"S": _dumps(dict(value))}
                sets.append(f"#{name} = :{name}")
        names["#open"], names["#ttl"] = OPEN_ATTRIBUTE, TTL_ATTRIBUTE
        if to in OPEN_STATES:
            sets.append("#open = :to")
            removes.append("#ttl")
        elif to is SubState.EXITING:
            values[":exiting"] = {"S": EXITING}
            sets.append("#open = :exiting")
            removes.append("#ttl")
        else:
            values[":ttl"] = self._expires(when)
            sets.append("#ttl = :ttl")
            removes.append("#open")
        allowed_states, allowed = [], []
        for i, source in enumerate(s for s in sources if isinstance(s, SignalState)):
            values[f":from{i}"] = {"S": source.value}
            allowed_states.append(f":from{i}")
        if allowed_states:
            allowed.append(f"#s IN ({', '.join(allowed_states)})")
        if SubState.EXITING in sources:  # FILLED, its exits followed
            values[":filled"], values[":exiting"] = {"S": SignalState.FILLED.value}, {"S": EXITING}
            allowed.append("(#s = :filled AND #open = :exiting)")
        return {
            "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            "ConditionExpression": " OR ".join(allowed),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def open_signals(self, limit: int = 100, after: OpenPosition | None = None) -> Sequence[SignalRecord]:
        """At most ``limit`` signals to follow after ``after``, in ``OpenPosition`` order, from the sparse
        GSI: one Query per group, from ``after``'s ``created_at`` on (ties on it are skipped by id here)."""
        found: list[SignalRecord] = []
        for rank, group in enumerate(WALK):
            if len(found) >= limit:
                break
            if after is not None and rank < after.rank:
                continue
            start = after if after is not None and rank == after.rank else None
            condition = "#open = :state" + (" AND #created >= :from" if start else "")
            values: dict[str, Any] = {":state": {"S": group}}
            if start is not None:
                values[":from"] = {"S": _iso(start.created_at)}
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": OPEN_INDEX,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#open": OPEN_ATTRIBUTE, **({"#created": "created_at"} if start else {})},
                "ExpressionAttributeValues": values,
            }
            while len(found) < limit:
                page = self._ddb.query(**kwargs, Limit=limit - len(found) + (1 if start else 0))
                for item in page.get("Items", ()):
                    record = record_from_item(item)
                    if start is not None and (record.created_at, record.signal_id) <= (
                        start.created_at,
                        start.signal_id,
                    ):
                        continue
                    found.append(record)
                    if len(found) >= limit:
                        break
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def list_signals(self, query: SignalQuery, limit: int = 100, after: str | None = None) -> list[SignalRecord]:
        """Signals matching ``query``, at most ``limit``, after the signal id ``after`` (a Scan with a filter:
        the list view is an operator's look, paced by its page size; the pipeline never scans)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        terms = []
        for attr, value in (("strategy_id", query.strategy_id), ("symbol", query.symbol), ("state", query.state)):
            if value is not None:
                names[f"#{attr}"], values[f":{attr}"] = attr, {"S": value}
                terms.append(f"#{attr} = :{attr}")
        if query.since is not None:
            names["#created"], values[":since"] = "created_at", {"S": _iso(query.since)}
            terms.append("#created >= :since")
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        if terms:
            kwargs |= {
                "FilterExpression": " AND ".join(terms),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        if after:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": after}}
        found: list[SignalRecord] = []
        while len(found) < limit:
            page = self._ddb.scan(**kwargs)
            for item in page.get("Items", ()):
                found.append(record_from_item(item))
                if len(found) >= limit:
                    return found
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found
