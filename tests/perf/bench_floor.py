"""The floor of a signal's journey: only the calls it cannot do without, made bare (plain boto3 clients,
a plain signed ``requests`` POST), with the payloads the engine itself sent in the same run.

record (PutItem of the engine's signal item), queue (SendMessage of its signal message), size-state
(UpdateItem), queue (SendMessage of its plan message), submit-state (UpdateItem), the order (POST
/api/v3/order with the engine's parameters), fill-state (UpdateItem). Counted and timed by the same
meter as the engine (``tests/perf/bench_calls.py``): 6 AWS requests and 1 venue request per signal, and
the process's CPU time for them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

STATES = (("QUEUED", "SIZED"), ("SIZED", "SUBMITTED"), ("SUBMITTED", "FILLED"))


@dataclass
class Floor:
    aws_calls: float
    venue_requests: float
    cpu_ms: float


def _sample(samples: dict[str, Any], operation: str, contains: str) -> dict[str, Any]:
    for key, params in samples.items():
        op, _, target = key.partition(":")
        if op == operation and contains in target:
            return dict(params)
    raise LookupError(f"the engine sent no {operation} to a {contains} target in this run: {sorted(samples)}")


def _state(ddb: Any, table: str, pk: str, before: str, after: str) -> None:
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": pk}},
        UpdateExpression="SET #st = :after, #h = list_append(if_not_exists(#h, :empty), :step)",
        ConditionExpression="#st = :before",
        ExpressionAttributeNames={"#st": "floor_state", "#h": "floor_history"},
        ExpressionAttributeValues={
            ":after": {"S": after},
            ":before": {"S": before},
            ":empty": {"L": []},
            ":step": {"L": [{"M": {"state": {"S": after}, "at": {"S": str(time.time())}}}]},
        },
    )


def run(samples: dict[str, Any], meter: Any, signals: int) -> Floor:
    import boto3
    import requests

    from tests.chaos.servers import EXCHANGE_KEY, EXCHANGE_SECRET

    servers = samples["servers"]
    record = _sample(samples, "PutItem", "signals")
    signal_msg = _sample(samples, "SendMessage", "signals")
    plan_msg = _sample(samples, "SendMessage", "orders")
    order = {k: v for k, v in parse_qsl(str(samples["order"])) if k not in ("signature", "timestamp")}
    ddb = boto3.client("dynamodb", endpoint_url=servers.aws_url, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=servers.aws_url, region_name="us-east-1")
    for client in (ddb, sqs):
        meter.watch(client)
    http = requests.Session()
    http.headers["X-MBX-APIKEY"] = EXCHANGE_KEY
    url = f"{servers.exchange_url}/api/v3/order"
    table, run = record["TableName"], uuid.uuid4().hex[:6]

    def journey(i: int) -> None:
        pk = f"floor-{run}-{i:03d}"
        item = {**record["Item"], "pk": {"S": pk}, "floor_state": {"S": "QUEUED"}}
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        sqs.send_message(**{**signal_msg, "MessageDeduplicationId": pk})
        _state(ddb, table, pk, *STATES[0])
        sqs.send_message(**{**plan_msg, "MessageDeduplicationId": pk})
        _state(ddb, table, pk, *STATES[1])
        params = {**order, "newClientOrderId": f"fl{run}{i:03d}", "timestamp": str(int(time.time() * 1000))}
        query = urlencode(params)
        signature = hmac.new(EXCHANGE_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        reply = http.post(url, data=f"{query}&signature={signature}", timeout=5)
        reply.raise_for_status()
        reply.json()
        _state(ddb, table, pk, *STATES[2])

    journey(signals)  # the first request of each client opens its connection; a warm signal does not
    meter.active = True
    try:
        for i in range(signals):
            meter.run("floor", journey, i)
    finally:
        meter.active = False
    counted = [(kind, v) for (stage, kind, *_), v in meter.requests.items() if stage == "floor"]
    aws = sum(v for kind, v in counted if kind == "aws")
    venue = sum(v for kind, v in counted if kind == "venue")
    return Floor(aws / signals, venue / signals, 1000 * meter.cpu_s["floor"] / signals)
