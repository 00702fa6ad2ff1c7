"""The fault matrix: each scenario sends valid signals, breaks one thing, and counts on the exchange.

Every scenario gets fresh tables and queues, the exchange's book reset, and its own signal ids; it
returns a ``Tally`` (lost and duplicates must be 0, no signal may be left in flight after the monitor,
each signal's audit trail in MongoDB must hold every step of its history, the DLQs stay empty).
``Size`` scales them: ``quick`` for the pytest subset, ``full`` for ``make chaos``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.chaos.harness import (
    Crash,
    FakeContext,
    Stack,
    Tally,
    functions,
    invoke,
    post,
    receive,
    run_pipeline,
    settle,
    signal,
    tally,
    token,
)
from tests.chaos.scenarios_events import events_bus_unavailable
from tests.chaos.scenarios_notify import notifier_target_down
from tests.chaos.servers import Servers, bridge_proc


@dataclass(frozen=True)
class Size:
    signals: int = 12
    mongo_outage_s: float = 30.0
    bridge_signals: int = 60
    mongo_signals: int = 8  # each audit write waits out the driver's 2.5 s server selection while it is down


QUICK = Size(signals=6, mongo_outage_s=5.0, bridge_signals=30, mongo_signals=3)
FULL = Size()

Scenario = Callable[[Servers, Size], Tally]


def _ids(name: str, n: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{name}-{run}-{i:04d}" for i in range(n)]


def _fresh(servers: Servers, **env: Any) -> Stack:
    servers.faults()
    servers.admin("reset", {})
    return Stack.create(servers, **env)


def _post_all(stack: Stack, fns: dict[str, Any], ids: list[str]) -> list[str]:
    bearer = token()
    accepted = []
    for i, sid in enumerate(ids):
        status, body = post(fns["api"], signal(sid, i), bearer)
        if status == 202:
            accepted.append(body["signal_id"])
        else:
            raise AssertionError(f"the API refused a valid signal: {status} {body}")
    return accepted


# -- the exchange misbehaves (Binance adapter against the local exchange) --------------------------------


def exchange_timeout_after_accept(servers: Servers, size: Size) -> Tally:
    """Every answer comes 1.5 s late and the client gives up after 0.5 s: the orders are placed, the
    engine does not know. Lookups time out too, so the messages are retried; a lookup that does not
    find an order within the quiet period after its send is retried later rather than resent, and each
    lookup by client order id finally finds its order: nothing is sent twice."""
    stack = _fresh(servers, BINANCE_TIMEOUT_SECONDS="0.5", visibility_timeout=3)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("timeout", size.signals))
    while receive_and_run(stack, fns, "sizing"):
        pass
    servers.faults(latency_ms=1500)
    for _ in range(3):
        receive_and_run(stack, fns, "execution")
    # No pause for the exchange to finish: the engine itself waits out the quiet period (twice the
    # receive window) before it takes "not found" to mean "never sent".
    servers.faults()
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


def exchange_5xx(servers: Servers, size: Size) -> Tally:
    """The exchange books each order and then answers 503: the outcome is unknown, resolved by lookup."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("5xx", size.signals))
    while receive_and_run(stack, fns, "sizing"):
        pass
    servers.faults(fail_next=size.signals, fail_status=503)
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


