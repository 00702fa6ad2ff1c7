"""Execution stage: place a sized plan exactly once, and record what the exchange did with it.

Exactly-once effect under at-least-once delivery:
1. SIZED → SUBMITTED is a conditional write *before* anything is sent: of two concurrent deliveries,
   one moves on, the other sees SUBMITTED.
2. A delivery that finds SUBMITTED (a crash, a timeout, a redelivery) first looks the order up by its
   client order id; only an order the exchange has never seen is placed.
3. An "unknown" answer (timeout, 5xx) is never resent in the same attempt: the order is looked up, and
   if it is not found yet the message is retried later, when the lookup is answered for sure.
4. What is placed is the plan the signal's record holds (sizing wrote it with SIZED), read back by the
   same conditional write: a message whose plan differs from it (a bug upstream, a forged body) cannot
   place an order sizing did not decide.
A redelivery after the end costs one conditional write that fails and one read (the record says FILLED,
the audit is healed, nothing is sent): no idempotency table in front, whose two writes per signal would
guard what these writes already do (docs/DESIGN.md, "One order per signal").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from contracts.messages import PlanMessage
from contracts.money import plain
from contracts.orders import OrderPlan
from contracts.rejection import RejectionCode
from contracts.status import SignalState
from tradeengine.decimals import floor_to_step
from tradeengine.exchange.base import (
    Accepted,
    ExchangeError,
    ExchangeOrder,
    OrderListResult,
    PlaceOutcome,
    Rejected,
    Unknown,
)
from tradeengine.metrics import ERRORS, LATENCY, LATENCY_BUCKETS, TRADES
from tradeengine.pipeline.booking import BookUnavailable, book_order, refresh_position
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.errors import MalformedMessage, RetryLater
from tradeengine.pipeline.exits import describe_outcome, follow_exits, order_summary, otoco_request, with_entry
from tradeengine.pipeline.lifecycle import STATE_OF, exits_after_fill, order_step
from tradeengine.pipeline.ports import SignalRecord, Step
from tradeengine.pipeline.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExecOutcome:
    signal_id: str
    state: SignalState
    placed: bool  # this delivery sent the entry order


def execute_message(body: Mapping[str, Any], deps: Deps) -> ExecOutcome:
    with deps.recorder("execution") as recorder:
        return _execute(body, deps, recorder)


def _execute(body: Mapping[str, Any], deps: Deps, recorder: Recorder) -> ExecOutcome:
    try:
        message = PlanMessage.model_validate(body)
    except ValidationError as exc:
        raise MalformedMessage(f"not an order plan message: {exc}") from exc
    sid, plan = message.signal_id, message.plan
    _admit(plan, deps)
    # The usual case first, in one conditional write: SIZED → SUBMITTED, legal only from SIZED, so of two
    # deliveries exactly one moves on. Anything else (not sized yet, already submitted, done) reads the record.
    moved = recorder.advance(sid, Step(SignalState.SUBMITTED, detail={"order": plan.order.to_binance()}))
    if moved is not None:
        plan = _as_recorded(plan, moved, deps)
        selling = _cancel_first(plan, message, deps, recorder)
        if selling is None:
            recorder.raise_if_backlog()
            return ExecOutcome(sid, SignalState.REJECTED, placed=False)
        state = _settle(_place(selling, deps), selling, message, deps, recorder)
        recorder.raise_if_backlog()
        return ExecOutcome(sid, state, placed=True)
    record = recorder.store.get(sid)
    if record is None or record.state in (SignalState.RECEIVED, SignalState.QUEUED):
        raise RetryLater(f"signal {sid} is not sized yet")  # never ack a plan the state does not know of yet
    placed = False
    if record.state is SignalState.SUBMITTED:
        plan = _as_recorded(plan, record, deps)
        existing = _lookup(plan, deps)
        if existing is None:
            _wait_out_in_flight(record.updated_at, deps, recorder)
            selling = _cancel_first(plan, message, deps, recorder)
            if selling is None:
                recorder.raise_if_backlog()
                return ExecOutcome(sid, SignalState.REJECTED, placed=False)
            plan, outcome = selling, _place(selling, deps)  # the exchange never saw it: the first real attempt
            placed = True
        else:
            outcome = Accepted(existing)
        state = _settle(outcome, plan, message, deps, recorder)
        recorder.raise_if_backlog()
        return ExecOutcome(sid, state, placed)
    recorder.write_audit(record)  # already past execution: heal the audit trail, do nothing else
    recorder.raise_if_backlog()
    return ExecOutcome(sid, record.state, placed)


def _as_recorded(plan: OrderPlan, record: SignalRecord, deps: Deps) -> OrderPlan:
    """The plan sizing recorded for the signal; the message's when it is the same (the usual case, one compare)."""
    recorded = record.plan or {}
    if recorded.get("order") == plan.order.model_dump(mode="json"):
        return plan
    log.error("plan of %s differs from the one sizing recorded: placing the recorded one", record.signal_id)
    deps.counters.incr(ERRORS, {"type": "plan_mismatch"})
    try:
        return OrderPlan.model_validate(recorded)
    except ValidationError as exc:  # no plan recorded that can be placed: nothing is sent
        raise MalformedMessage(f"signal {record.signal_id} has no recorded plan to place: {exc}") from exc


