"""One SQS record → one use-case call, with the rules every queue consumer shares.

- A record that is not a JSON object, or that the use-case calls malformed (no signal id to record a
  rejection under), is sent to the dead-letter queue *with its reason* and counted as handled: retrying
  cannot make it readable.
- A RetryLater that knows when a retry can succeed postpones the message that long first.
- Anything else that fails (RetryLater, AuditBacklog, a dependency down) raises, so the batch reports
  that one item as failed; SQS redelivers it, and after maxReceiveCount the redrive policy moves it to
  the same dead-letter queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tradeengine.pipeline.size import MalformedMessage, RetryLater

log = logging.getLogger(__name__)


class DeadLetters(Protocol):
    def send(self, body: str, reason: str) -> None: ...


def run_record(
    body_text: str,
    use_case: Callable[[Mapping[str, Any]], object],
    dead_letters: DeadLetters,
    on_dead_letter: Callable[[str], None] | None = None,
    postpone: Callable[[float], None] | None = None,
) -> object:
    try:
        body = json.loads(body_text)
    except json.JSONDecodeError as exc:
        _dead(body_text, f"not JSON: {exc.msg} at position {exc.pos}", dead_letters, on_dead_letter)
        return None
    if not isinstance(body, dict):
        _dead(body_text, f"not a JSON object but {type(body).__name__}", dead_letters, on_dead_letter)
        return None
    try:
        return use_case(body)
    except MalformedMessage as exc:
        _dead(body_text, str(exc), dead_letters, on_dead_letter)
        return None
    except RetryLater as exc:
        if exc.delay_s is not None and postpone is not None:
            postpone(exc.delay_s)  # come back when it can succeed, not after every visibility timeout
        raise


def _dead(body: str, reason: str, dead_letters: DeadLetters, hook: Callable[[str], None] | None) -> None:
    log.warning("message sent to the dead-letter queue: %s", reason)
    dead_letters.send(body, reason)
    if hook is not None:
        hook(reason)


def sqs_postpone(sqs: object, queue_url: str | None, receipt_handle: str) -> Callable[[float], None]:
    """Postpone one received message by changing its visibility (capped at SQS's 12 hours)."""

    def postpone(seconds: float) -> None:
        if not queue_url:
            return
        try:
            sqs.change_message_visibility(  # type: ignore[attr-defined]
                QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=min(int(seconds) + 1, 43_200)
            )
        except Exception as exc:  # the normal visibility timeout still brings it back
            log.warning("could not postpone a message: %s", type(exc).__name__)

    return postpone
