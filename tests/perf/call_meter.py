"""The instrument ``bench_calls`` counts with: every request the process sends, by stage and call.

- AWS: botocore's event hooks on every client (``before-parameter-build`` names the call and its table,
  queue or topic; ``before-send`` counts each HTTP request, retries included, as AWS bills them);
- MongoDB: pymongo's command monitoring (writes: insert / update / delete / findAndModify, and the
  documents they carry; reads apart);
- the venue: every HTTP request requests' adapter sends (python-binance, the market data client).

``install()`` before the clients exist (pymongo's listener reaches only clients created after it),
``uninstall()`` when done: the hooks come off, and idle they return at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

PER_SIGNAL_STAGES = ("api", "sizing", "execution")
MONGO_WRITES = {"insert", "update", "delete", "findAndModify", "bulkWrite"}
_ID = re.compile(r"[0-9a-f]{6,}|\d+")
_SYMBOL = re.compile(r"(BTC|ETH|BNB|SOL)USDT")


def _short(name: str) -> str:
    """A table, queue or key without this run's ids: ``signals-1a2b3c4d`` → ``signals-*``, symbols as <sym>."""
    return _ID.sub("*", _SYMBOL.sub("<sym>", name))


def _ddb_target(params: dict[str, Any]) -> str:
    if "TransactItems" in params:
        parts = [f"{op}:{_short(v['TableName'])}" for item in params["TransactItems"] for op, v in item.items()]
        return " + ".join(parts)
    if "RequestItems" in params:
        return " + ".join(_short(t) for t in params["RequestItems"])
    target = _short(str(params.get("TableName", "?")))
    key = params.get("Key") or params.get("Item") or {}
    for name in ("pk", "sk"):
        if isinstance(value := key.get(name, {}).get("S"), str):
            target += f" {name}={_short(value.split('|')[0])[:40]}"  # a counter's sk: its name, not labels
    for name, value in (params.get("ExpressionAttributeValues") or {}).items():
        if name in (":to", ":state") and "S" in value:  # the state a signal moves to, or is queried in
            target += f" {name}={value['S']}"
    if params.get("IndexName"):
        target += f" index={params['IndexName']}"
    return target


def _target(service: str, params: dict[str, Any]) -> str:
    if service == "dynamodb":
        return _ddb_target(params)
    if "QueueUrl" in params:
        return _short(params["QueueUrl"].rsplit("/", 1)[-1])
    if "TopicArn" in params:
        return _short(params["TopicArn"].rsplit(":", 1)[-1])
    return ""


@dataclass
class Meter:
    """Every request the process sends while ``active``, by (stage, kind, call, target)."""

    active: bool = False
    stage: str = "harness"
    requests: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    mongo_docs: Counter[str] = field(default_factory=Counter)
    cpu_s: Counter[str] = field(default_factory=Counter)
    samples: dict[str, Any] = field(default_factory=dict)  # what the floor sends: the engine's own payloads
    _local: threading.local = field(default_factory=threading.local)

    def count(self, kind: str, call: str, target: str) -> None:
        if self.active:
            self.requests[(self.stage, kind, call, target)] += 1

    def run(self, stage: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` as ``stage``: its requests and its CPU time are charged to it."""
        before, self.stage = self.stage, stage
        cpu = time.process_time()
        try:
            return fn(*args)
        finally:
            self.cpu_s[stage] += time.process_time() - cpu
            self.stage = before

    # -- botocore ------------------------------------------------------------------------------------
    def _named(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.active:  # the hooks stay on the clients: idle, they cost the rest of the run nothing
            return
        service = model.service_model.endpoint_prefix
        self._local.target = _target(service, params)
        if self.stage in PER_SIGNAL_STAGES:
            key = f"{model.name}:{self._local.target.split(' ')[0]}"
            self.samples.setdefault(key, dict(params))

    def _sent(self, event_name: str, **_: Any) -> None:
        if not self.active:
            return
        _, service, operation = event_name.split(".")[:3]
        self.count("aws", f"{service} {operation}", getattr(self._local, "target", ""))

    def watch(self, client: Any) -> None:
        """A client made after ``install`` from another session (the floor's bare clients)."""
        hook(client.meta.events)

    # -- pymongo -------------------------------------------------------------------------------------
    def mongo_started(self, event: Any) -> None:
        name = event.command_name
        if not self.active or name in ("hello", "isMaster", "ping", "endSessions"):
            return
        kind = "mongo write" if name in MONGO_WRITES else "mongo read"
        collection = str(event.command.get(name, ""))
        self.count(kind, name, collection)
        if kind == "mongo write":
            docs = event.command.get("documents") or event.command.get("updates") or event.command.get("deletes")
            self.mongo_docs[self.stage] += len(docs) if isinstance(docs, list) else 1

    # -- the venue -----------------------------------------------------------------------------------
    def venue_sent(self, request: Any) -> None:
        if not self.active:
            return
        path = urlparse(request.url).path
        self.count("venue", f"{request.method} {path}", "")
        if self.stage == "execution" and path.endswith("/v3/order") and request.method == "POST":
            self.samples.setdefault("order", request.body)


def _mongo_listener(meter: Meter) -> Any:
    """A pymongo CommandListener (registered globally, before the audit's client is created)."""
    from pymongo import monitoring

    class Listener(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            meter.mongo_started(event)

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    return Listener()


METER = Meter()
_EMITTERS: list[Any] = []  # the botocore event emitters the hooks are on (uninstall takes them off)
_RESTORE: list[Any] = []  # what else uninstall puts back
_MONGO: list[Any] = []  # pymongo's global listener, registered once (pymongo cannot unregister it)


def hook(events: Any) -> None:
    events.register("before-parameter-build", METER._named, unique_id="bench-calls-named")
    events.register("before-send", METER._sent, unique_id="bench-calls-sent")
    _EMITTERS.append(events)


def install() -> Meter:
    """Hooks on every AWS client there is or will be, pymongo's listener and requests' adapter."""
    if _EMITTERS:
        return METER
    import boto3
    import requests.adapters
    from pymongo import monitoring
    from tradeengine.stores import aws

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    hook(boto3.DEFAULT_SESSION.events)  # the clients created from now on copy its handlers
    for client in list(aws._clients.values()):  # those created before (the unique ids keep one of each)
        hook(client.meta.events)
    if not _MONGO:  # idle, it returns at once (see mongo_started)
        _MONGO.append(_mongo_listener(METER))
        monitoring.register(_MONGO[0])
    send = requests.adapters.HTTPAdapter.send

    def counted_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        METER.venue_sent(request)
        return send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = counted_send  # type: ignore[method-assign]
    _RESTORE.append(lambda: setattr(requests.adapters.HTTPAdapter, "send", send))
    return METER


def uninstall() -> None:
    """The clients and requests as they were (the bench's later phases measure the engine alone)."""
    from tradeengine.stores import aws

    for events in _EMITTERS + [c.meta.events for c in list(aws._clients.values())]:
        events.unregister("before-parameter-build", unique_id="bench-calls-named")
        events.unregister("before-send", unique_id="bench-calls-sent")
    for restore in _RESTORE:
        restore()
    _EMITTERS.clear()
    _RESTORE.clear()
