"""Sizing function: signals.fifo → rules + market + risk → orders.fifo, or a REJECTED status.

SQS FIFO partial batch: a failed record fails the rest of its message group in this batch (order per
symbol is kept), and only those are redelivered.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from tradeengine.logs import logger
from tradeengine.metrics import metrics
from tradeengine.pipeline import deps as _deps
from tradeengine.pipeline.size import size_message
from tradeengine.pipeline.sqs_batch import Pacer, process_fifo, run_record
from tradeengine.stores import aws

DEPS = _deps.build_deps(batch_counters=True, function="sizing")  # flushed at the end of every invocation
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
PACER = Pacer(aws.client("sqs"), DEPS.settings.signals_queue_url)  # a postponed signal's group waits with it


def record_handler(record: SQSRecord) -> object:
    postpone = PACER.postpone_for(record.raw_event)
    return run_record(record.body, lambda body: size_message(body, DEPS), DEPS.dead_letters, postpone=postpone)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_fifo(event, context, record_handler, processor, PACER, DEPS.counters.flush)
