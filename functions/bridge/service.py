"""The bridge: JetStream durable pull consumer → SendMessageBatch to signals.fifo, ack only what SQS took.

At-least-once, never lost: a message is acked only after SQS accepted its entry; a retryable failure
is nak'ed with a delay (JetStream redelivers it); a malformed one is dead-lettered, then terminated.
A crash between SQS accepting and the ack means a redelivery, which maps to the same signal id and so
to the same MessageDeduplicationId: SQS FIFO drops the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from functions.bridge import metrics
from functions.bridge.deadletter import dead_letter
from functions.bridge.decode import Entry, Malformed, decode
from functions.bridge.executions import ExecutionsRelay
from functions.bridge.probes import Health, ProbeServer
from functions.bridge.replies import answer
from functions.bridge.settings import BridgeSettings
from functions.bridge.sqs import Outcome, SqsSender

log = logging.getLogger("tradeengine.bridge")
QUEUE_GROUP = "petrosa-bridge"


class Bridge:
    def __init__(self, settings: BridgeSettings, sender: SqsSender | None = None) -> None:
        self.settings = settings
        self.sender = sender or SqsSender(settings)
        self.health = Health()
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.bridge_max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._request_sub: Subscription | None = None

    def stop(self) -> None:
        """SIGTERM: stop fetching, finish the sends in flight, flush acks, close."""
        log.info("bridge: stop requested, draining")
        self.health.draining = True
        self._stopping.set()

    async def run(self) -> None:
        nc = await self._connect()
        if nc is None:
            return
        self._nc, self._js = nc, nc.jetstream()
        background = [asyncio.create_task(c) for c in (self._heartbeat(), self._watch_sqs(), self._watch_consumer())]
        try:
            await self._ensure_streams(self._js)
            if self.settings.bridge_executions_queue_url:  # execution events: SQS → executions.<strategy>.<symbol>
                relay = ExecutionsRelay(
                    self.settings.bridge_executions_queue_url,
                    stream=self.settings.nats_executions_stream,
                    prefix=self.settings.nats_executions_prefix,
                    duplicate_window_s=self.settings.nats_duplicate_window_seconds,
                )
                background.append(asyncio.create_task(relay.run(self._js, self._stopping)))
            sub = await self._subscribe(self._js)
            self._request_sub = await nc.subscribe(
                self.settings.request_subject, queue=QUEUE_GROUP, cb=self._on_request
            )
            log.info(
                "bridge: consuming %s (stream %s, durable %s) into %s",
                self.settings.nats_signal_subject,
                self.settings.nats_stream,
                self.settings.nats_durable,
                self.settings.queue_url,
            )
            await self._consume(sub)
        finally:
            await self._drain(nc)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    # -- connection and JetStream objects ---------------------------------------------------------------

    async def _connect(self) -> Client | None:
        s = self.settings
        options: dict[str, Any] = {
            "servers": s.servers,
            "name": "petrosa-bridge",
            "connect_timeout": s.nats_connect_timeout_seconds,
            "reconnect_time_wait": s.nats_reconnect_wait_seconds,
            "max_reconnect_attempts": -1,  # a bridge that gives up is a bridge that silently stops
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "error_cb": self._on_error,
            "tls": s.tls_context(),
        }
        if s.nats_user:
            options["user"] = s.nats_user
            options["password"] = s.nats_password.get_secret_value() if s.nats_password else None
        if s.nats_token:
            options["token"] = s.nats_token.get_secret_value()
        if s.nats_creds_file:
            options["user_credentials"] = s.nats_creds_file
        delay = 0.5
        while not self._stopping.is_set():
            connecting = asyncio.ensure_future(nats.connect(**options))
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not connecting.done():  # SIGTERM while the client still retries its servers
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                return None
            try:
                nc = connecting.result()
                self.health.nats_connected = True
                return nc
            except Exception as exc:  # no server reachable yet: back off, exponentially, with jitter
                log.warning("bridge: NATS connect failed (%s); retrying in %.1fs", exc, delay)
                await self._sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)
                delay = min(delay * 2, 30.0)
        return None

    async def _on_disconnected(self) -> None:
        self.health.nats_connected = False
        if not self._stopping.is_set():
            log.warning("bridge: NATS disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        self.health.nats_connected = True
        log.info("bridge: NATS reconnected")

    async def _on_error(self, exc: Exception) -> None:
        log.warning("bridge: NATS error: %s", exc)

    async def _ensure_streams(self, js: JetStreamContext) -> None:
        s = self.settings
        await self._ensure_stream(js, s.nats_stream, s.nats_signal_subject, s.nats_stream_max_age_seconds)
        await self._ensure_stream(js, s.nats_dead_letter_stream, s.nats_dead_letter_subject, 30 * 24 * 3600.0)

    async def _ensure_stream(self, js: JetStreamContext, name: str, subject: str, max_age: float) -> None:
        window = self.settings.nats_duplicate_window_seconds
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(
                api.StreamConfig(
                    name=name,
                    subjects=[subject],
                    storage=api.StorageType.FILE,
                    retention=api.RetentionPolicy.LIMITS,
                    max_age=max_age,
                    duplicate_window=window,
                )
            )
            log.info("bridge: created stream %s over %s (duplicate window %.0fs)", name, subject, window)
            return
        if (info.config.duplicate_window or 0) < window:
            info.config.duplicate_window = window
            await js.update_stream(info.config)

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        s = self.settings
        config = api.ConsumerConfig(
            durable_name=s.nats_durable,
            name=s.nats_durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=s.bridge_ack_wait_seconds,
            max_ack_pending=s.bridge_max_ack_pending,
            max_deliver=-1,  # an SQS outage must not exhaust deliveries: naks wait it out
            filter_subject=s.nats_signal_subject,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        await js.add_consumer(s.nats_stream, config=config)  # create, or update the settings of the durable
        return await js.pull_subscribe_bind(durable=s.nats_durable, stream=s.nats_stream)

    # -- the consume loop -------------------------------------------------------------------------------

    async def _consume(self, sub: JetStreamContext.PullSubscription) -> None:
        s = self.settings
        failures = 0
        while not self._stopping.is_set():
            if not self.sender.healthy:  # SQS down: leave messages in the stream rather than nak them in a loop
                await self._sleep(s.bridge_sqs_probe_seconds / 2)
                continue
            try:
                msgs = await sub.fetch(s.bridge_fetch_batch, timeout=s.bridge_fetch_timeout_seconds)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing to fetch within the timeout: normal
                failures = 0
                continue
            except Exception as exc:  # connection lost, JetStream unavailable: the client reconnects
                failures += 1
                delay = min(0.25 * 2**failures, 10.0)
                log.warning("bridge: fetch failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                await self._sleep(delay)
                continue
            failures = 0
            metrics.FETCH_BATCH_SIZE.observe(len(msgs))
            await self._dispatch(msgs)
        # Messages delivered after the last fetch returned wait in the client: send them too, rather than
        # leave them un-acked until ack_wait runs out.
        with contextlib.suppress(Exception):
            if sub.pending_msgs > 0:
                await self._dispatch(await sub.fetch(sub.pending_msgs, timeout=0.5))

    async def _dispatch(self, msgs: list[Msg]) -> None:
        entries: list[tuple[Msg, Entry]] = []
        for msg in msgs:
            decoded = decode(msg.data, _stream_time(msg), self.settings.bridge_max_payload_bytes)
            if isinstance(decoded, Malformed):
                self._spawn(self._reject(msg, decoded.reason, decoded.errors))
            else:
                entries.append((msg, decoded))
        size = self.settings.bridge_sqs_batch
        for i in range(0, len(entries), size):
            await self._slots.acquire()  # backpressure: at most max_in_flight SendMessageBatch calls
            self._spawn(self._send(entries[i : i + size]))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: list[tuple[Msg, Entry]]) -> None:
        metrics.IN_FLIGHT.inc()
        try:
            outcomes = await self._send_keeping_alive([m for m, _ in chunk], [e for _, e in chunk])
        finally:
            metrics.IN_FLIGHT.dec()
            self._slots.release()
        self.health.sqs_reachable = self.sender.healthy
        for (msg, _), outcome in zip(chunk, outcomes, strict=True):
            await self._settle(msg, outcome)

    async def _send_keeping_alive(self, msgs: list[Msg], entries: list[Entry]) -> list[Outcome]:
        """A slow SendMessageBatch must not outlive ack_wait: tell JetStream the work is in progress."""
        send = asyncio.ensure_future(self.sender.send(entries))
        every = self.settings.bridge_ack_wait_seconds / 3
        while True:
            done, _ = await asyncio.wait({send}, timeout=every)
            if done:
                return send.result()
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _settle(self, msg: Msg, outcome: Outcome) -> None:
        try:
            if outcome is None:
                await msg.ack()
                metrics.PROCESSED.labels(status="accepted").inc()
            elif outcome.sender_fault:  # SQS will never take this entry: dead-letter it with SQS's words
                await self._reject(msg, f"SQS rejected the entry: {outcome.code}: {outcome.message}", [])
            else:
                await msg.nak(delay=self.settings.bridge_nak_delay_seconds)
                metrics.PROCESSED.labels(status="failed").inc()
        except Exception as exc:  # the ack did not leave: JetStream redelivers after ack_wait, SQS dedups
            log.warning("bridge: could not settle message: %s", exc)

    async def _reject(self, msg: Msg, reason: str, errors: list[dict[str, str]]) -> None:
        """Dead-letter first, terminate after: a crash in between dead-letters it again (deduplicated)."""
        meta = msg.metadata
        body, headers = dead_letter(
            msg.data,
            reason,
            errors,
            subject=msg.subject,
            stream=meta.stream,
            sequence=meta.sequence.stream,
            delivered=meta.num_delivered,
            received_at=_stream_time(msg),
        )
        try:
            assert self._js is not None
            await self._js.publish(self.settings.nats_dead_letter_subject, body, headers=headers, timeout=5)
            await msg.term()
        except Exception as exc:
            log.warning("bridge: dead-letter publish failed (%s); will retry the message", exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.settings.bridge_nak_delay_seconds)
            metrics.PROCESSED.labels(status="failed").inc()
            return
        metrics.PROCESSED.labels(status="invalid").inc()
        log.info("bridge: dead-lettered stream seq %s: %s", meta.sequence.stream, reason[:200])

    async def _on_request(self, msg: Msg) -> None:
        await answer(msg, self.sender, self.settings.bridge_max_payload_bytes)

    # -- background and shutdown ------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            self.health.heartbeat = time.monotonic()
            self.health.nats_connected = bool(self._nc and self._nc.is_connected)
            self.health.sqs_reachable = self.sender.healthy
            metrics.READY.set(0 if self.health.problems() else 1)
            await asyncio.sleep(1.0)

    async def _watch_sqs(self) -> None:
        while True:
            await self.sender.probe()
            await asyncio.sleep(self.settings.bridge_sqs_probe_seconds)

    async def _watch_consumer(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(5.0)
            if self._js is None:
                continue
            with contextlib.suppress(Exception):
                info = await self._js.consumer_info(s.nats_stream, s.nats_durable)
                metrics.CONSUMER_PENDING.set(info.num_pending or 0)
                metrics.CONSUMER_ACK_PENDING.set(info.num_ack_pending or 0)

    async def _drain(self, nc: Client) -> None:
        if self._request_sub is not None:  # take no new requests; answer the ones already received
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request_sub.drain(), timeout=5)  # type: ignore[no-untyped-call]
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.settings.bridge_drain_timeout_seconds)
            if late:
                log.warning("bridge: %d sends still running at drain timeout; JetStream will redeliver", len(late))
        with contextlib.suppress(Exception):
            await nc.flush(timeout=5)  # the acks leave before the connection closes
        with contextlib.suppress(Exception):
            await nc.close()
        self.sender.close()
        log.info("bridge: drained")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _stream_time(msg: Msg) -> datetime:
    """The stream's own timestamp: the same on every redelivery, so the SQS body is identical."""
    try:
        stamp = msg.metadata.timestamp
    except Exception:
        return datetime.now(UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def main() -> int:
    settings = BridgeSettings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return asyncio.run(_main(settings))


async def _main(settings: BridgeSettings) -> int:
    bridge = Bridge(settings)
    probes = ProbeServer(bridge.health, settings.bridge_http_host, settings.bridge_http_port)
    probes.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, bridge.stop)
    try:
        await bridge.run()
    finally:
        probes.stop()
    return 0
