"""Execution function: orders.fifo → the exchange, exactly once per signal.

Two lines of defence against a second order: powertools idempotency on DynamoDB keyed by the signal id
(payload-validated on the plan), then the use-case's own conditional state write and client-order-id
lookup (``tradeengine.pipeline.execute``).
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
from tradeengine.pipeline.idempotency import once_per_signal
from tradeengine.pipeline.sqs_batch import Pacer, process_fifo, run_record
from tradeengine.stores import aws

DEPS = _deps.build_deps(batch_counters=True, function="execution")  # flushed at the end of every invocation
execute_once = once_per_signal(DEPS.settings, lambda body: execute_message(body, DEPS))
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
SQS = aws.client("sqs")
PACER = Pacer(SQS, DEPS.settings.orders_queue_url)  # a postponed plan's group waits with it (the venue's budget)


def record_handler(record: SQSRecord) -> object:
    postpone = PACER.postpone_for(record.raw_event)
    return run_record(record.body, execute_once, DEPS.order_dead_letters, postpone=postpone)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    execute_once.register_lambda_context(context)
    return process_fifo(event, context, record_handler, processor, PACER, DEPS.counters.flush)