def rate_limited_429_and_418(servers: Servers, size: Size) -> Tally:
    """429 then 418 with Retry-After on sizing's market data and on execution's placements."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("ratelimit", size.signals))
    # One 418 then one 429 for sizing's market data, then the same for execution's placements: each
    # costs the messages one receive (the adapter refuses locally until Retry-After has passed), well
    # inside maxReceiveCount; a longer storm ends in the DLQ by design (alarm, replay: docs/OPERATIONS.md).
    servers.faults(rate_limit_next=1, ban_next=1, retry_after_s=1)
    for _ in range(20):
        if not receive_and_run(stack, fns, "sizing") and not servers.admin("state")["faults"]["rate_limit_next"]:
            break
        time.sleep(0.5)
    servers.faults(rate_limit_next=1, ban_next=1, retry_after_s=1)
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


def venue_budget_exhausted(servers: Servers, size: Size) -> Tally:
    """The exchange enforces its rateLimits at 5 % (300 weight a minute, 5 orders per 10 s) and answers 429
    to the first requests besides: more signals than two order windows hold are paced through SQS (each
    waits for a window with room, the 429s stop every container until Retry-After), never refused, never
    lost, never banned (418)."""
    limits = {"enforce": True, "scale": "0.05", "ban_after": 3}
    stack = _fresh(servers)
    servers.admin("limits", limits)
    try:
        fns = functions(stack)
        order_limit = next(int(r["limit"]) for r in servers.admin("limits")["rateLimits"] if r["interval"] == "SECOND")
        ids = _post_all(stack, fns, _ids("venuebudget", size.signals + order_limit))
        servers.faults(rate_limit_next=3, retry_after_s=1)
        run_pipeline(stack, fns, ids, timeout_s=120)
        result = tally(stack, fns, ids)
        bans = sum(int(ip["bans"]) for ip in servers.admin("limits")["ips"].values())
        if bans:
            result.problems.append(f"the exchange banned the engine's IP {bans} times")
        engines = [fns[name].DEPS.exchange for name in ("sizing", "execution", "monitor")]
        answered_418 = sum(ex.rate_limited.get(418, 0) for ex in engines)
        if answered_418:
            result.problems.append(f"the engine was answered 418 {answered_418} times")
        if not sum(ex.budget.denied for ex in engines if ex.budget is not None):
            result.problems.append("the budget never ran out: the scenario did not exhaust it")
        return result
    finally:
        servers.admin("limits", {})


def clock_skew(servers: Servers, size: Size) -> Tally:
    """The exchange's clock runs 20 s behind, then 20 s ahead: -1021, resync, resend (never a double)."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("skew", size.signals))
    servers.faults(clock_skew_ms=-20_000)
    half = len(ids) // 2
    run_pipeline(stack, fns, ids[:half], timeout_s=30)
    servers.faults(clock_skew_ms=20_000)
    run_pipeline(stack, fns, ids, timeout_s=60)
    servers.faults()
    return tally(stack, fns, ids)


def receive_and_run(stack: Stack, fns: dict[str, Any], stage: str) -> int:
    url = stack.signals_url if stage == "sizing" else stack.orders_url
    event = receive(stack.sqs, url)
    if event["Records"]:
        settle(stack.sqs, url, event, invoke(fns[stage], event))
    return len(event["Records"])


# -- redelivery and crashes ------------------------------------------------------------------------------


