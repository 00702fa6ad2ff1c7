"""The notifier's use case: one execution event from the notifications queue → the channels that want it.

Where the events come from: the execution events' SNS topic (``pipeline.events_out``) delivers each one
to ``notifications.fifo`` (raw, in order per ``executions.<strategy>.<symbol>``). The notifier function
calls ``notify_message`` per message; nothing here is on a trade's path, and nothing a channel does can
stop or slow an order (the events are published after the state is written, and this is another queue).

Per message:
- an event that is nobody's message (most steps of a signal), or that no channel wants: done;
- each channel that wants it and has not taken it yet (``Delivered``: a redelivered message is sent only
  to the channels that failed) gets one HTTP request (``tradeengine.notifications.build_request``);
- a channel that answers 2xx is marked delivered and counted (``tradeengine_notifications_total{status="sent"}``);
- a channel that cannot be reached, times out, answers 5xx, 408 or 429: ``RetryLater`` with backoff
  (``NOTIFY_RETRY_SECONDS`` × 2^(receive count − 1), at least the target's own Retry-After), so SQS brings
  the message back, and after the queue's maxReceiveCount its redrive policy dead-letters it
  (``notifications-dlq.fifo``); the messages behind it in its group wait with it (the order of a strategy's
  messages is kept);
- a channel that refuses for good (any other 4xx: a revoked bot token, a deleted webhook): retrying cannot
  help, so once the others are done the message goes to the dead-letter queue at once, with the reason
  (``Undeliverable``), for an operator to fix the channel and replay it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from contracts.events import ExecutionEvent
from tradeengine.metrics import NOTIFICATIONS
from tradeengine.notifications import Channel, HttpRequest, build_request, message_text, topic_of
from tradeengine.pipeline.errors import MalformedMessage, RetryLater
from tradeengine.pipeline.ports import Counters

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 900.0
TRANSIENT_4XX = frozenset({408, 425, 429})


class Undeliverable(MalformedMessage):
    """A channel refused the message for good: dead-lettered with the reason, not retried."""


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int  # the HTTP status; 0 when no answer came (refused, timed out, DNS)
    retry_after_s: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        return 300 <= self.status < 500 and self.status not in TRANSIENT_4XX  # a 3xx: a webhook that moved


class Sender(Protocol):
    def post(self, request: HttpRequest) -> Delivery: ...


class ChannelSource(Protocol):
    def active(self) -> list[Channel]: ...


class Delivered(Protocol):
    def seen(self, keys: Sequence[str]) -> set[str]: ...

    def mark(self, key: str) -> None: ...


@dataclass
class NotifyDeps:
    channels: ChannelSource
    delivered: Delivered
    sender: Sender
    counters: Counters
    retry_seconds: float = 30.0
    telegram_api: str = "https://api.telegram.org"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    topic: str | None
    sent: tuple[str, ...] = ()
    already: tuple[str, ...] = ()


def notify_message(body: Mapping[str, Any], deps: NotifyDeps, receive_count: int = 1) -> NotifyOutcome:
    try:
        event = ExecutionEvent.model_validate(body)
    except ValidationError as exc:
        raise MalformedMessage(f"not an execution event: {_first_error(exc)}") from None
    topic = topic_of(event)
    if topic is None:  # most steps are nobody's message: no read of the channels for them
        return NotifyOutcome(None)
    channels = [c for c in deps.channels.active() if c.wants(event, topic)]
    if not channels:
        return NotifyOutcome(topic)
    keys = {c.channel_id: f"{event.event_id}|{c.channel_id}" for c in channels}
    done = deps.delivered.seen(list(keys.values()))
    text = message_text(event, topic)
    sent: list[str] = []
    retry: list[tuple[Channel, Delivery]] = []
    refused: list[tuple[Channel, Delivery]] = []
    for channel in channels:
        if keys[channel.channel_id] in done:
            continue
        delivery = deps.sender.post(build_request(channel, event, text, deps.clock(), deps.telegram_api))
        if delivery.ok:
            deps.delivered.mark(keys[channel.channel_id])
            sent.append(channel.channel_id)
            deps.counters.incr(NOTIFICATIONS, {"status": "sent", "channel": channel.type})
            continue
        status = "refused" if delivery.permanent else "retried"
        deps.counters.incr(NOTIFICATIONS, {"status": status, "channel": channel.type})
        log.warning("notification %s to %s %s: %s", event.event_id, channel.channel_id, status, _said(delivery))
        (refused if delivery.permanent else retry).append((channel, delivery))
    if retry:
        wait = deps.retry_seconds * 2 ** max(receive_count - 1, 0)
        wait = min(max([wait, *(d.retry_after_s or 0.0 for _, d in retry)]), MAX_BACKOFF_S)
        raise RetryLater(f"{_names(retry)} not reached; again in {wait:.0f}s", delay_s=wait)
    if refused:
        raise Undeliverable(f"{_names(refused)} refused {event.event_id} for good")
    return NotifyOutcome(topic, tuple(sent), tuple(c.channel_id for c in channels if keys[c.channel_id] in done))


def _names(failures: Sequence[tuple[Channel, Delivery]]) -> str:
    return ", ".join(f"{c.type} channel {c.channel_id} ({_said(d)})" for c, d in failures)


def _said(delivery: Delivery) -> str:
    return f"HTTP {delivery.status}" if delivery.status else (delivery.error or "no answer")


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')}"
