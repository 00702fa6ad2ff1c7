"""`make bench` (its bench-e2e part): what one signal costs in requests and CPU, beside a floor in the same run.

The real handlers (API → sizing → execution, then one monitor run) on the servers bench_e2e starts, with
every request counted where it leaves the process (``tests/perf/call_meter.py``: botocore's event hooks,
pymongo's command monitoring, requests' adapter).

Each request is charged to the stage running when it left: ``api``, ``sizing``, ``execution``,
``monitor``, or ``esm`` (Lambda's event source mapping, standing in here: its receives and deletes are not
the functions' requests and not in the per-signal figures). CPU is the process's CPU time inside each
handler call, nothing else running. The counted signals come after WARMUP signals that fill the caches a
cold container starts without (rules, budget limits, snapshots); the events topic exists, as deployed.

The floor (``tests/perf/bench_floor.py``) makes the journey's minimal calls bare, with the same item and
message bodies the engine sent: record, queue, size-state, queue, submit-state, the order, fill-state.
Both modes are counted: live (the Binance adapter on the local exchange, the headline figures) and the
paper exchange (``*_paper``). Figures only, no asserts; the goals are printed beside them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.perf.call_meter import METER, PER_SIGNAL_STAGES, Meter, hook, install, uninstall

SIGNALS = int(os.environ.get("BENCH_CALLS_SIGNALS", "20"))
WARMUP = int(os.environ.get("BENCH_CALLS_WARMUP", "4"))  # one signal per symbol (SYMBOLS) fills its caches
BATCH = 10  # the event source mapping's batch size: what a busy queue hands each invocation
GOAL_AWS_CALLS = 8
GOAL_CPU_OVER_FLOOR = 1.5
GOAL_AUDIT_WRITES = 2


def _journey(meter: Meter, stack: Any, fns: dict[str, Any], bearer: str, ids: list[str], first: int) -> None:
    """Signals through the API, then sizing and execution as Lambda would invoke them: one invocation per
    receive of up to 10 (``ids`` of one: one signal at a time). Signal ``first + i`` trades SYMBOLS[that % 4]."""
    from tests.chaos.harness import invoke, post, receive, settle, signal

    for i, sid in enumerate(ids):
        status, body = meter.run("api", post, fns["api"], signal(sid, first + i), bearer)
        if status != 202:
            raise RuntimeError(f"the API refused {sid}: {status} {body}")
    for stage, url in (("sizing", stack.signals_url), ("execution", stack.orders_url)):
        deadline, handled = time.monotonic() + 10, 0
        while handled < len(ids) and time.monotonic() < deadline:
            event = meter.run("esm", receive, stack.sqs, url, 10, 1)
            if event["Records"]:
                reply = meter.run(stage, invoke, fns[stage], event)
                meter.run("esm", settle, stack.sqs, url, event, reply)
                handled += len(event["Records"])


def _stack(servers: Any, live: bool) -> Any:
    from tradeengine.stores import aws
    from tradeengine.stores.events import create_topic

    from tests.chaos.harness import Stack
    from tests.chaos.servers import FAKE_AWS

    os.environ.update(FAKE_AWS)
    sns = aws.client("sns", endpoint_url=servers.aws_url, region="us-east-1")
    topic = create_topic(sns, f"bench-events-{uuid.uuid4().hex[:6]}")
    env = {"EXECUTION_EVENTS_TOPIC_ARN": topic}
    if not live:
        env.update({"SIMULATION_ENABLED": "true", "PAPER_STARTING_BALANCES": "USDT=100000000"})
    return Stack.create(servers, visibility_timeout=30, **env)


@dataclass
class Counted:
    """One mode's counts: requests per signal by stage and call, CPU per signal by stage, a monitor run."""

    requests: Counter[tuple[str, str, str, str]]
    mongo_docs: Counter[str]
    cpu_s: Counter[str]
    signals: int
    filled: int
    samples: dict[str, Any]

    def per_signal(self, kind: str, stages: tuple[str, ...] = PER_SIGNAL_STAGES) -> float:
        total = sum(n for (stage, k, _, _), n in self.requests.items() if k == kind and stage in stages)
        return total / self.signals

    def cpu_ms(self, stages: tuple[str, ...] = PER_SIGNAL_STAGES) -> float:
        return 1000 * sum(self.cpu_s[s] for s in stages) / self.signals


def count_mode(servers: Any, live: bool, batch: int = 1) -> Counted:
    """SIGNALS signals, ``batch`` at a time, after WARMUP uncounted ones, then one monitor run."""
    from tests.chaos.harness import functions, invoke, token
    from tests.perf.bench_venue import limits

    meter = install()
    servers.faults()
    servers.admin("reset", {})
    limits(servers, {"scale": "10"})
    stack = _stack(servers, live)
    fns = functions(stack)
    for client in (stack.sqs, stack.ddb):
        hook(client.meta.events)
    bearer, run = token(), uuid.uuid4().hex[:6]
    for i in range(WARMUP):
        _journey(meter, stack, fns, bearer, [f"calls-warm-{run}-{i}"], i)
    meter.requests.clear()
    meter.mongo_docs.clear()
    meter.cpu_s.clear()
    meter.samples.clear()
    ids = [f"calls-{run}-{i:03d}" for i in range(SIGNALS)]
    meter.active = True
    try:
        for start in range(0, len(ids), batch):
            _journey(meter, stack, fns, bearer, ids[start : start + batch], start)
        meter.run("monitor", invoke, fns["monitor"], {"source": "aws.events", "detail-type": "Scheduled Event"})
    finally:
        meter.active = False
    deps = stack.deps()
    filled = sum(1 for sid in ids if (r := deps.store.get(sid)) is not None and r.state.value == "FILLED")
    samples = dict(meter.samples)
    samples.update(stack=stack, servers=servers)
    return Counted(Counter(meter.requests), Counter(meter.mongo_docs), Counter(meter.cpu_s), SIGNALS, filled, samples)


