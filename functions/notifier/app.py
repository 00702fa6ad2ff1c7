"""Notifier function: notifications.fifo (the execution events' topic, raw) → Telegram, Discord, Slack,
signed webhooks (``tradeengine.pipeline.notify``).

Its own composition root: the channels (control table), what was delivered and the counters (counters
table), an HTTP client. No exchange, no signal table, no order queue: a notifier that fails cannot touch a
trade. SQS FIFO partial batch: a message that fails holds the rest of its group in this batch (a strategy's
messages arrive in order), is postponed by its backoff, and dead-letters after maxReceiveCount.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from tradeengine.config import get_settings
from tradeengine.logs import logger
from tradeengine.metrics import metrics
from tradeengine.pipeline.notify import NotifyDeps, notify_message
from tradeengine.pipeline.sqs_batch import Pacer, process_fifo, run_record
from tradeengine.stores import aws
from tradeengine.stores.channels import DynamoDBChannels, DynamoDBDelivered
from tradeengine.stores.counters import BufferedCounters, DynamoDBCounters
from tradeengine.stores.http_out import UrllibSender
from tradeengine.stores.queues import SqsDeadLetters

SETTINGS = get_settings()
COUNTERS = BufferedCounters(DynamoDBCounters.from_settings(SETTINGS))  # flushed at the end of every invocation
DEPS = NotifyDeps(
    channels=DynamoDBChannels.from_settings(SETTINGS),  # read per event that is someone's message: in force at once
    delivered=DynamoDBDelivered.from_settings(SETTINGS),
    sender=UrllibSender(),
    counters=COUNTERS,
    retry_seconds=SETTINGS.notify_retry_seconds,
    telegram_api=SETTINGS.telegram_api_url,
)
DEAD_LETTERS = SqsDeadLetters(SETTINGS.notifications_dlq_url or "")
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
PACER = Pacer(aws.client("sqs"), SETTINGS.notifications_queue_url)


def record_handler(record: SQSRecord) -> object:
    postpone = PACER.postpone_for(record.raw_event)
    receives = int((record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount", "1") or 1)
    return run_record(record.body, lambda body: notify_message(body, DEPS, receives), DEAD_LETTERS, postpone=postpone)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics()
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_fifo(event, context, record_handler, processor, PACER, COUNTERS.flush)
