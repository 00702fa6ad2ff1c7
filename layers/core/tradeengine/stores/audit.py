"""The audit trail in MongoDB: one document per (signal_id, seq), append-only, written with pymongo.

- ``record`` is one unordered ``bulk_write`` of upserts with ``$setOnInsert``: writing a signal's whole
  history again inserts only the steps that are missing and never rewrites one already stored, so the
  recorder's "write everything every time" heals earlier failures without duplicates. A unique index on
  (signal_id, seq) makes that hold under concurrent writers too (a lost upsert race is a duplicate-key
  error, which is success here). Writes use ``w="majority"``: an acknowledged event survives a failover.
- Money stays exact: ``Decimal`` values in ``detail`` are stored as BSON Decimal128 (or as a plain
  string when they need more than Decimal128's 34 digits) and read back as ``Decimal``.
- ``at`` is a BSON date (for range queries and the TTL index; millisecond precision), with the exact
  ISO-8601 time beside it in ``at_iso`` so events read back equal to what was written.
- A Lambda must not hang when MongoDB is down: server selection and connect time out in a few seconds,
  so ``record`` raises and the recorder's retry path takes over.
- One client per process and URL, created on first use (importing this module touches no network);
  indexes are ensured once per process and collection. The URL (it may hold credentials) is never
  logged nor shown in a repr.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from bson.decimal128 import Decimal128
from pydantic import BaseModel, SecretStr
from pymongo import ASCENDING, IndexModel, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError
from pymongo.write_concern import WriteConcern

from contracts.money import plain
from contracts.status import AuditEvent

if TYPE_CHECKING:
    from tradeengine.config import Settings

COLLECTION = "audit_events"
SERVER_SELECTION_TIMEOUT_MS = 2500  # fail fast: the recorder retries, a hung Lambda helps nobody
CONNECT_TIMEOUT_MS = 2000
SOCKET_TIMEOUT_MS = 10_000
WRITE_TIMEOUT_MS = 5000  # wtimeout of the majority write concern
DUPLICATE_KEY = 11000
AT_INDEX = "at_1"  # the (at) index, and the TTL index when retention is set (one index per key pattern)
_INT64 = 2**63

Document = dict[str, Any]

_clients_lock = threading.Lock()
_indexes_lock = threading.Lock()  # separate: ensure_indexes holds it while .collection takes _clients_lock
_clients: dict[str, MongoClient[Document]] = {}
_indexed: set[tuple[str, str, str, int | None]] = set()


def client(url: str) -> MongoClient[Document]:
    """The process's client for ``url`` (created on first use; pymongo connects in the background)."""
    with _clients_lock:
        found = _clients.get(url)
        if found is None:
            found = MongoClient(
                url,
                serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
                connectTimeoutMS=CONNECT_TIMEOUT_MS,
                socketTimeoutMS=SOCKET_TIMEOUT_MS,
                retryWrites=True,
                tz_aware=True,
                tzinfo=UTC,
                appname="petrosa-tradeengine",
            )
            _clients[url] = found
        return found


