"""Execution events back onto NATS: the SQS FIFO queue subscribed to ExecutionEventsTopic → JetStream.

Each event (``contracts.events``, raw SNS delivery: the body is the event) is published on its subject
``executions.<strategy_id>.<symbol>`` with ``Nats-Msg-Id`` = its event id, so JetStream drops a repeat
within the stream's duplicate window, and deleted from SQS only after JetStream acknowledged it. SQS FIFO
hands out one message group (one strategy's symbol) in order and holds the rest of a group while a
message of it is in flight; a failed publish stops the batch there (nothing after it is deleted), so the
group comes back from the failed one on, in order, after the queue's visibility timeout.

An unreadable body (not the schema) is logged, counted and deleted: no retry would make it readable.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from contracts.events import SUBJECT_PREFIX, ExecutionEvent
from functions.bridge import metrics

log = logging.getLogger("tradeengine.bridge.executions")


class ExecutionsRelay:
    def __init__(
        self,
        queue_url: str,
        *,
        stream: str = "EXECUTIONS",
        prefix: str = SUBJECT_PREFIX,
        duplicate_window_s: float = 120.0,
        max_age_s: float = 7 * 24 * 3600.0,
        sqs_client: Any = None,
        wait_s: int = 5,
    ) -> None:
        self.queue_url = queue_url
        self.stream = stream
        self.prefix = prefix
        self.duplicate_window_s = duplicate_window_s
        self.max_age_s = max_age_s
        self.wait_s = wait_s
        self._sqs = sqs_client
        self.relayed = 0

    def _client(self) -> Any:
        if self._sqs is None:
            from tradeengine.stores import aws

            self._sqs = aws.client("sqs")
        return self._sqs

    async def ensure_stream(self, js: JetStreamContext) -> None:
        subject = f"{self.prefix}.>"
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                api.StreamConfig(
                    name=self.stream,
                    subjects=[subject],
                    storage=api.StorageType.FILE,
                    retention=api.RetentionPolicy.LIMITS,
                    max_age=self.max_age_s,
                    duplicate_window=self.duplicate_window_s,
                )
            )
            log.info("bridge: created stream %s over %s", self.stream, subject)
            return
        if (info.config.duplicate_window or 0) < self.duplicate_window_s:
            info.config.duplicate_window = self.duplicate_window_s
            await js.update_stream(info.config)

    async def run(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        await self.ensure_stream(js)
        log.info("bridge: relaying execution events from %s to stream %s", self.queue_url, self.stream)
        while not stopping.is_set():
            try:
                await self.relay_once(js)
            except Exception as exc:  # SQS or NATS unreachable: wait, the messages stay in the queue
                log.warning("bridge: execution events relay failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def relay_once(self, js: JetStreamContext) -> int:
        """One receive of up to 10 messages, published in order; returns how many went out."""
        reply = await asyncio.to_thread(
            self._client().receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_s,
        )
        done = 0
        for message in reply.get("Messages", []):
            try:
                event = ExecutionEvent.model_validate_json(message["Body"])
            except ValidationError:
                metrics.EXECUTIONS_UNREADABLE.inc()
                log.error("bridge: execution event not in the schema, deleted (%s)", message.get("MessageId"))
                await self._delete(message)
                continue
            try:
                await js.publish(
                    event.subject(self.prefix),
                    message["Body"].encode(),
                    stream=self.stream,
                    headers={"Nats-Msg-Id": event.event_id},
                )
            except Exception as exc:  # keep the order: nothing after this one is deleted; SQS gives them back
                metrics.EXECUTIONS_FAILED.inc()
                log.warning("bridge: execution event %s not published (%s)", event.event_id, type(exc).__name__)
                return done
            await self._delete(message)
            metrics.EXECUTIONS_RELAYED.inc()
            done += 1
        self.relayed += done
        return done

    async def _delete(self, message: dict[str, Any]) -> None:
        await asyncio.to_thread(
            self._client().delete_message, QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
        )