def figures(modes: dict[str, Counted], floor: Any) -> dict[str, str]:
    """``modes``: suffix → counts; the headline figures are the unsuffixed mode's (live, one at a time)."""
    live = modes[""]
    out: dict[str, str] = {"calls_signals": str(live.signals), "calls_batch": str(BATCH)}
    for suffix, c in modes.items():
        out[f"calls_filled{suffix}"] = str(c.filled)
        out[f"aws_calls_per_signal{suffix}"] = f"{c.per_signal('aws'):.2f}"
        for stage in PER_SIGNAL_STAGES:
            out[f"aws_calls_{stage}{suffix}"] = f"{c.per_signal('aws', (stage,)):.2f}"
        out[f"aws_calls_monitor_run{suffix}"] = f"{c.per_signal('aws', ('monitor',)) * c.signals:.0f}"
        out[f"mongo_writes_per_signal{suffix}"] = f"{c.per_signal('mongo write'):.2f}"
        docs = sum(c.mongo_docs[s] for s in PER_SIGNAL_STAGES) / c.signals
        out[f"mongo_docs_written_per_signal{suffix}"] = f"{docs:.2f}"
        out[f"mongo_reads_per_signal{suffix}"] = f"{c.per_signal('mongo read'):.2f}"
        out[f"venue_requests_per_signal{suffix}"] = f"{c.per_signal('venue'):.2f}"
        out[f"handler_cpu_ms_per_signal{suffix}"] = f"{c.cpu_ms():.1f}"
        for stage in PER_SIGNAL_STAGES:
            out[f"handler_cpu_ms_{stage}{suffix}"] = f"{c.cpu_ms((stage,)):.1f}"
        out[f"handler_cpu_ms_monitor_run{suffix}"] = f"{c.cpu_ms(('monitor',)) * c.signals:.1f}"
    out["aws_calls_per_signal_floor"] = f"{floor.aws_calls:.2f}"
    out["venue_requests_per_signal_floor"] = f"{floor.venue_requests:.2f}"
    out["handler_cpu_floor_ms_per_signal"] = f"{floor.cpu_ms:.1f}"
    ratio = live.cpu_ms() / floor.cpu_ms if floor.cpu_ms else float("nan")
    out["handler_cpu_over_floor"] = f"{ratio:.1f}"
    out["aws_calls_per_signal_goal"] = str(GOAL_AWS_CALLS)
    out["aws_calls_per_signal_goal_met"] = str(live.per_signal("aws") <= GOAL_AWS_CALLS).lower()
    out["handler_cpu_over_floor_goal"] = f"{GOAL_CPU_OVER_FLOOR}"
    out["handler_cpu_over_floor_goal_met"] = str(ratio <= GOAL_CPU_OVER_FLOOR).lower()
    out["mongo_writes_per_signal_goal"] = str(GOAL_AUDIT_WRITES)
    out["mongo_writes_per_signal_goal_met"] = str(live.per_signal("mongo write") <= GOAL_AUDIT_WRITES).lower()
    return out


def table(counted: Counted, title: str) -> str:
    """Which request each one is, per signal (a monitor run's once), as a rich table."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for name, justify in (("stage", "left"), ("kind", "left"), ("call", "left"), ("target", "left"), ("n", "right")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    order = {s: k for k, s in enumerate((*PER_SIGNAL_STAGES, "monitor", "esm"))}
    rows = sorted(counted.requests.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1], -kv[1], kv[0][2]))
    for (stage, kind, call, target), n in rows:
        per = n if stage == "monitor" else n / counted.signals
        unit = " /run" if stage == "monitor" else ""
        t.add_row(stage, kind, call, target, f"{per:.2f}{unit}")
    buffer = StringIO()
    Console(file=buffer, width=140, no_color=True).print(t)
    return buffer.getvalue()


def run(servers: Any) -> tuple[dict[str, str], str]:
    """Both modes and the floor: the BENCH figures, and the tables that say which call each one is."""
    from tests.perf import bench_floor

    started = time.monotonic()
    live = count_mode(servers, live=True)
    floor = bench_floor.run(live.samples, METER, SIGNALS)
    batched = count_mode(servers, live=True, batch=BATCH)
    paper = count_mode(servers, live=False)
    tables = "".join(
        table(c, f"requests per signal, {what}, {c.signals} signals")
        for c, what in (
            (live, "live (Binance adapter on the local exchange), one at a time"),
            (batched, f"live, {BATCH} at a time (one invocation per stage)"),
            (paper, "paper exchange, one at a time"),
        )
    )
    uninstall()
    found = figures({"": live, f"_batch{BATCH}": batched, "_paper": paper}, floor)
    found["calls_bench_s"] = f"{time.monotonic() - started:.0f}"
    return found, tables


def main() -> int:
    """This part alone (``python -m tests.perf.bench_calls``); ``make bench-e2e`` runs it on its servers."""
    from tests.perf.on_servers import run_on_servers

    install()  # before any client: the audit's MongoClient sees the listener only if created after it
    return run_on_servers(run)


if __name__ == "__main__":
    raise SystemExit(main())
