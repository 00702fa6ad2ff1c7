"""One SQS record → one use-case call, with the rules every queue consumer shares.

- A record that is not a JSON object, or that the use-case calls malformed (no signal id to record a
  rejection under), is sent to the dead-letter queue *with its reason* and counted as handled: retrying
  cannot make it readable.
- A RetryLater that knows when a retry can succeed postpones the message that long first, and
  (``Pacer``) so are the messages of its FIFO group that the batch then skipped: they come back with it,
  not one visibility timeout later (the venue's budget paces a burst this way: the messages wait in SQS).
- Anything else that fails (RetryLater, AuditBacklog, a dependency down) raises, so the batch reports
  that one item as failed; SQS redelivers it, and after maxReceiveCount the redrive policy moves it to
  the same dead-letter queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tradeengine.pipeline.errors import MalformedMessage, RetryLater

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

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


class Pacer:
    """One invocation's postponements, per FIFO message group: the messages a failed one made the batch skip
    (``skip_group_on_error``) wait as long as it does. ``postpone_for`` per record, ``after`` per batch."""

    def __init__(self, sqs: object, queue_url: str | None) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._delays: dict[str, float] = {}
        self._postponed: set[str] = set()

    def postpone_for(self, record: Mapping[str, Any]) -> Callable[[float], None]:
        group = str((record.get("attributes") or {}).get("MessageGroupId", ""))
        message_id = str(record.get("messageId", ""))
        postpone = sqs_postpone(self._sqs, self._url, str(record.get("receiptHandle", "")))

        def postpone_group(seconds: float) -> None:
            self._delays[group] = max(self._delays.get(group, 0.0), seconds)
            self._postponed.add(message_id)
            postpone(seconds)

        return postpone_group

    def after(self, event: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        try:
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            for record in event.get("Records", []):
                group = str((record.get("attributes") or {}).get("MessageGroupId", ""))
                message_id = str(record.get("messageId", ""))
                if message_id in failed and group in self._delays and message_id not in self._postponed:
                    sqs_postpone(self._sqs, self._url, str(record.get("receiptHandle", "")))(self._delays[group])
        finally:
            self._delays.clear()
            self._postponed.clear()


def process_fifo(
    event: dict[str, Any],
    context: Any,
    record_handler: Callable[[Any], object],
    processor: Any,
    pacer: Pacer,
    flush: Callable[[], None],
) -> PartialItemFailureResponse:
    """One invocation of a FIFO queue's consumer (sizing, execution, the notifier): every record through
    powertools' partial-batch processor, then the postponements of the groups it skipped, then the
    counters' flush, whatever happened."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        pacer.after(event, response)
        return response
    finally:
        flush()
