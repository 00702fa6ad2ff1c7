"""Sizing function: signals.fifo → rules + market + risk → orders.fifo, or a REJECTED status.

SQS FIFO partial batch: a failed record fails the rest of its message group in this batch (order per
symbol is kept), and only those are redelivered.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from tradeengine.observability import logger, metrics
from tradeengine.pipeline import deps as _deps
from tradeengine.pipeline.size import size_message
from tradeengine.pipeline.sqs_batch import run_record

DEPS = _deps.build_deps(batch_counters=True)  # flushed at the end of every invocation
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> object:
    return run_record(record.body, lambda body: size_message(body, DEPS), DEPS.dead_letters)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        DEPS.counters.flush()