def sqs_redelivered_5_times(servers: Servers, size: Size) -> Tally:
    """The same SQS batch handed to sizing 5 times and the same order plans to execution 5 times, each
    time by a fresh container (no process-level memory helps)."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("redeliver", size.signals))
    for stage, url in (("sizing", stack.signals_url), ("execution", stack.orders_url)):
        events = []
        while (event := receive(stack.sqs, url, wait_s=1))["Records"]:
            events.append(event)
        for event in events:
            for _ in range(5):
                invoke(stack.load(stage), event)
            settle(stack.sqs, url, event, {"batchItemFailures": []})
    run_pipeline(stack, fns, ids, timeout_s=30)
    return tally(stack, fns, ids)


class _CrashingStore:
    """The signal store of one container, dying once per signal on the write after placement."""

    def __init__(self, real: Any, crash_on: set[str], states: frozenset[str]) -> None:
        self._real, self._crash_on, self._states = real, crash_on, states

    def advance(self, signal_id: str, step: Any) -> Any:
        if signal_id in self._crash_on and step.to.value in self._states:
            self._crash_on.discard(signal_id)
            raise Crash(f"execution died after the exchange accepted {signal_id}")
        return self._real.advance(signal_id, step)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def execution_crash_after_accept(servers: Servers, size: Size) -> Tally:
    """The exchange accepted the order, then the execution container died before saving the state: its
    idempotency record stays IN_PROGRESS until the invocation's time is up, then the redelivery looks
    the order up by client order id and records it, instead of placing it again."""
    stack = _fresh(servers, visibility_timeout=3)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("execcrash", size.signals))
    crash_on = set(ids[:2])  # two deaths: each costs the rest of its batch one receive (maxReceiveCount 5)
    fatal = fns["execution"]
    fatal.DEPS.store = _CrashingStore(fatal.DEPS.store, crash_on, frozenset({"OPEN", "FILLED", "PARTIALLY_FILLED"}))
    fns_after = {**fns, "execution": stack.load("execution")}
    while receive_and_run(stack, fns, "sizing"):
        pass
    deadline = time.monotonic() + 30
    while crash_on and time.monotonic() < deadline:  # the doomed container takes what it gets, and dies
        event = receive(stack.sqs, stack.orders_url, wait_s=1)
        if event["Records"]:
            settle(stack.sqs, stack.orders_url, event, invoke(fatal, event, FakeContext(remaining_ms=2000)))
    run_pipeline(stack, fns_after, ids, timeout_s=60)
    return tally(stack, fns_after, ids)


class _CrashingLedger:
    """The ledger of one execution container, dying before it records a fill, once per signal."""

    def __init__(self, real: Any, crash_on: set[str]) -> None:
        self._real, self._crash_on = real, crash_on

    def add(self, fills: Any) -> Any:
        doomed = {f.signal_id for f in fills} & self._crash_on
        if doomed:
            self._crash_on.difference_update(doomed)
            raise Crash(f"execution died between the fill and the ledger write of {sorted(doomed)}")
        return self._real.add(fills)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def book_crash_before_ledger(servers: Servers, size: Size) -> Tally:
    """The order filled, then the execution container died before the fill reached the ledger (and before
    the state moved on): the redelivery finds the order by client order id and books it, once."""
    stack = _fresh(servers, visibility_timeout=3)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("bookcrash", size.signals))
    crash_on = set(ids[:2])
    fatal = fns["execution"]
    fatal.DEPS.ledger = _CrashingLedger(fatal.DEPS.ledger, crash_on)
    fns_after = {**fns, "execution": stack.load("execution")}
    while receive_and_run(stack, fns, "sizing"):
        pass
    deadline = time.monotonic() + 30
    while crash_on and time.monotonic() < deadline:
        event = receive(stack.sqs, stack.orders_url, wait_s=1)
        if event["Records"]:
            settle(stack.sqs, stack.orders_url, event, invoke(fatal, event, FakeContext(remaining_ms=2000)))
    run_pipeline(stack, fns_after, ids, timeout_s=60)
    return tally(stack, fns_after, ids)


def book_duplicate_fill_reports(servers: Servers, size: Size) -> Tally:
    """Every filled order reported again and again: four monitor containers and four execution
    containers book the same orders at once (the redelivery, the monitor and execution racing). The
    ledger's conditional writes keep each fill once."""
    from tradeengine.pipeline.booking import book_order

    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("bookdup", size.signals))
    run_pipeline(stack, fns, ids, timeout_s=60)
    containers = [stack.load(stage).DEPS for stage in ("monitor", "execution") for _ in range(4)]
    deps = stack.deps()
    reports = []
    for sid in ids:
        record = deps.store.get(sid)
        entry = (record.execution or {}).get("entry", {}) if record else {}
        if entry.get("client_order_id"):
            order = deps.exchange.get_order(record.symbol, client_order_id=entry["client_order_id"])
            reports.append((order, sid, record.strategy_id))

    def report_all(container: Any) -> None:
        for order, sid, strategy in reports:
            book_order(order, sid, strategy, "entry", container)

    with ThreadPoolExecutor(len(containers)) as pool:
        list(pool.map(report_all, containers))
    return tally(stack, fns, ids)


