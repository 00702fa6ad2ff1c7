"""Execution function: orders.fifo → the exchange, exactly once per signal.

One order per signal: the use-case's conditional SIZED → SUBMITTED write before anything is sent, the
client-order-id lookup before any resend, and the recorded plan as what is placed
(``tradeengine.pipeline.execute``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from tradeengine.logs import logger
from tradeengine.metrics import metrics
from tradeengine.pipeline import deps as _deps
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.sqs_batch import Pacer, process_fifo, run_record
from tradeengine.stores import aws

DEPS = _deps.build_deps(batch_counters=True, function="execution")  # flushed at the end of every invocation
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
SQS = aws.client("sqs")
PACER = Pacer(SQS, DEPS.settings.orders_queue_url)  # a postponed plan's group waits with it (the venue's budget)


def record_handler(record: SQSRecord) -> object:
    postpone = PACER.postpone_for(record.raw_event)
    return run_record(record.body, _execute, DEPS.order_dead_letters, postpone=postpone)


def _execute(body: Any) -> object:
    return execute_message(body, DEPS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_fifo(event, context, record_handler, processor, PACER, DEPS.counters.flush)