def _admit(plan: OrderPlan, deps: Deps) -> None:
    """The venue's order budget first (where the venue has one): an order it cannot take now waits in SQS
    *before* SUBMITTED, so nothing was sent and there is nothing to look up or wait out when it comes back."""
    admit = getattr(deps.exchange, "admit", None)
    if admit is None:
        return
    wait = admit(plan.order.new_client_order_id, 3 if with_entry(plan.brackets) else 1)  # an OTOCO counts 3 orders
    if wait is not None:
        raise RetryLater(f"the venue's order budget is spent: placing in {wait:.1f} s", wait)


def quiet_period(deps: Deps) -> timedelta:
    """How long after a send an order the exchange does not know may still arrive: past the request's
    receive window (Binance drops a request older than recvWindow), twice over, plus a margin."""
    return timedelta(milliseconds=2 * deps.settings.binance_recv_window_ms) + timedelta(seconds=5)


def _wait_out_in_flight(submitted_at: datetime, deps: Deps, recorder: Recorder) -> None:
    """Not found right after a send is not "never sent": the first request may still be on its way.
    Only once the quiet period has passed does "not found" mean the order can be sent (again)."""
    remaining = (submitted_at + quiet_period(deps) - recorder.clock()).total_seconds()
    if remaining > 0:
        raise RetryLater(f"the first send may still be in flight; looking again in {remaining:.0f} s", remaining)


def _place(plan: OrderPlan, deps: Deps) -> PlaceOutcome:
    otoco = otoco_request(plan)
    return deps.exchange.place_otoco(otoco) if otoco is not None else deps.exchange.place_order(plan.order)


def _lookup(plan: OrderPlan, deps: Deps) -> ExchangeOrder | None:
    try:
        return deps.exchange.get_order(plan.order.symbol, client_order_id=plan.order.new_client_order_id)
    except ExchangeError as exc:
        raise RetryLater(f"cannot look up {plan.order.new_client_order_id}: {exc.message}") from exc


def entry_of(outcome: Accepted, plan: OrderPlan) -> ExchangeOrder:
    placed = outcome.order
    if isinstance(placed, OrderListResult):
        cid = plan.order.new_client_order_id
        return next((o for o in placed.orders if o.client_order_id == cid), placed.orders[0])
    return placed


def _settle(
    outcome: PlaceOutcome, plan: OrderPlan, message: PlanMessage, deps: Deps, recorder: Recorder
) -> SignalState:
    sid = plan.signal_id
    order_type = plan.order.type.value.lower()
    if isinstance(outcome, Rejected):
        if outcome.retryable:
            wait = outcome.retry_after_s
            raise RetryLater(f"exchange busy ({outcome.code}): retry after {wait or 'a while'} s", wait)
        recorder.advance(
            sid,
            Step(
                SignalState.FAILED,
                code="EXCHANGE_REJECTED",
                reason=f"Binance {outcome.code}: {outcome.message}",
                detail={"exchange": describe_outcome(outcome)},
            ),
        )
        deps.counters.incr(TRADES, {"status": "failed", "type": order_type})
        deps.counters.incr(ERRORS, {"type": "exchange_rejected"})
        return SignalState.FAILED
    if not isinstance(outcome, Accepted):
        existing = _lookup(plan, deps)  # unknown: resolve by client order id, never by resending
        if existing is None:
            raise RetryLater(f"order {plan.order.new_client_order_id} outcome unknown ({outcome.reason})")
        outcome = Accepted(existing)
    entry = entry_of(outcome, plan)
    _book(entry, plan, message, deps, recorder)  # before the state moves on: a crash here is booked by the retry
    execution: dict[str, Any] = {"entry": order_summary(entry), "venue": deps.exchange.name}
    if plan.cancel_first:
        execution["canceled_first"] = [ref.client_order_id for ref in plan.cancel_first]
        execution["notes"] = list(plan.notes)
    if isinstance(outcome.order, OrderListResult):
        execution["order_list"] = describe_outcome(outcome)
    state = STATE_OF[entry.status]
    if state is SignalState.FILLED:
        execution.update(exits_after_fill(plan, entry, deps))
    recorder.advance(
        sid,
        order_step(state, plan, execution, {"exchange": execution}),
    )
    deps.counters.incr(TRADES, {"status": state.value.lower(), "type": order_type})
    _observe_latency(message, deps, recorder.clock())
    return state


