"""`make bench-e2e`: a signal accepted by the API → its order acknowledged by the exchange, 1,000 signals.

The real handlers (functions/*/app.py, each "container" its own module instance) on real local servers:
MiniStack (SQS FIFO, DynamoDB), SecantusDB (audit), the local Binance-compatible exchange through the
Binance adapter (SIMULATION_ENABLED=false). Threads stand for Lambda: API callers post as fast as they
can, and event-source pollers (long polling, batches of 10, partial batch failures) run sizing and
execution containers. Latency per signal comes from its state history (QUEUED, written when the API
accepts it, → the state the exchange's acknowledgement moved it to); throughput is signals / (first
accept → last acknowledgement). ``e2e_unloaded_ms_*``: the same path with one signal in flight at a
time, before the load (what a lone signal waits; the loaded p50 is mostly queueing behind the backlog).
lost / duplicates are counted on the exchange's book by client order
id. Bounded: BENCH_E2E_TIMEOUT seconds. Figures only, no asserts; the goals are printed beside them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

COUNT = int(os.environ.get("BENCH_E2E_COUNT", "1000"))
TIMEOUT_S = float(os.environ.get("BENCH_E2E_TIMEOUT", "300"))
POSTERS = int(os.environ.get("BENCH_E2E_POSTERS", "4"))
CONTAINERS = int(os.environ.get("BENCH_E2E_CONTAINERS", "4"))  # per queue
UNLOADED = int(os.environ.get("BENCH_E2E_UNLOADED", "30"))
GOALS = {"e2e_ms_p50": 150.0, "e2e_ms_p99": 1000.0, "e2e_signals_per_s": 200.0}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _poller(stack: Any, fn: Any, url: str, stop: threading.Event) -> None:
    from tests.chaos.harness import invoke, receive, settle

    while not stop.is_set():
        event = receive(stack.sqs, url, wait_s=1)
        if event["Records"]:
            settle(stack.sqs, url, event, invoke(fn, event))


def _in_queue(stack: Any, url: str) -> int:
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _acked_ms(record: Any) -> float | None:
    accepted = next((s.at for s in record.history if s.state.value == "QUEUED"), None)
    acked = next((s.at for s in record.history if s.state.value in ("OPEN", "FILLED", "PARTIALLY_FILLED")), None)
    return (acked - accepted).total_seconds() * 1000 if accepted and acked else None


def _one_at_a_time(deps: Any, api: Any, bearer: str, prefix: str, n: int) -> list[float]:
    """Latency without a backlog: one signal in the pipeline at a time (the pollers are already running)."""
    from tests.chaos.harness import post, signal

    out = []
    for i in range(n):
        sid = f"{prefix}-{i:03d}"
        post(api, signal(sid, i), bearer)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            record = deps.store.get(sid)
            if record is not None and (ms := _acked_ms(record)) is not None:
                out.append(ms)
                break
            time.sleep(0.005)
    return out


def run(servers: Any) -> dict[str, str]:
    from tradeengine.sizing_base import client_order_id

    from tests.chaos.harness import IN_FLIGHT, Stack, exchange_orders, post, signal, token

    servers.faults()
    servers.admin("reset", {})
    stack = Stack.create(servers, visibility_timeout=30)
    run_id = uuid.uuid4().hex[:6]
    ids = [f"e2e-{run_id}-{i:05d}" for i in range(COUNT)]
    apis = [stack.load("api") for _ in range(POSTERS)]
    sizers = [stack.load("sizing") for _ in range(CONTAINERS)]
    executors = [stack.load("execution") for _ in range(CONTAINERS)]
    bearer = token()
    stop = threading.Event()
    pollers = [
        threading.Thread(target=_poller, args=(stack, fn, stack.signals_url, stop), daemon=True) for fn in sizers
    ]
    pollers += [
        threading.Thread(target=_poller, args=(stack, fn, stack.orders_url, stop), daemon=True) for fn in executors
    ]
    for t in pollers:
        t.start()

    deps = stack.deps()
    unloaded = _one_at_a_time(deps, apis[0], bearer, f"e2e1-{run_id}", UNLOADED)
    refused: list[int] = []

    def post_share(k: int) -> None:
        for i in range(k, COUNT, POSTERS):
            status, _ = post(apis[k], signal(ids[i], i), bearer)
            if status != 202:
                refused.append(status)

    started = time.monotonic()
    with ThreadPoolExecutor(POSTERS) as pool:
        list(pool.map(post_share, range(POSTERS)))
    posted_s = time.monotonic() - started
    deadline = started + TIMEOUT_S
    while time.monotonic() < deadline:
        if _in_queue(stack, stack.signals_url) == 0 and _in_queue(stack, stack.orders_url) == 0:
            break
        time.sleep(0.5)
    stop.set()
    for t in pollers:
        t.join(10)

    latencies, first_accept, last_ack, lost = [], None, None, 0
    for sid in ids:
        record = deps.store.get(sid)
        if record is None or record.state.value in IN_FLIGHT:
            lost += 1
            continue
        steps = {step.state.value: step.at for step in record.history}
        accepted = steps.get("QUEUED")
        acked = next((s.at for s in record.history if s.state.value in ("OPEN", "FILLED", "PARTIALLY_FILLED")), None)
        if accepted is None or acked is None:
            lost += 1
            continue
        latencies.append((acked - accepted).total_seconds() * 1000)
        first_accept = accepted if first_accept is None else min(first_accept, accepted)
        last_ack = acked if last_ack is None else max(last_ack, acked)
    placed = exchange_orders(servers)
    per_signal = [placed.get(client_order_id(sid), 0) for sid in ids]
    lost = max(lost, sum(1 for n in per_signal if n == 0))
    duplicates = sum(n - 1 for n in per_signal if n > 1)
    span = (last_ack - first_accept).total_seconds() if first_accept and last_ack else float("nan")
    rate = len(latencies) / span if span and span == span else 0.0
    figures = {
        "e2e_ms_p50": _pct(latencies, 0.50) if latencies else float("nan"),
        "e2e_ms_p99": _pct(latencies, 0.99) if latencies else float("nan"),
        "e2e_signals_per_s": rate,
    }
    out = {
        "e2e_signals": str(COUNT),
        "e2e_ms_p50": f"{figures['e2e_ms_p50']:.0f}",
        "e2e_ms_p90": f"{_pct(latencies, 0.90):.0f}" if latencies else "nan",
        "e2e_ms_p99": f"{figures['e2e_ms_p99']:.0f}",
        "e2e_signals_per_s": f"{rate:.1f}",
        "e2e_lost": str(lost),
        "e2e_duplicates": str(duplicates),
        "e2e_api_refused": str(len(refused)),
        "e2e_api_accept_per_s": f"{COUNT / posted_s:.1f}",
        "e2e_containers_per_queue": str(CONTAINERS),
        "e2e_api_callers": str(POSTERS),
    }
    out["e2e_unloaded_signals"] = str(len(unloaded))
    out["e2e_unloaded_ms_p50"] = f"{_pct(unloaded, 0.5):.0f}" if unloaded else "nan"
    out["e2e_unloaded_ms_p99"] = f"{_pct(unloaded, 0.99):.0f}" if unloaded else "nan"
    for key, goal in GOALS.items():
        met = figures[key] >= goal if key.endswith("per_s") else figures[key] <= goal
        out[f"{key}_goal"] = f"{goal:.0f}"
        out[f"{key}_goal_met"] = str(met and lost == 0 and duplicates == 0).lower()
    return out


def main() -> int:
    import logging

    from tests.chaos.servers import Servers

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Petrosa/TradeEngine")
    logging.basicConfig(level=logging.CRITICAL)
    servers = Servers.start()
    out = sys.stdout
    log = (servers.work / "engine.log").open("w")
    sys.stdout = sys.stderr = log  # the handlers print EMF metrics and logs, as a Lambda does
    try:
        figures = run(servers)
    finally:
        sys.stdout, sys.stderr = out, sys.__stderr__
        log.close()
        servers.stop()
    for key, value in figures.items():
        print(f"BENCH {key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