def to_bson(value: Any) -> Any:
    """A value as BSON can store it: Decimal -> Decimal128 (exact), enums -> value, tuples -> lists."""
    if value is None or isinstance(value, bool | str | float | bytes | datetime):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        try:
            return Decimal128(value)
        except ArithmeticError:  # more than 34 significant digits: keep every digit as text
            return plain(value)
    if isinstance(value, Enum):
        return to_bson(value.value)
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, BaseModel):
        return to_bson(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        return {str(k): to_bson(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_bson(v) for v in value]
    return str(value)


def from_bson(value: Any) -> Any:
    """The inverse of ``to_bson`` where it matters: Decimal128 -> Decimal, recursively."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, Mapping):
        return {k: from_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_bson(v) for v in value]
    return value


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def to_document(event: AuditEvent) -> Document:
    at = _utc(event.at)
    return {
        "signal_id": event.signal_id,
        "seq": event.seq,
        "stage": event.stage,
        "state": event.state.value,
        "at": at,
        "at_iso": at.isoformat(),
        "mode": event.mode,
        "code": event.code,
        "detail": to_bson(event.detail),
        "latency_ms": event.latency_ms,
    }


def from_document(doc: Mapping[str, Any]) -> AuditEvent:
    fields = {k: from_bson(v) for k, v in doc.items() if k not in ("_id", "at_iso")}
    if isinstance(doc.get("at_iso"), str):
        fields["at"] = datetime.fromisoformat(doc["at_iso"])
    return AuditEvent.model_validate(fields)


class MongoAuditSink:
    """``AuditSink`` over a MongoDB collection (``audit_events`` by default)."""

    def __init__(
        self,
        url: str | SecretStr,
        database: str = "petrosa",
        collection: str = COLLECTION,
        retention_days: int | None = None,
    ) -> None:
        if retention_days is not None and retention_days <= 0:
            raise ValueError("retention_days must be positive (or None to keep events forever)")
        self._url = url.get_secret_value() if isinstance(url, SecretStr) else url
        self.database = database
        self.collection_name = collection
        self.retention_days = retention_days

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoAuditSink:
        if settings.mongodb_url is None:
            raise ValueError("MONGODB_URL is not set: the audit trail has nowhere to go")
        return cls(
            settings.mongodb_url,
            database=settings.mongodb_database,
            collection=settings.audit_collection,
            retention_days=settings.audit_retention_days,
        )

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"MongoAuditSink(database={self.database!r}, collection={self.collection_name!r})"

    @property
    def collection(self) -> Collection[Document]:
        return client(self._url)[self.database][self.collection_name]

    def record(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        self.ensure_indexes()
        ops = []
        for event in events:
            doc = to_document(event)
            key = {"signal_id": doc.pop("signal_id"), "seq": doc.pop("seq")}
            ops.append(UpdateOne(key, {"$setOnInsert": doc}, upsert=True))
        writer = self.collection.with_options(write_concern=WriteConcern(w="majority", wtimeout=WRITE_TIMEOUT_MS))
        try:
            writer.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            # A concurrent writer inserted the same (signal_id, seq) first: that event is stored, as wanted.
            details = exc.details
            errors = details.get("writeErrors", [])
            if details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise

    def events(self, signal_id: str) -> Sequence[AuditEvent]:
        cursor = self.collection.find({"signal_id": signal_id}, {"_id": 0}).sort("seq", ASCENDING)
        return [from_document(doc) for doc in cursor]

    def ensure_indexes(self) -> None:
        """Create the indexes once per process (idempotent on the server too: safe from every cold start)."""
        key = (self._url, self.database, self.collection_name, self.retention_days)
        if key in _indexed:
            return
        with _indexes_lock:
            if key in _indexed:
                return
            col = self.collection
            col.create_indexes(
                [
                    IndexModel([("signal_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="signal_id_1_seq_1"),
                    IndexModel([("signal_id", ASCENDING), ("at", ASCENDING)], name="signal_id_1_at_1"),
                ]
            )
            self._ensure_at_index(col)
            _indexed.add(key)

    def _ensure_at_index(self, col: Collection[Document]) -> None:
        """The (at) index, with expireAfterSeconds when retention is set; changed in place when it changes."""
        want = self.retention_days * 86_400 if self.retention_days is not None else None
        current = next((ix for ix in col.list_indexes() if ix.get("name") == AT_INDEX), None)
        options: dict[str, Any] = {"name": AT_INDEX}
        if want is not None:
            options["expireAfterSeconds"] = want
        if current is None:
            col.create_index([("at", ASCENDING)], **options)
            return
        have = current.get("expireAfterSeconds")
        if have == want:
            return
        if have is not None and want is not None:
            col.database.command("collMod", col.name, index={"name": AT_INDEX, "expireAfterSeconds": want})
            return
        # TTL switched on or off: an index's TTL-ness cannot be changed in place, so rebuild it.
        col.drop_index(AT_INDEX)
        col.create_index([("at", ASCENDING)], **options)
