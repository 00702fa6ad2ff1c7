"""Monitor function (EventBridge schedule): follow open orders to their end, place exits after fills."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tradeengine.logs import logger
from tradeengine.metrics import metrics
from tradeengine.pipeline import deps as _deps
from tradeengine.pipeline.events_out import drain_deps
from tradeengine.pipeline.monitor import MonitorIncomplete, run_monitor

DEPS = _deps.build_deps(batch_counters=True, function="monitor")  # flushed at the end of every invocation
MARGIN_S = 10.0  # left of the function's timeout for writing the cursor, the counters and the logs


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    budget_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - MARGIN_S)
    try:
        report = run_monitor(DEPS, budget_s=budget_s)
    finally:
        events = drain_deps(DEPS)  # the execution events a bus outage left in the outbox; never raises
        DEPS.counters.flush()
    logger.info(
        "monitor pass",
        extra={
            "checked": report.checked,
            "changed": len(report.changed),
            "completed": report.completed,
            "events_caught_up": events.published,
            "events_left": events.left,
        },
    )
    if report.failures:  # the others were followed and the cursor moved on; the function's Errors alarm fires
        raise MonitorIncomplete(f"could not follow {len(report.failures)}: {'; '.join(report.failures[:10])}")
    return asdict(report)
