"""Core-NATS request/reply: the requester gets the ingest result (IngestResult's shape) once SQS has it.

Requests use their own subject (``<NATS_SIGNAL_SUBJECT>.request``): a core request on a stream's
subject is answered by JetStream itself with a PubAck, before the bridge ever sees it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg

from functions.bridge import metrics
from functions.bridge.decode import Malformed, decode
from functions.bridge.sqs import SqsSender


async def answer(msg: Msg, sender: SqsSender, max_bytes: int) -> None:
    decoded = decode(msg.data, datetime.now(UTC), max_bytes)
    reply: dict[str, Any]
    if isinstance(decoded, Malformed):
        errors = decoded.errors or [{"field": "(body)", "rule": "malformed", "message": decoded.reason}]
        reply = {"signal_id": _claimed_id(msg.data), "state": None, "duplicate": False, "errors": errors}
        status, result = "invalid", "invalid"
    else:
        outcome = (await sender.send([decoded]))[0]
        if outcome is None:
            reply = {"signal_id": decoded.signal_id, "state": "QUEUED", "duplicate": False, "errors": []}
            status, result = "accepted", "queued"
        else:
            error = {"field": "(queue)", "rule": outcome.code, "message": outcome.message}
            reply = {
                "signal_id": decoded.signal_id,
                "state": None,
                "duplicate": False,
                "errors": [error],
                "retryable": not outcome.sender_fault,
            }
            status, result = "failed", "failed"
    metrics.PROCESSED.labels(status=status).inc()
    metrics.REPLIES.labels(result=result).inc()
    if msg.reply:
        await msg.respond(json.dumps(reply).encode())


def _claimed_id(data: bytes) -> str | None:
    with contextlib.suppress(Exception):
        sid = json.loads(data).get("signal_id")
        return sid if isinstance(sid, str) else None
    return None
