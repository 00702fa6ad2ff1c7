"""SendMessageBatch to signals.fifo from a bounded thread pool (boto3 is blocking; calls overlap).

SendMessageBatch answers HTTP 200 with per-entry failures: each entry gets its own outcome. A call
that fails as a whole (endpoint down, throttled past the retries) fails every entry, retryably.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from functions.bridge import metrics
from functions.bridge.decode import Entry
from functions.bridge.settings import BridgeSettings


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    sender_fault: bool  # the entry itself is wrong: resending it will never work


Outcome = Failure | None  # None: SQS accepted the entry


class SqsSender:
    def __init__(self, settings: BridgeSettings) -> None:
        import boto3
        from botocore.config import Config

        self._queue_url = settings.queue_url
        self._pool = ThreadPoolExecutor(max_workers=settings.bridge_max_in_flight + 1, thread_name_prefix="sqs")
        config = Config(
            retries={"mode": "standard", "max_attempts": settings.bridge_sqs_max_attempts},
            connect_timeout=settings.bridge_sqs_connect_timeout_seconds,
            read_timeout=settings.bridge_sqs_read_timeout_seconds,
            max_pool_connections=settings.bridge_max_in_flight + 2,
        )
        # AWS_ENDPOINT_URL (MiniStack, LocalStack) and the region come from the environment, as everywhere.
        self._client: Any = boto3.session.Session().client("sqs", config=config)
        self.healthy = False

    async def send(self, entries: Sequence[Entry]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._send, list(entries))

    async def probe(self) -> bool:
        loop = asyncio.get_running_loop()
        self.healthy = await loop.run_in_executor(self._pool, self._probe)
        return self.healthy

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, entries: list[Entry]) -> list[Outcome]:
        request = [
            {
                "Id": str(i),
                "MessageBody": e.body,
                "MessageGroupId": e.symbol,
                "MessageDeduplicationId": e.signal_id,
            }
            for i, e in enumerate(entries)
        ]
        metrics.SQS_BATCH_SIZE.observe(len(entries))
        started = time.perf_counter()
        try:
            response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=request)
        except Exception as exc:  # whole call failed: nothing accepted, every entry retryable
            metrics.SQS_SEND_SECONDS.labels(result="error").observe(time.perf_counter() - started)
            self.healthy = False
            failure = Failure(type(exc).__name__, str(exc)[:300], sender_fault=False)
            return [failure for _ in entries]
        metrics.SQS_SEND_SECONDS.labels(result="ok").observe(time.perf_counter() - started)
        self.healthy = True
        outcomes: list[Outcome] = [Failure("Missing", "SQS did not report this entry", False) for _ in entries]
        for ok in response.get("Successful", []):
            outcomes[int(ok["Id"])] = None
        for bad in response.get("Failed", []):
            outcomes[int(bad["Id"])] = Failure(
                str(bad.get("Code", "")), str(bad.get("Message", ""))[:300], bool(bad.get("SenderFault", False))
            )
        return outcomes

    def _probe(self) -> bool:
        try:
            self._client.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
        except Exception:
            return False
        return True
