"""The venue budget (``tradeengine.venue_budget``) and the venue's shared snapshots (``tradeengine.venue_cache``)
in the counters table, under their own partition key ``pk = "venue"``.

- ``sk = "<venue>#budget"``: one item per venue. Each window of each limit is one number attribute
  (``W1M_<minute>``, ``O10S_<10 s window>``, ``O1D_<day>``), added to by one UpdateItem whose condition
  holds every count within its share, so concurrent instances never pass a limit together. The same
  write removes the two windows before the current one; ``blocked_until`` (a 429 / 418's Retry-After)
  stops every take; ``D<window>`` ranks denials; ``limits`` holds the exchangeInfo's rateLimits.
- ``sk = "<venue>#tickers"``, ``"<venue>#avg#<symbol>"``, ``"<venue>#balances"``: JSON ``data`` with
  ``fetched_at``; ``claimed_at`` lets one instance refresh per period; the balances item also carries the
  running ``changes`` and ``debit_<asset>`` counters and their values when the snapshot was read.

/metrics never sees these items: its snapshot reads only the ``counters`` partition.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeengine.stores import aws
from tradeengine.venue_budget import Shares, Take, VenueBudget

if TYPE_CHECKING:
    from tradeengine.config import Settings

log = logging.getLogger(__name__)
PK = "venue"
_CONDITIONAL = "ConditionalCheckFailedException"


def _value(attr: Mapping[str, Any]) -> Any:
    if "N" in attr:
        return Decimal(attr["N"])
    return attr.get("S")


class DynamoDBBudgetStore:
    def __init__(self, table: str, venue: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._key = {"pk": {"S": PK}, "sk": {"S": f"{venue}#budget"}}
        self._ddb = ddb_client or aws.client("dynamodb")

    def take(self, takes: Sequence[Take], now_s: float) -> dict[str, int] | None:
        names: dict[str, str] = {"#b": "blocked_until"}
        values: dict[str, Any] = {":now": {"N": repr(float(now_s))}}
        adds, conditions, removes = [], ["(attribute_not_exists(#b) OR #b <= :now)"], []
        for i, take in enumerate(takes):
            names[f"#a{i}"] = take.attribute
            values[f":n{i}"] = {"N": str(take.amount)}
            values[f":m{i}"] = {"N": str(take.most - take.amount)}
            adds.append(f"#a{i} :n{i}")
            conditions.append(f"(attribute_not_exists(#a{i}) OR #a{i} <= :m{i})")
            prefix, _, window = take.attribute.rpartition("_")
            for back in (1, 2):  # earlier windows are never read again
                names[f"#r{i}_{back}"] = f"{prefix}_{int(window) - back}"
                names[f"#q{i}_{back}"] = f"D{prefix}_{int(window) - back}"
                removes += [f"#r{i}_{back}", f"#q{i}_{back}"]
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression=f"ADD {', '.join(adds)} REMOVE {', '.join(removes)}",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except Exception as exc:
            if aws.error_code(exc) == _CONDITIONAL:
                return None
            raise
        got = answer.get("Attributes", {})
        return {t.attribute: int(got[t.attribute]["N"]) for t in takes if t.attribute in got}

    def deny(self, rank_attribute: str) -> dict[str, Any]:
        answer = self._ddb.update_item(
            TableName=self._table,
            Key=self._key,
            UpdateExpression="ADD #d :one",
            ExpressionAttributeNames={"#d": rank_attribute},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        return {k: _value(v) for k, v in answer.get("Attributes", {}).items()}

    def raise_to(self, attribute: str, used: int) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="SET #a = :u",
                ConditionExpression="attribute_not_exists(#a) OR #a < :u",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":u": {"N": str(used)}},
            )
        except Exception as exc:
            if aws.error_code(exc) != _CONDITIONAL:
                raise

    def block(self, until_s: float) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="SET #b = :u",
                ConditionExpression="attribute_not_exists(#b) OR #b < :u",
                ExpressionAttributeNames={"#b": "blocked_until"},
                ExpressionAttributeValues={":u": {"N": repr(float(until_s))}},
            )
        except Exception as exc:
            if aws.error_code(exc) != _CONDITIONAL:
                raise

    def limits(self) -> list[dict[str, Any]] | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._key, ProjectionExpression="limits").get("Item")
        raw = item.get("limits", {}).get("S") if item else None
        return json.loads(raw) if raw else None

    def remember_limits(self, raw: list[dict[str, Any]]) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key,
            UpdateExpression="SET limits = :l",
            ExpressionAttributeValues={":l": {"S": json.dumps(raw, separators=(",", ":"))}},
        )


class DynamoDBSnapshots:
    """``tradeengine.venue_cache.Snapshots`` in the counters table."""

    def __init__(self, table: str, venue: str, *, ddb_client: Any = None) -> None:
        self._table = table
        self._venue = venue
        self._ddb = ddb_client or aws.client("dynamodb")

    def _key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": PK}, "sk": {"S": f"{self._venue}#{key}"}}

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(key), ConsistentRead=True).get("Item")
        return {k: _value(v) for k, v in item.items() if k not in ("pk", "sk")} if item else None

    def claim(self, key: str, now_s: float, every_s: float) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression="attribute_not_exists(claimed_at) OR claimed_at <= :before",
                ExpressionAttributeValues={
                    ":now": {"N": repr(float(now_s))},
                    ":before": {"N": repr(float(now_s - every_s))},
                },
            )
        except Exception as exc:
            if aws.error_code(exc) == _CONDITIONAL:
                return False
            raise
        return True

    def put(self, key: str, data: str, fetched_at: float, base: Mapping[str, Decimal] | None = None) -> None:
        names = {"#d": "data", "#f": "fetched_at"}
        values: dict[str, Any] = {":d": {"S": data}, ":f": {"N": repr(float(fetched_at))}}
        sets = ["#d = :d", "#f = :f"]
        for i, (name, amount) in enumerate((base or {}).items()):
            names[f"#x{i}"] = name
            values[f":x{i}"] = {"N": format(amount, "f")}
            sets.append(f"#x{i} = :x{i}")
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_not_exists(#f) OR #f < :f",  # never replace a newer snapshot
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if aws.error_code(exc) != _CONDITIONAL:
                raise

    def add(self, key: str, amounts: Mapping[str, Decimal]) -> None:
        if not amounts:
            return
        names = {f"#x{i}": name for i, name in enumerate(amounts)}
        values = {f":x{i}": {"N": format(amount, "f")} for i, amount in enumerate(amounts.values())}
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(key),
            UpdateExpression="ADD " + ", ".join(f"#x{i} :x{i}" for i in range(len(amounts))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def invalidate(self, key: str) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(key),
            UpdateExpression="SET fetched_at = :zero",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )


def wire(settings: Settings, exchange: Any, rules: Any, ddb_client: Any = None) -> VenueBudget | None:
    """Give the Binance adapter the shared budget and snapshots, and the rules cache the budget's ear for
    rateLimits. Other venues (the paper exchange) have no limits to keep: nothing is wired."""
    # No BinanceExchange can exist before its module is imported, and importing it loads python-binance
    # (about 1 s of cold start): the paper exchange's functions must never pay for a venue they do not use.
    binance = sys.modules.get("tradeengine.exchange.binance")
    if binance is None or not isinstance(exchange, binance.BinanceExchange):
        return None
    from tradeengine.venue_cache import CacheAges, VenueCache

    shares = Shares(weight=settings.venue_weight_share, orders=settings.venue_order_share)
    budget = VenueBudget(
        DynamoDBBudgetStore(settings.counters_table, exchange.name, ddb_client=ddb_client), shares=shares
    )
    ages = CacheAges(
        ticker_s=settings.ticker_max_age_seconds,
        average_s=settings.avg_price_max_age_seconds,
        balances_s=settings.balance_max_age_seconds,
    )
    snapshots = DynamoDBSnapshots(settings.counters_table, exchange.name, ddb_client=ddb_client)
    cache = VenueCache(snapshots, exchange, ages=ages, symbols=sorted(settings.symbol_allowlist or ()))

    def assets_of(symbol: str) -> tuple[str, str] | None:
        found = rules.get(symbol)
        return (found.base_asset, found.quote_asset) if found is not None else None

    cache.assets_of = assets_of
    exchange.attach(budget, cache)
    rules.on_rate_limits = budget.remember_limits
    return budget
