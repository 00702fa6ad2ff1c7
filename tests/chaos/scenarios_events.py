"""Fault: the execution events' bus is unavailable (its topic is not there) while signals trade.

Trading is unaffected (the usual tally: one order per signal, none lost, audit whole, DLQs empty), and
once the topic is back the monitor's next run publishes every step of every signal, in order, each once,
with the fill and position events (the queue subscribed to the topic, as the bridge reads it, counts).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from tests.chaos.harness import Stack, Tally, functions, invoke, post, run_pipeline, signal, tally, token
from tests.chaos.servers import Servers


def events_bus_unavailable(servers: Servers, size: Any) -> Tally:
    from tradeengine.stores import aws
    from tradeengine.stores.events import create_topic, subscribe_queue

    servers.faults()
    servers.admin("reset", {})
    try:
        stack = Stack.create(servers)
        sns = aws.client("sns", endpoint_url=servers.aws_url, region="us-east-1")
        run = uuid.uuid4().hex[:6]
        topic = create_topic(sns, f"chaos-probe-{run}").replace(f"chaos-probe-{run}", f"chaos-events-{run}")
        stack.env["EXECUTION_EVENTS_TOPIC_ARN"] = topic  # a topic that does not exist yet
        fns = functions(stack)
        bearer = token()
        ids = [f"eventsdown-{run}-{i:04d}" for i in range(size.signals)]
        for i, sid in enumerate(ids):
            status, body = post(fns["api"], signal(sid, i), bearer)
            if status != 202:
                raise AssertionError(f"the API refused a valid signal: {status} {body}")
        run_pipeline(stack, fns, ids)
        result = tally(stack, fns, ids)  # trading unaffected; its monitor run finds the topic still missing
        assert create_topic(sns, f"chaos-events-{run}") == topic  # the bus is back
        queue = subscribe_queue(sns, stack.sqs, topic, f"chaos-events-{run}")
        invoke(fns["monitor"], {"source": "aws.events", "detail-type": "Scheduled Event"})
        result.problems += _caught_up(stack, queue, ids)
        return result
    finally:
        os.environ.pop("EXECUTION_EVENTS_TOPIC_ARN", None)  # the next scenario's functions publish nowhere


def _caught_up(stack: Stack, queue: str, ids: list[str]) -> list[str]:
    deps = stack.deps()
    want = {sid: len(r.history) if (r := deps.store.get(sid)) else 0 for sid in ids}
    got: dict[str, list[int]] = {sid: [] for sid in ids}
    fills: set[str] = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (any(len(got[s]) < n for s, n in want.items()) or len(fills) < len(ids)):
        reply = stack.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in reply.get("Messages", []):
            event = json.loads(m["Body"])
            if event["kind"] == "signal.state" and event["signal_id"] in got:
                got[event["signal_id"]].append(event["seq"])
            elif event["kind"] == "fill" and event["signal_id"] in got:
                fills.add(event["signal_id"])
            stack.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    problems = [f"{s}: events {got[s]} of {n} steps" for s, n in want.items() if got[s] != list(range(1, n + 1))]
    problems += [f"{sid}: no fill event" for sid in ids if sid not in fills]
    return problems
