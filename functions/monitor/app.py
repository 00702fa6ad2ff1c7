"""Monitor function (EventBridge schedule): follow open orders to their end, place exits after fills."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tradeengine.observability import logger, metrics
from tradeengine.pipeline import deps as _deps
from tradeengine.pipeline.monitor import run_monitor

DEPS = _deps.build_deps(batch_counters=True)  # flushed at the end of every invocation


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        report = run_monitor(DEPS)
    finally:
        DEPS.counters.flush()
    logger.info("monitor pass", extra={"checked": report.checked, "changed": len(report.changed)})
    return asdict(report)
