"""Monitor stage (scheduled): follow every open order to its end, and place exits when an entry fills.

A FILLED entry whose exit orders (stop-loss / take-profit) are working is followed too, until every leg
has ended: then the signal records which leg closed the position (``execution.exit_result``) in one
more FILLED step of its history, and the monitor stops following it.

For the paper exchange, looking an order up also advances the simulated book to the current market
price, so resting limit orders fill and stops trigger as time passes. A SUBMITTED signal whose order
the exchange has never seen, long after it was sent, is FAILED(ORDER_NOT_FOUND): its fate is known.

Every open order, however many: a run follows at most ``limit`` orders (and stops early when its time
budget runs out), walking the open signals in a fixed order from where the previous run stopped (the
``monitor`` cursor); a run that reaches the end of the walk leaves the cursor empty, so the next starts
from the beginning. With N open orders, each is looked at least once every ceil(N / limit) + 1 runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from time import monotonic
from typing import Any

from contracts.execution import Execution, Protection, RecordedOrder
from contracts.orders import OrderPlan
from contracts.status import SignalState
from tradeengine.exchange.base import ExchangeError
from tradeengine.metrics import ERRORS, TRADES
from tradeengine.pipeline import protection
from tradeengine.pipeline.booking import book_order
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.exits import follow_exits, order_summary
from tradeengine.pipeline.lifecycle import STATE_OF, exits_after_fill, order_step
from tradeengine.pipeline.ports import OpenPosition, SignalRecord, Step
from tradeengine.pipeline.recorder import Recorder

log = logging.getLogger(__name__)
LOST_AFTER = timedelta(minutes=10)
CURSOR = "monitor"
EXITED = "EXITED"  # in MonitorReport.changed: the signal's exit orders have all ended
PAGE = 50
PREFETCH_FROM = 20  # open orders at which one openOrders call (80) costs less than their lookups (4 each)


class MonitorIncomplete(RuntimeError):
    """Some signals could not be followed (each named in the log); the rest of the run went on."""


@dataclass
class MonitorReport:
    checked: int = 0
    changed: dict[str, str] = field(default_factory=dict)  # signal id -> new state, or EXITED
    errors: list[str] = field(default_factory=list)  # the exchange did not answer: looked at again next run
    failures: list[str] = field(default_factory=list)  # anything else: the run goes on, the handler then fails
    completed: bool = False  # this run reached the end of the walk (the next one starts from the beginning)
    budget_spent: bool = False  # stopped early: the venue's request budget is spent (the next run goes on)


def run_monitor(deps: Deps, limit: int = 200, budget_s: float | None = None) -> MonitorReport:
    """Follow up to ``limit`` open orders from where the last run stopped; stop early after ``budget_s``."""
    deadline = None if budget_s is None else monotonic() + budget_s
    recorder = deps.recorder("monitor")
    report = MonitorReport()
    text = deps.cursors.get(CURSOR)
    after = OpenPosition.loads(text) if text else None

    def out_of_time() -> bool:
        return deadline is not None and monotonic() >= deadline

    prefetched = False
    while report.checked < limit and not out_of_time():
        asked = min(PAGE, limit - report.checked)
        page = deps.store.open_signals(asked, after=after)
        if not prefetched and len(page) >= PREFETCH_FROM:
            prefetched = _prefetch(deps)
        followed = 0
        for record in page:
            if out_of_time() or report.budget_spent:
                break
            _check(record, deps, recorder, report)
            if report.budget_spent:  # the venue's budget is spent: this one and the rest wait for the next run
                break
            after, followed = OpenPosition.of(record), followed + 1
        if followed < len(page):  # out of time mid-page: the next run goes on from here
            break
        if len(page) < asked:  # the end of the walk: the next run starts from the beginning
            after, report.completed = None, True
            break
    deps.cursors.set(CURSOR, None if after is None else after.dumps())
    return report


def _prefetch(deps: Deps) -> bool:
    """Many open orders: one ``openOrders`` call (weight 80) answers the lookups of those still open, instead
    of one ``GET /api/v3/order`` (weight 4) each; only orders no longer open are looked up one by one."""
    prefetch = getattr(deps.exchange, "prefetch_open_orders", None)
    if prefetch is None:
        return True
    try:
        prefetch()
    except ExchangeError as exc:  # each order is then looked up on its own
        log.warning("open orders not prefetched: %s", exc.message)
    return True


def _check(record: SignalRecord, deps: Deps, recorder: Recorder, report: MonitorReport) -> None:
    report.checked += 1
    try:
        new = _follow(record, deps, recorder)
    except ExchangeError as exc:
        report.budget_spent = bool(exc.extra.get("budget"))
        report.errors.append(f"{record.signal_id}: {exc.message}")
        deps.counters.incr(ERRORS, {"type": "monitor_exchange"})
        return
    except Exception as exc:  # one signal that cannot be followed must not stop the others behind it
        log.exception("monitor could not follow %s", record.signal_id)
        report.failures.append(f"{record.signal_id}: {type(exc).__name__}")
        deps.counters.incr(ERRORS, {"type": "monitor"})
        return
    finally:
        recorder.flush()  # each signal's steps reach the audit trail before the next is followed
    if new is not None:
        report.changed[record.signal_id] = new


def _follow(record: SignalRecord, deps: Deps, recorder: Recorder) -> str | None:
    if record.plan is None:
        return None
    plan = OrderPlan.model_validate(record.plan)
    if record.state is SignalState.FILLED:
        return _follow_exits(record, plan, deps, recorder) if record.watching_exits else None
    order = deps.exchange.get_order(plan.order.symbol, client_order_id=plan.order.new_client_order_id)
    if order is None:
        if record.state is SignalState.SUBMITTED and recorder.clock() - record.updated_at > LOST_AFTER:
            recorder.advance(
                record.signal_id,
                Step(
                    SignalState.FAILED,
                    code="ORDER_NOT_FOUND",
                    reason="the exchange has no order with this client order id",
                ),
            )
            return SignalState.FAILED.value
        return None
    state = STATE_OF[order.status]
    previous = Execution.read(record.execution).entry
    if state is record.state and previous is not None and previous.executed_qty == order.executed_qty:
        return None
    if order.executed_qty > 0:  # book before the state moves on: a crash here is booked by the next run
        book_order(order, record.signal_id, record.strategy_id, _role(record), deps, recorder)
    execution: dict[str, Any] = {**dict(record.execution or {}), "entry": order_summary(order)}
    if state is SignalState.FILLED:
        execution.update(exits_after_fill(plan, order, deps))
    # The step's detail carries only the fills that are new since the last step (the record's execution
    # keeps them all): an order filled in many pieces must not repeat every earlier fill in every step.
    step = {**execution, "entry": {**execution["entry"], "fills": _new_fills(previous, execution["entry"])}}
    moved = recorder.advance(
        record.signal_id,
        order_step(state, plan, execution, {"exchange": step}),
    )
    if moved is None:
        return None
    deps.counters.incr(TRADES, {"status": state.value.lower(), "type": plan.order.type.value.lower()})
    return state.value


def _role(record: SignalRecord) -> str:
    return "close" if dict(record.signal).get("action") == "close" else "entry"


def _new_fills(previous: RecordedOrder | None, current: Mapping[str, Any]) -> list[Any]:
    seen = {fill.trade_id for fill in previous.fills} if previous is not None else set()
    return [fill for fill in current.get("fills", ()) if fill.get("trade_id") not in seen]


def _follow_exits(record: SignalRecord, plan: OrderPlan, deps: Deps, recorder: Recorder) -> str | None:
    """Exits still to place: retry them (or apply the policy). Exits working: look up each leg; once none
    is working any more, record how the position was closed — or, canceled on the exchange by hand, apply
    the unprotected-position policy."""
    if Execution.read(record.execution).protection is Protection.PENDING:
        changed = protection.retry(record, plan, deps, recorder)
        return f"PROTECTION_{changed.upper()}" if changed else None
    outcome = follow_exits(record, plan, deps, recorder, by_hand=lambda: protection.canceled_by_hand(record, deps))
    if outcome == "canceled_by_hand":
        fresh = deps.store.get(record.signal_id) or record
        changed = protection.apply_policy(fresh, plan, deps, recorder, "its exit orders were canceled on the exchange")
        return f"PROTECTION_{(changed or 'unchanged').upper()}"
    return EXITED if outcome == "closed" else None
