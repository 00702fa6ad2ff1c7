"""The engine's DynamoDB tables, defined once: keys, index, TTL, and whether a stack delete keeps them.

The CDK stack builds its tables from these (infra/stack.py), the tests create theirs in MiniStack from
these (tests/support/tables.py), and template.yaml, which YAML cannot derive, is checked against them
(tests/infra/test_template.py), as the CDK synth is against template.yaml (tests/infra/test_cdk.py).
The attribute names the stores read and write come from the stores themselves, so a renamed attribute
cannot leave a table behind. Pure Python: no CDK import, so tests use it without synthesising anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradeengine.stores import rules_cache, signal_state


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    pk: str
    sk: str | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    holds: str  # what it is for, and the store that reads it
    pk: str = "pk"
    sk: str | None = None
    ttl: str | None = None
    keep: bool = True  # Retain on a stack delete (and deletion protection in prod); False: a cache
    indexes: tuple[Index, ...] = ()

    def key_schema(self) -> list[dict[str, str]]:
        return _keys(self.pk, self.sk)

    def attribute_definitions(self) -> list[dict[str, str]]:
        names = [self.pk, *([self.sk] if self.sk else [])]
        for index in self.indexes:
            names += [n for n in (index.pk, index.sk) if n and n not in names]
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    def global_secondary_indexes(self) -> list[dict[str, Any]]:
        """As CloudFormation and boto3's create_table both spell them (every index projects ALL)."""
        return [
            {"IndexName": i.name, "KeySchema": _keys(i.pk, i.sk), "Projection": {"ProjectionType": "ALL"}}
            for i in self.indexes
        ]


def _keys(pk: str, sk: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": pk, "KeyType": "HASH"}]
    if sk:
        keys.append({"AttributeName": sk, "KeyType": "RANGE"})
    return keys


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "SignalsTable",
        "stores.signal_state: one item per signal, and the sparse open-signals index the monitor walks",
        ttl=signal_state.TTL_ATTRIBUTE,
        indexes=(Index(signal_state.OPEN_INDEX, signal_state.OPEN_ATTRIBUTE, "created_at"),),
    ),
    TableSpec(
        "RulesTable",
        "stores.rules_cache: one item per symbol's exchange filters (a cache: fetched again when missing)",
        ttl=rules_cache.TTL_ATTRIBUTE,
        keep=False,
    ),
    TableSpec("PaperBookTable", "stores.paper_book_dynamodb: the paper exchange's orders and balances"),
    TableSpec(
        "CountersTable", "stores.counters, quotas, venue budget, notified marks (TTL)", sk="sk", ttl="expires_at"
    ),
    TableSpec("ControlTable", "stores.control: trading switch, cursors, hooks, channels, the events outbox"),
    TableSpec("BookTable", "stores.book: the fill ledger and a position per (strategy, symbol)", sk="sk"),
)
BY_LOGICAL_ID: dict[str, TableSpec] = {t.logical_id: t for t in TABLES}
