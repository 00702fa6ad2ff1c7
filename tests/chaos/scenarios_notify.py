"""Fault: a notification target is down (its port refuses connections) while signals trade.

Trading is unaffected (the usual tally), the notifier tells a target that is up each fill once, and the
fills it cannot tell the target that is down are retried with backoff, then dead-lettered by the queue's
redrive policy, whole (the event itself, readable for a replay once the target is back).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from typing import Any

from tests.chaos.harness import Stack, Tally, functions, invoke, post, receive, run_pipeline, settle, signal, tally
from tests.chaos.harness import token as bearer_token
from tests.chaos.servers import Servers

MAX_RECEIVES = 3  # the notifications queue's maxReceiveCount here (5 on AWS): the retries before the DLQ
SECRET = "whsec_chaos-notify-0123456789"


def notifier_target_down(servers: Servers, size: Any) -> Tally:
    from tradeengine.notifications import Channel
    from tradeengine.stores import aws
    from tradeengine.stores.channels import DynamoDBChannels
    from tradeengine.stores.events import create_topic, subscribe_queue

    from local.sink import serve
    from local.stack.procs import free_port

    servers.faults()
    servers.admin("reset", {})
    sink, _ = serve(0)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{sink.server_address[1]}"
    try:
        stack = Stack.create(servers, NOTIFY_RETRY_SECONDS="0")
        run = uuid.uuid4().hex[:6]
        sns = aws.client("sns", endpoint_url=servers.aws_url, region="us-east-1")
        topic = create_topic(sns, f"chaos-notify-{run}")
        queue = subscribe_queue(sns, stack.sqs, topic, f"chaos-notify-{run}")
        made = stack.sqs.create_queue(QueueName=f"chaos-notify-{run}-dlq.fifo", Attributes={"FifoQueue": "true"})
        dlq = str(made["QueueUrl"])
        dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
        stack.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "1"})
        stack.env.update({"EXECUTION_EVENTS_TOPIC_ARN": topic, "NOTIFICATIONS_QUEUE_URL": queue,
                          "NOTIFICATIONS_DLQ_URL": dlq})  # fmt: skip
        channels = DynamoDBChannels(stack.env["CONTROL_TABLE"], ddb_client=stack.ddb)
        fills = frozenset({"fills"})
        channels.put(Channel("ch_up", "webhook", "*", fills, f"{up}/up", SECRET))
        channels.put(Channel("ch_down", "webhook", "*", fills, f"http://127.0.0.1:{free_port()}/down", SECRET))
        fns = {**functions(stack), **functions(stack, ("notifier",))}
        bearer = bearer_token()
        ids = [f"notifydown-{run}-{i:04d}" for i in range(min(size.signals, 4))]
        for i, sid in enumerate(ids):
            status, body = post(fns["api"], signal(sid, i), bearer)
            if status != 202:
                raise AssertionError(f"the API refused a valid signal: {status} {body}")
        run_pipeline(stack, fns, ids)
        result = tally(stack, fns, ids)  # trading unaffected by a notifier that cannot reach its target
        result.problems += _notified(stack, fns["notifier"], queue, dlq, up, ids)
        return result
    finally:
        sink.shutdown()
        sink.server_close()


def _notified(stack: Stack, notifier: Any, queue: str, dlq: str, up: str, ids: list[str]) -> list[str]:
    """Pump the notifications queue until each signal's fill is in the DLQ (the target that is down)."""
    dead: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 25 * len(ids) + 20
    while time.monotonic() < deadline and len(dead) < len(ids):
        event = receive(stack.sqs, queue, wait_s=1)
        if event["Records"]:
            settle(stack.sqs, queue, event, invoke(notifier, event))
        for m in stack.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(m["Body"])
            if body.get("kind") == "fill" and body.get("signal_id") in ids:
                dead[body["signal_id"]] = body
    problems = [f"{sid}: its fill never reached the notifications DLQ" for sid in ids if sid not in dead]
    with urllib.request.urlopen(f"{up}/received?path=/up", timeout=5) as reply:
        told = [json.loads(r["body"])["event"].get("signal_id") for r in json.loads(reply.read())]
    for sid in ids:
        if told.count(sid) != 1:
            problems.append(f"{sid}: the target that is up was told its fill {told.count(sid)} times, not once")
    return problems
