"""Counters and histograms in DynamoDB, so /metrics shows the same figures whichever Lambda answers.

Implements ``tradeengine.pipeline.ports.Counters`` with the in-memory adapter's snapshot keys.

Table (template.yaml declares the same): ``pk`` (S, HASH) + ``sk`` (S, RANGE), PAY_PER_REQUEST.
Every series of one namespace lives under ``pk = <namespace>`` (default "counters"), so ``snapshot`` is
one paginated Query, never a Scan; ``sk = name|<sorted labels as JSON>`` (a SHA-256 of that when it
would pass DynamoDB's 1 KB range-key limit; ``name`` and ``labels`` are also plain attributes).

- a counter is one item, ``kind = "counter"``, incremented with an atomic ``ADD value :by``;
- a histogram series is one item, ``kind = "histogram"``, updated by one atomic UpdateItem per
  observation: ``ADD count, sum`` and the cumulative bucket attributes ``le=<bound>`` the value falls
  in, plus ``le=+Inf``. Bucket, sum and count therefore never disagree, and an observation costs one
  write instead of one per bucket. ``snapshot`` expands it into ``<name>_bucket{le=...}``, ``_sum`` and
  ``_count``, the keys the in-memory adapter produces.

One partition takes every write (about 1,000 writes/s per partition on DynamoDB): ample for an
engine that counts signals and orders; a busier deployment would shard ``pk`` and merge in snapshot.

``BufferedCounters`` sums in memory and writes at ``flush()``: one UpdateItem per series touched (a
histogram's observations folded into one ``ADD``), so a queue consumer pays a couple of writes per batch
of messages instead of a couple per message. The queue functions flush at the end of every invocation;
a process that dies before that loses those counts (CloudWatch still has each fact, as EMF).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contracts.money import plain
from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings

log = logging.getLogger(__name__)
LabelKey = tuple[tuple[str, str], ...]
_BUCKET = "le="
_INF = "+Inf"
_MAX_SORT_KEY = 1000  # bytes; the name and labels themselves are attributes, so a hashed key loses nothing


def _number(value: float) -> str:
    """A DynamoDB N: exact decimal text of the float as Python prints it (0.1 stays 0.1)."""
    if not math.isfinite(value):
        raise ValueError(f"counter values must be finite, not {value!r}")
    return plain(Decimal(repr(float(value))))


def _labels(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


class DynamoDBCounters:
    """Counters on DynamoDB (see the module docstring for the table)."""

    def __init__(self, table: str, *, namespace: str = "counters", ddb_client: Any = None) -> None:
        self._table = table
        self._pk = namespace
        self._ddb = ddb_client or aws.client("dynamodb")

    @classmethod
    def from_settings(cls, settings: Settings, ddb_client: Any = None) -> DynamoDBCounters:
        return cls(settings.counters_table, ddb_client=ddb_client)

    def _key(self, name: str, labels: LabelKey) -> dict[str, Any]:
        sk = f"{name}|{json.dumps(labels, separators=(',', ':'))}"
        if len(sk.encode("utf-8")) > _MAX_SORT_KEY:  # DynamoDB refuses range keys over 1 KB
            sk = f"{name[:200]}|sha256:{hashlib.sha256(sk.encode('utf-8')).hexdigest()}"
        return {"pk": {"S": self._pk}, "sk": {"S": sk}}

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
        key = _labels(labels)
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(name, key),
            UpdateExpression="SET #n = :name, #l = :labels, #k = :kind ADD #v :by",
            ExpressionAttributeNames={"#n": "name", "#l": "labels", "#k": "kind", "#v": "value"},
            ExpressionAttributeValues={
                ":name": {"S": name},
                ":labels": {"S": json.dumps(key)},
                ":kind": {"S": "counter"},
                ":by": {"N": _number(by)},
            },
        )

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        self.add_observations(name, labels, 1, value, {b: 1 for b in set(buckets) if value <= b})

    def add_observations(
        self, name: str, labels: Mapping[str, str], count: int, total: float, in_buckets: Mapping[float, int]
    ) -> None:
        """``count`` observations summing to ``total`` into a histogram, in one atomic UpdateItem;
        ``in_buckets``: how many of them fall at or under each bound (cumulative, as Prometheus counts)."""
        key = _labels(labels)
        names = {"#n": "name", "#l": "labels", "#k": "kind", "#c": "count", "#s": "sum", "#inf": _BUCKET + _INF}
        values: dict[str, Any] = {
            ":name": {"S": name},
            ":labels": {"S": json.dumps(key)},
            ":kind": {"S": "histogram"},
            ":count": {"N": str(int(count))},
            ":total": {"N": _number(total)},
        }
        adds = ["#c :count", "#s :total", "#inf :count"]
        for i, bound in enumerate(sorted(in_buckets)):
            if in_buckets[bound]:
                names[f"#b{i}"] = _BUCKET + repr(float(bound))
                values[f":b{i}"] = {"N": str(int(in_buckets[bound]))}
                adds.append(f"#b{i} :b{i}")
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(name, key),
            UpdateExpression=f"SET #n = :name, #l = :labels, #k = :kind ADD {', '.join(adds)}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def flush(self) -> None:
        """Nothing to write: every call above is already one write."""

    def snapshot(self) -> Mapping[tuple[str, LabelKey], float]:
        out: dict[tuple[str, LabelKey], float] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": self._pk}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            for item in page.get("Items", ()):
                self._expand(item, out)
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _expand(item: Mapping[str, Any], out: dict[tuple[str, LabelKey], float]) -> None:
        name = str(item["name"]["S"])
        labels: LabelKey = tuple((str(k), str(v)) for k, v in json.loads(item["labels"]["S"]))
        if item["kind"]["S"] == "counter":
            out[(name, labels)] = float(Decimal(item["value"]["N"]))
            return
        out[(f"{name}_sum", labels)] = float(Decimal(item["sum"]["N"]))
        out[(f"{name}_count", labels)] = float(Decimal(item["count"]["N"]))
        for attribute, value in item.items():
            if attribute.startswith(_BUCKET):
                bucket = tuple(sorted((*labels, ("le", attribute[len(_BUCKET) :]))))
                out[(f"{name}_bucket", bucket)] = float(Decimal(value["N"]))


class BufferedCounters:
    """The Counters port summed in memory and written to ``DynamoDBCounters`` at ``flush()`` (see the
    module docstring). ``snapshot()`` flushes first, so this process's own counts are never missing."""

    def __init__(self, inner: DynamoDBCounters) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, LabelKey], float] = {}
        self._histograms: dict[tuple[str, LabelKey], _Observations] = {}

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
        _number(by)  # refuse a non-finite value now, not at flush
        key = (name, _labels(labels))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0.0) + by

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        _number(value)
        key = (name, _labels(labels))
        with self._lock:
            self._histograms.setdefault(key, _Observations()).add(value, buckets)

    def flush(self) -> None:
        """Write what was counted since the last flush. What cannot be written now is kept for the next
        flush and logged, never raised: a counter store outage must not fail a trade."""
        with self._lock:
            counts, self._counts = self._counts, {}
            histograms, self._histograms = self._histograms, {}
        for (name, labels), by in counts.items():
            try:
                self._inner.incr(name, dict(labels), by)
            except Exception as exc:
                log.warning("counter %s not written yet: %s", name, type(exc).__name__)
                with self._lock:
                    self._counts[(name, labels)] = self._counts.get((name, labels), 0.0) + by
        for (name, labels), seen in histograms.items():
            try:
                self._inner.add_observations(name, dict(labels), seen.count, seen.total, seen.in_buckets)
            except Exception as exc:
                log.warning("histogram %s not written yet: %s", name, type(exc).__name__)
                with self._lock:
                    self._histograms.setdefault((name, labels), _Observations()).merge(seen)

    def snapshot(self) -> Mapping[tuple[str, LabelKey], float]:
        self.flush()
        return self._inner.snapshot()


class _Observations:
    """Histogram observations not yet written: count, sum, and how many fall at or under each bound."""

    __slots__ = ("count", "in_buckets", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.in_buckets: dict[float, int] = {}

    def add(self, value: float, buckets: Sequence[float]) -> None:
        self.count += 1
        self.total += value
        for bound in set(buckets):
            self.in_buckets[bound] = self.in_buckets.get(bound, 0) + (1 if value <= bound else 0)

    def merge(self, other: _Observations) -> None:
        self.count += other.count
        self.total += other.total
        for bound, n in other.in_buckets.items():
            self.in_buckets[bound] = self.in_buckets.get(bound, 0) + n