def _book(order: ExchangeOrder, plan: OrderPlan, message: PlanMessage, deps: Deps, recorder: Recorder) -> None:
    role = "close" if message.closes else "entry"
    try:
        book_order(order, plan.signal_id, message.signal.strategy_id, role, deps, recorder)
    except BookUnavailable as exc:
        raise RetryLater(str(exc)) from exc


def _cancel_first(plan: OrderPlan, message: PlanMessage, deps: Deps, recorder: Recorder) -> OrderPlan | None:
    """A close: cancel the strategy's working orders on the symbol (the exits that lock the balance, open
    entries), book whatever they filled meanwhile, then sell what the position still holds. None: nothing
    is left to sell (an exit closed it first), and the signal is REJECTED(NOTHING_TO_CLOSE)."""
    if not plan.cancel_first:
        return plan
    symbol, strategy = plan.order.symbol, message.signal.strategy_id
    canceled: list[dict[str, Any]] = []
    for ref in plan.cancel_first:
        outcome = deps.exchange.cancel_order(symbol, client_order_id=ref.client_order_id)
        if isinstance(outcome, Unknown):
            raise RetryLater(f"cancel of {ref.client_order_id} unknown ({outcome.reason}): the close waits")
        if isinstance(outcome, Rejected) and outcome.retryable:  # rate-limited: the exit may still stand
            raise RetryLater(f"cancel of {ref.client_order_id} refused for now ({outcome.code})", outcome.retry_after_s)
        order = _lookup_order(symbol, ref.client_order_id, deps)
        if order is not None and order.executed_qty > 0:
            try:
                role = "exit" if order.side == plan.order.side else "entry"
                book_order(order, ref.signal_id, strategy, role, deps, recorder)
            except BookUnavailable as exc:
                raise RetryLater(str(exc)) from exc
        canceled.append(
            {"client_order_id": ref.client_order_id, "status": order.status.value if order else "UNKNOWN_ORDER"}
        )
    _settle_canceled_exits(plan, deps, recorder)
    position = refresh_position(strategy, symbol, deps)
    rules = deps.rules.get(symbol)
    step = rules.lot_size.step_size if rules is not None and rules.lot_size is not None else Decimal(0)
    wanted = plan.order.quantity or Decimal(0)
    qty = min(wanted, floor_to_step(position.quantity, step) if step > 0 else position.quantity)
    detail = {"canceled": canceled, "position_quantity": plain(position.quantity)}
    if qty <= 0 or qty < plan.min_quantity:
        recorder.advance(
            plan.signal_id,
            Step(
                SignalState.REJECTED,
                code=RejectionCode.NOTHING_TO_CLOSE.value,
                reason=f"after canceling its orders, strategy {strategy} holds {plain(position.quantity)} of "
                f"{symbol}: nothing left to close",
                detail=detail,
            ),
        )
        return None
    notes = (*plan.notes, f"canceled first: {', '.join(c['client_order_id'] + ' ' + c['status'] for c in canceled)}")
    if qty != wanted:
        notes = (*notes, f"sells {plain(qty)}: the position after the cancels")
        return plan.model_copy(update={"order": plan.order.model_copy(update={"quantity": qty}), "notes": notes})
    return plan.model_copy(update={"notes": notes})


def _settle_canceled_exits(plan: OrderPlan, deps: Deps, recorder: Recorder) -> None:
    """The signals whose exits the close just canceled stop being watched now (closed_by null, canceled_by
    this close), so the position shows no exit protecting it; the monitor would otherwise do it later."""
    for sid in dict.fromkeys(ref.signal_id for ref in plan.cancel_first):
        record = deps.store.get(sid)
        if record is None or not record.watching_exits or record.plan is None:
            continue
        try:
            follow_exits(record, OrderPlan.model_validate(record.plan), deps, recorder, {"canceled_by": plan.signal_id})
        except ExchangeError as exc:  # the monitor finishes it on its next run
            log.warning("exits of %s not settled after the close: %s", sid, exc.message)


def _lookup_order(symbol: str, client_order_id: str, deps: Deps) -> ExchangeOrder | None:
    try:
        return deps.exchange.get_order(symbol, client_order_id=client_order_id)
    except ExchangeError as exc:
        raise RetryLater(f"cannot look up {client_order_id}: {exc.message}") from exc


def _observe_latency(message: PlanMessage, deps: Deps, now: datetime) -> None:
    if message.received_at is None:
        return
    try:
        seconds = (now - message.received_at).total_seconds()
    except TypeError:  # a naive time: no latency to measure against an aware clock
        return
    deps.counters.observe(LATENCY, {}, max(seconds, 0.0), LATENCY_BUCKETS)