# -- exits that cannot stand (issue: protect every position) ------------------------------------------------

_BRACKET = {"order_type": "market", "stop_loss_pct": 3, "take_profit_pct": 3}
_SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event"}


def _post_bracketed(stack: Stack, fns: dict[str, Any], ids: list[str]) -> None:
    bearer = token()
    for i, sid in enumerate(ids):
        status, body = post(fns["api"], signal(sid, i, meta=_BRACKET), bearer)
        if status != 202:
            raise AssertionError(f"the API refused a valid signal: {status} {body}")


def _protection_problems(stack: Stack, ids: list[str], want: str) -> list[str]:
    """Each signal's protection is ``want``; a flattened one was sold exactly once."""
    from tradeengine.sizing_base import client_order_id

    from tests.chaos.harness import exchange_orders

    deps, placed = stack.deps(), exchange_orders(stack.servers)
    problems = []
    for sid in ids:
        record = deps.store.get(sid)
        got = (record.execution or {}).get("protection") if record else None
        if got != want:
            problems.append(f"{sid}: protection={got}, wanted {want}")
        sells = placed.get(client_order_id(sid, "fl"), 0)
        if sells != (1 if want == "flattened" else 0):
            problems.append(f"{sid}: {sells} flatten orders")
    return problems


def _monitor_runs(fns: dict[str, Any], n: int) -> None:
    for _ in range(n):
        invoke(fns["monitor"], _SCHEDULED)


def exits_refused_after_fill(servers: Servers, size: Size) -> Tally:
    """Every exit pair is refused after its entry filled: the monitor retries them, then flattens each
    position at market, once (UNPROTECTED_POSITION_ACTION=flatten)."""
    stack = _fresh(servers, EXIT_RETRY_SECONDS="0", EXIT_PLACEMENT_ATTEMPTS="2")
    fns = functions(stack)
    ids = _ids("exitsrefused", size.signals)
    servers.faults(reject_next_lists=10 * size.signals)
    _post_bracketed(stack, fns, ids)
    run_pipeline(stack, fns, ids, timeout_s=60)
    _monitor_runs(fns, 3)
    result = tally(stack, fns, ids)
    result.problems += _protection_problems(stack, ids, "flattened")
    return result


def exits_refused_alert_policy(servers: Servers, size: Size) -> Tally:
    """The same with UNPROTECTED_POSITION_ACTION=alert: nothing is sold; each is counted unprotected."""
    stack = _fresh(servers, EXIT_RETRY_SECONDS="0", EXIT_PLACEMENT_ATTEMPTS="1", UNPROTECTED_POSITION_ACTION="alert")
    fns = functions(stack)
    ids = _ids("exitsalert", size.signals)
    servers.faults(reject_next_lists=10 * size.signals)
    _post_bracketed(stack, fns, ids)
    run_pipeline(stack, fns, ids, timeout_s=60)
    _monitor_runs(fns, 2)
    result = tally(stack, fns, ids)
    result.problems += _protection_problems(stack, ids, "unprotected")
    return result


def exits_unknown_after_fill(servers: Servers, size: Size) -> Tally:
    """Every exit pair reaches the book but its answer is lost (5xx): the monitor finds each pair by client
    order id and never places a second one."""
    stack = _fresh(servers, EXIT_RETRY_SECONDS="0")
    fns = functions(stack)
    ids = _ids("exitsunknown", size.signals)
    servers.faults(fail_next_lists=size.signals)
    _post_bracketed(stack, fns, ids)
    run_pipeline(stack, fns, ids, timeout_s=60)
    _monitor_runs(fns, 2)
    result = tally(stack, fns, ids)
    result.problems += _protection_problems(stack, ids, "protected")
    lists = [o for o in stack.servers.admin("state")["book"]["orders"] if int(o.get("order_list_id", -1)) >= 0]
    if len(lists) != 2 * len(ids):
        result.problems.append(f"{len(lists)} exit legs on the book for {len(ids)} entries (want 2 each)")
    return result


