"""`make bench`: figures printed as ``BENCH key=value``, each beside a baseline measured in the same run.

This machine is noisy, so figures are medians over many warm iterations, and the baseline (the cost
of validating the signal alone) shows how much of the time is the engine's own work.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

GOAL_SIZING_US_P50 = 50.0


def _timings_us(fn: Callable[[], object], iterations: int) -> list[float]:
    for _ in range(200):  # warm caches and pydantic's validators
        fn()
    gc.disable()
    try:
        out = []
        for _ in range(iterations):
            start = time.perf_counter_ns()
            fn()
            out.append((time.perf_counter_ns() - start) / 1000)
        return out
    finally:
        gc.enable()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_sizing(iterations: int = 20000) -> dict[str, str]:
    import json

    from tradeengine.engine import decide
    from tradeengine.exchange_info import parse_exchange_info
    from tradeengine.sizing import Market

    from contracts import OrderPlan, Signal

    info = json.loads((Path(__file__).parents[1] / "fixtures" / "exchange_info_2021_trimmed.json").read_text())
    rules = parse_exchange_info(info)
    now = datetime.now(UTC)
    body = {
        "strategy_id": "momentum_v1",
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": 45000.0,
        "quantity": 0.0,
        "confidence": 0.85,
        "timestamp": now.isoformat(),
        "meta": {"order_type": "market", "simulate": True},
    }
    market = Market(Decimal("45000"))
    assert isinstance(decide(Signal.model_validate(body), rules, market, now), OrderPlan)

    def validate_only() -> object:
        return Signal.model_validate(body)

    def validate_size_risk() -> object:
        return decide(Signal.model_validate(body), rules, market, now)

    bracket_body = {**body, "meta": {"order_type": "limit", "stop_loss_pct": 2, "take_profit_pct": 5}}

    def with_brackets() -> object:
        return decide(Signal.model_validate(bracket_body), rules, market, now)

    baseline = _timings_us(validate_only, iterations)
    total = _timings_us(validate_size_risk, iterations)
    brackets = _timings_us(with_brackets, iterations // 2)
    p50 = statistics.median(total)
    validate_p50 = statistics.median(baseline)
    return {
        "sizing_us_p50": f"{p50:.1f}",
        "sizing_us_p99": f"{_pct(total, 0.99):.1f}",
        "sizing_baseline_validate_us_p50": f"{validate_p50:.1f}",
        "sizing_engine_only_us_p50": f"{p50 - validate_p50:.1f}",
        # Microseconds follow the machine and its load; the ratio to validation in the same run travels better.
        "sizing_over_validate_p50": f"{p50 / validate_p50:.1f}",
        "sizing_with_brackets_us_p50": f"{statistics.median(brackets):.1f}",
        "sizing_goal_us_p50": f"{GOAL_SIZING_US_P50:.0f}",
        "sizing_goal_met": str(p50 <= GOAL_SIZING_US_P50).lower(),
    }


def main() -> int:
    for key, value in bench_sizing().items():
        print(f"BENCH {key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