def exit_canceled_by_hand(servers: Servers, size: Size) -> Tally:
    """Someone cancels the exits on the exchange: the monitor notices, and flattens each position."""
    from contracts.orders import OrderPlan

    stack = _fresh(servers)
    fns = functions(stack)
    ids = _ids("byhand", size.signals)
    _post_bracketed(stack, fns, ids)
    run_pipeline(stack, fns, ids, timeout_s=60)
    deps = stack.deps()
    for sid in ids:
        record = deps.store.get(sid)
        brackets = OrderPlan.model_validate(record.plan).brackets
        deps.exchange.cancel_order(record.symbol, client_order_id=brackets.stop_loss.new_client_order_id)
    _monitor_runs(fns, 1)
    result = tally(stack, fns, ids)
    result.problems += _protection_problems(stack, ids, "flattened")
    return result


def protection_trips_mid_burst(servers: Servers, size: Size) -> Tally:
    """A burst of buys on one symbol, with the strategy's close in the middle of it. The opening buy's fee
    (0.05 USDT) stays inside the account's daily loss limit (0.07); the fees the burst and the close add
    pass it, so the buys sized before the trip trade and every buy sized after it is refused
    DAILY_LOSS_LIMIT (recorded, none lost, no order), and the trading state moves to REDUCING by itself."""
    from tradeengine.sizing_base import client_order_id

    from tests.chaos.harness import exchange_orders

    stack = _fresh(servers, MAX_DAILY_LOSS_ACCOUNT="0.07", PROTECTION_TRADING_STATE="REDUCING")
    fns = functions(stack)
    bearer = token()
    run = uuid.uuid4().hex[:6]
    half = max(1, size.signals // 2)
    opening, closing = f"trip-{run}-open", f"trip-{run}-close"
    before = [f"trip-{run}-a{i:03d}" for i in range(half)]
    after = [f"trip-{run}-b{i:03d}" for i in range(size.signals - half)]

    def send(*bodies: dict[str, Any]) -> None:
        for body in bodies:
            status, reply = post(fns["api"], body, bearer)
            assert status == 202, reply

    buy = {"symbol": "BTCUSDT", "quantity": 0.001}
    send(signal(opening, 0, **buy))
    run_pipeline(stack, fns, [opening], timeout_s=60)
    send(*(signal(sid, 0, **buy) for sid in before), signal(closing, 0, symbol="BTCUSDT", action="close"))
    run_pipeline(stack, fns, [*before, closing], timeout_s=60)
    send(*(signal(sid, 0, **buy) for sid in after))
    run_pipeline(stack, fns, after, timeout_s=60)
    result = tally(stack, fns, [opening, *before, closing])
    deps, placed = stack.deps(), exchange_orders(stack.servers)
    for sid in after:
        record = deps.store.get(sid)
        if record is None or record.code != "DAILY_LOSS_LIMIT":
            result.lost += 1
            result.problems.append(f"{sid}: {record.state.value if record else 'MISSING'} {record and record.code}")
        if placed.get(client_order_id(sid), 0):
            result.duplicates += 1
            result.problems.append(f"{sid}: an order was placed after the protection tripped")
    info = deps.trading_state.describe()
    if info.state.value != "REDUCING" or info.set_by != "protection:max_daily_loss_account":
        result.problems.append(f"trading state {info.state.value} set by {info.set_by!r}")
    result.signals += len(after)
    return result


def partial_fills(servers: Servers, size: Size) -> Tally:
    """A venue with little depth (25 USDT a price level): market buys fill across several levels in one
    answer, resting limit buys fill one level per price move (PARTIALLY_FILLED, run after run of the
    monitor). Every piece is booked exactly once (the book against the exchange's own book)."""
    import dataclasses

    from local.stack.procs import free_port
    from tests.chaos.servers import http_ok

    port = free_port()
    argv = list(servers.exchange.argv)
    argv[argv.index("--port") + 1] = str(port)
    thin = dataclasses.replace(
        servers.exchange,
        argv=[*argv, "--top-of-book-qty", "25"],
        port=port,
        log_path=servers.work / "exchange-thin.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/api/v3/ping"),
        proc=None,
    ).start()
    try:
        venue = dataclasses.replace(servers, exchange=thin)
        stack = Stack.create(venue)
        fns = functions(stack)
        bearer = token()
        n = max(2, size.signals // 2)
        market, limits = _ids("partialmkt", n), _ids("partiallmt", n)
        for i, sid in enumerate(market):
            status, body = post(fns["api"], signal(sid, i, symbol="BTCUSDT", quantity=0.002), bearer)
            assert status == 202, body
        for i, sid in enumerate(limits):
            fields = {"symbol": "BTCUSDT", "quantity": 0.002, "price": 49990.0, "meta": {"order_type": "limit"}}
            status, body = post(fns["api"], signal(sid, i, **fields), bearer)
            assert status == 202, body
        ids = market + limits
        run_pipeline(stack, fns, ids, timeout_s=60)
        deps = stack.deps()
        partial = set()
        for step in range(1, 4 * n + 8):  # each new price fills one more level of each resting buy
            venue.admin("price", {"symbol": "BTCUSDT", "price": str(49990 - step)})
            invoke(fns["monitor"], _SCHEDULED)
            partial |= {s for s in limits if (r := deps.store.get(s)) and r.state.value == "PARTIALLY_FILLED"}
            if all(deps.store.get(s).state.value == "FILLED" for s in limits):
                break
        result = tally(stack, fns, ids)
        multi = [s for s in market if len((deps.store.get(s).execution or {}).get("entry", {}).get("fills", [])) < 2]
        if multi:
            result.problems.append(f"market buys filled in one piece on a thin book: {multi}")
        if not partial:
            result.problems.append("no limit buy was ever seen PARTIALLY_FILLED")
        return result
    finally:
        thin.stop()


class _CrashingPlans:
    """orders.fifo of one sizing container, dying right after the k-th plan was sent (state not saved)."""

    def __init__(self, real: Any, after: int) -> None:
        self._real, self._left = real, after

    def send(self, signal_id: str, symbol: str, body: Any) -> Any:
        sent = self._real.send(signal_id, symbol, body)
        self._left -= 1
        if self._left == 0:
            raise Crash(f"sizing died after sending the plan of {signal_id}")
        return sent


def sizing_crash_mid_batch(servers: Servers, size: Size) -> Tally:
    """A sizing container dies in the middle of a batch, after sending one plan and before saving its
    SIZED state: the whole batch comes back; the done ones are replayed, the half-done one re-sized (the
    FIFO dedup id and execution's idempotency keep it to one order)."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("sizecrash", size.signals))
    doomed = stack.load("sizing")
    doomed.DEPS.plans = _CrashingPlans(doomed.DEPS.plans, after=max(2, size.signals // 2))
    event = receive(stack.sqs, stack.signals_url, wait_s=1)
    assert invoke(doomed, event) is None, "the drill was meant to kill the container"
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


def ddb_conditional_races(servers: Servers, size: Size) -> Tally:
    """The same signal posted by 6 API containers at once, the same SQS batch run by 4 sizing and then
    4 execution containers at once: conditional writes and idempotency let exactly one through."""
    stack = _fresh(servers)
    fns = functions(stack)
    ids = _ids("race", size.signals)
    apis = [stack.load("api") for _ in range(6)]
    bearer = token()
    with ThreadPoolExecutor(len(apis)) as pool:
        for i, sid in enumerate(ids):
            body = signal(sid, i)
            replies = list(pool.map(lambda api, b=body: post(api, b, bearer), apis))
            codes = sorted(r[0] for r in replies)
            if codes[0] != 202 and codes[-1] not in (202, 503):
                raise AssertionError(f"concurrent duplicates answered {codes}")
    for stage, url in (("sizing", stack.signals_url), ("execution", stack.orders_url)):
        containers = [stack.load(stage) for _ in range(4)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (event := receive(stack.sqs, url, wait_s=1))["Records"]:
            with ThreadPoolExecutor(len(containers)) as pool:
                replies = list(pool.map(lambda fn, e=event: invoke(fn, e), containers))
            failed = {f["itemIdentifier"] for r in replies if r for f in r.get("batchItemFailures", [])}
            done = [r for r in replies if r is not None]
            failures = {"batchItemFailures": [{"itemIdentifier": m} for m in failed]} if done else None
            settle(stack.sqs, url, event, failures)
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


# -- MongoDB down ------------------------------------------------------------------------------------------


def mongo_down(servers: Servers, size: Size) -> Tally:
    """The audit store is down while signals are sized and executed: trading goes on (state is the truth),
    the messages whose audit writes failed are retried, and once MongoDB is back every step is written."""
    stack = _fresh(servers, visibility_timeout=max(3, int(size.mongo_outage_s / 3)))
    fns = functions(stack)
    ids = _post_all(stack, fns, _ids("mongodown", size.mongo_signals))
    servers.mongo.stop()
    back_at = time.monotonic() + size.mongo_outage_s
    try:
        while time.monotonic() < back_at:
            if not (receive_and_run(stack, fns, "sizing") + receive_and_run(stack, fns, "execution")):
                time.sleep(0.2)
    finally:
        servers.mongo.start()
    run_pipeline(stack, fns, ids, timeout_s=60 + size.mongo_outage_s)
    return tally(stack, fns, ids)


# -- NATS and the bridge -------------------------------------------------------------------------------------


async def _publish(nats_url: str, subject: str, bodies: list[tuple[str, bytes]], retry_s: float = 30.0) -> None:
    """Publish with JetStream acks and Nats-Msg-Id = signal id, retrying each message until it is stored
    (what a careful publisher does through a server restart)."""
    import nats

    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    for sid, body in bodies:
        deadline = time.monotonic() + retry_s
        while True:
            try:
                await js.publish(subject, body, headers={"Nats-Msg-Id": sid}, timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    await nc.close()


def _nats_body(sid: str, i: int) -> bytes:
    return json.dumps(signal(sid, i)).encode()


def _queued(stack: Stack) -> int:
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=stack.signals_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _wait_queued(stack: Stack, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _queued(stack) < n and time.monotonic() < deadline:
        time.sleep(0.1)


def bridge_killed_mid_batch(servers: Servers, size: Size) -> Tally:
    """SIGKILL the bridge while it moves a stream into SQS, start it again: what it sent and never acked
    comes back from JetStream, and the SQS dedup id (the signal id) drops the copies."""
    stack = _fresh(servers)
    fns = functions(stack)
    tag = uuid.uuid4().hex[:6]
    bridge = bridge_proc(servers, stack.signals_url, tag, servers.work / f"bridge-{tag}.log").start()
    try:
        ids = _ids("bridgekill", size.bridge_signals)
        subject = bridge.env["NATS_SIGNAL_SUBJECT"]
        publisher = threading.Thread(
            target=lambda: asyncio.run(
                _publish(servers.nats_url, subject, [(s, _nats_body(s, i)) for i, s in enumerate(ids)])
            )
        )
        publisher.start()
        _wait_queued(stack, max(1, len(ids) // 3), 30)
        bridge.kill()
        publisher.join(60)
        bridge.start()
        _wait_queued(stack, len(ids), 30)
    finally:
        bridge.stop()
    run_pipeline(stack, fns, ids, timeout_s=120)
    return tally(stack, fns, ids)


def nats_restarted(servers: Servers, size: Size) -> Tally:
    """nats-server stops mid-stream and comes back on the same port with its JetStream store: the bridge
    reconnects, the publisher retries what was not acked, nothing is lost or doubled."""
    stack = _fresh(servers)
    fns = functions(stack)
    tag = uuid.uuid4().hex[:6]
    bridge = bridge_proc(servers, stack.signals_url, tag, servers.work / f"bridge-{tag}.log").start()
    try:
        ids = _ids("natsrestart", size.bridge_signals)
        subject = bridge.env["NATS_SIGNAL_SUBJECT"]
        bodies = [(s, _nats_body(s, i)) for i, s in enumerate(ids)]
        half = len(bodies) // 2
        asyncio.run(_publish(servers.nats_url, subject, bodies[:half]))
        publisher = threading.Thread(target=lambda: asyncio.run(_publish(servers.nats_url, subject, bodies[half:])))
        servers.nats.stop()
        publisher.start()
        time.sleep(1.0)
        servers.nats.start()
        publisher.join(60)
        _wait_queued(stack, len(ids), 45)
    finally:
        bridge.stop()
    run_pipeline(stack, fns, ids, timeout_s=120)
    return tally(stack, fns, ids)


def api_and_nats_at_once(servers: Servers, size: Size) -> Tally:
    """Each signal arrives through the HTTP API and through NATS at the same moment: one order each."""
    stack = _fresh(servers)
    fns = functions(stack)
    tag = uuid.uuid4().hex[:6]
    bridge = bridge_proc(servers, stack.signals_url, tag, servers.work / f"bridge-{tag}.log").start()
    try:
        ids = _ids("apinats", size.signals)
        bodies = [signal(sid, i) for i, sid in enumerate(ids)]
        subject = bridge.env["NATS_SIGNAL_SUBJECT"]
        bearer = token()

        def via_api() -> None:
            for body in bodies:
                status, reply = post(fns["api"], body, bearer)
                assert status == 202, reply

        def via_nats() -> None:
            asyncio.run(_publish(servers.nats_url, subject, [(b["signal_id"], json.dumps(b).encode()) for b in bodies]))

        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(via_api), pool.submit(via_nats)]:
                future.result(timeout=60)
        time.sleep(1.0)  # the bridge's copies reach SQS (and are dropped by the dedup id)
    finally:
        bridge.stop()
    run_pipeline(stack, fns, ids, timeout_s=60)
    return tally(stack, fns, ids)


MATRIX: dict[str, Scenario] = {
    "exchange_timeout_after_accept": exchange_timeout_after_accept,
    "exchange_5xx": exchange_5xx,
    "rate_limit_429_418": rate_limited_429_and_418,
    "venue_budget_exhausted": venue_budget_exhausted,
    "clock_skew_1021": clock_skew,
    "sqs_redelivered_5x": sqs_redelivered_5_times,
    "execution_crash_after_accept": execution_crash_after_accept,
    "sizing_crash_mid_batch": sizing_crash_mid_batch,
    "bridge_killed_mid_batch": bridge_killed_mid_batch,
    "nats_restarted": nats_restarted,
    "mongodb_down": mongo_down,
    "ddb_conditional_races": ddb_conditional_races,
    "api_and_nats_at_once": api_and_nats_at_once,
    "book_crash_before_ledger": book_crash_before_ledger,
    "book_duplicate_fill_reports": book_duplicate_fill_reports,
    "exits_refused_after_fill": exits_refused_after_fill,
    "exits_refused_alert_policy": exits_refused_alert_policy,
    "exits_unknown_after_fill": exits_unknown_after_fill,
    "exit_canceled_by_hand": exit_canceled_by_hand,
    "partial_fills": partial_fills,
    "protection_trips_mid_burst": protection_trips_mid_burst,
    "events_bus_unavailable": events_bus_unavailable,
    "notifier_target_down": notifier_target_down,
}


def run(name: str, servers: Servers, size: Size) -> Tally:
    try:
        return MATRIX[name](servers, size)
    except Exception as exc:  # a scenario that cannot even finish has failed; say why on its line
        return Tally(0, 0, 0, 0, [f"{type(exc).__name__}: {exc}"])
    finally:
        servers.faults()


def log_dir(servers: Servers) -> Path:
    return servers.work
