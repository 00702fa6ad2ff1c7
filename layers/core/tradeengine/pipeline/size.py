"""Sizing stage: a queued signal → exchange rules + market + balances → decision → orders.fifo or REJECTED.

Redelivery-safe: a signal already past QUEUED is not sized again; one already SIZED has its plan sent
again (the FIFO deduplication id is the signal id, and execution is idempotent), which covers a crash
between "plan sent" and "state saved".

A signal ingest recorded (``SignalMessage.recorded``) is decided without reading its record first: the
record was made from this very body, and the conditional move out of QUEUED is the check that it still is
QUEUED. Only when that move fails (a redelivery, a record taken back) is the record read, and the signal
handled as below. A decision a redelivery makes that way is thrown away, never recorded or sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from contracts.errors import describe
from contracts.execution import Execution
from contracts.messages import PlanMessage, SignalMessage
from contracts.orders import Hold, OrderPlan, WorkingOrder
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import SIGNAL_ID_PATTERN, Action, Signal
from contracts.status import SignalState
from tradeengine.engine import decide
from tradeengine.exchange import codes
from tradeengine.exchange.base import ExchangeError
from tradeengine.metrics import TRADES
from tradeengine.pipeline.arrival import conflict_reason, received, record_invalid, same_content
from tradeengine.pipeline.booking import working_orders, working_records
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.entry_guard import refuse_entry
from tradeengine.pipeline.errors import ConflictingSignal, MalformedMessage, RetryLater
from tradeengine.pipeline.ports import SignalRecord, Step
from tradeengine.pipeline.quotas import MemoryWindows
from tradeengine.pipeline.recorder import Recorder
from tradeengine.risk import TradingState
from tradeengine.rules import SymbolRules
from tradeengine.sizing import Holding, Market

log = logging.getLogger(__name__)
_SIGNAL_ID = re.compile(SIGNAL_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class SizeOutcome:
    signal_id: str
    state: SignalState
    code: str | None = None
    replayed: bool = False


def size_message(body: Mapping[str, Any], deps: Deps) -> SizeOutcome:
    with deps.recorder("sizing") as recorder:
        return _size(body, deps, recorder)


def _size(body: Mapping[str, Any], deps: Deps, recorder: Recorder) -> SizeOutcome:
    message = _read(body)
    try:
        signal = Signal.model_validate(message.signal)
    except ValidationError as exc:
        return _invalid(message, exc, recorder)
    if message.recorded:
        # Ingest recorded this signal QUEUED from this very body: decide without reading the record; the
        # conditional move out of QUEUED finds out whether it still is (else: read it, as below).
        recorder.from_start(signal.id)  # ingest left its RECEIVED and QUEUED to this flush
        try:
            outcome = _apply(_decide(signal, deps, recorder, message.source), signal, message, deps, recorder)
        except Exception:
            stored = _audit_as_stored(signal.id, recorder)  # a retry (or the DLQ) must not leave ingest's steps out
            if stored is not None and stored.state is not SignalState.QUEUED and same_content(stored, signal):
                # a redelivery of a signal already decided: nothing needed deciding (nor the market data that
                # failed); finish what a crashed attempt may have left, as a redelivery always does
                return _replay(stored, signal, message, deps, recorder)
            raise
        if outcome is not None:
            recorder.raise_if_backlog()
            return outcome
    record = _ensure_record(signal, message, recorder)
    if not same_content(record, signal):  # e.g. NATS reused an id the API recorded: trade neither twice nor this one
        raise ConflictingSignal(conflict_reason(record, signal))
    if record.state is not SignalState.QUEUED:
        return _replay(record, signal, message, deps, recorder)
    decision = _decide(signal, deps, recorder, message.source)
    outcome = _apply(decision, signal, message, deps, recorder)
    if outcome is None:  # moved on meanwhile by a concurrent delivery: finish as a redelivery does
        record = recorder.store.get(signal.id) or record
        return _replay(record, signal, message, deps, recorder)
    recorder.raise_if_backlog()
    return outcome


def _audit_as_stored(signal_id: str, recorder: Recorder) -> SignalRecord | None:
    """Have the record's steps so far written and published on the way out (the recorder's flush), best
    effort; returns the record (None: missing, or unreadable now)."""
    try:
        record = recorder.store.get(signal_id)
    except Exception as exc:  # the store is down too: the redelivery writes them
        log.warning("record of %s unreadable for its audit: %s", signal_id, type(exc).__name__)
        return None
    if record is not None:
        recorder.write_audit(record)
    return record


def _read(body: Mapping[str, Any]) -> SignalMessage:
    """The signals.fifo body, or MalformedMessage (the dead-letter queue, with the reason) when it is not one."""
    try:
        return SignalMessage.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in describe(exc))
        raise MalformedMessage(f"not a signal message: {problems}") from exc


def _ensure_record(signal: Signal, message: SignalMessage, recorder: Recorder) -> SignalRecord:
    """Signals from the bridge reach sizing first: record them RECEIVED → QUEUED here."""
    existing = recorder.store.get(signal.id)
    if existing is not None and existing.state is not SignalState.RECEIVED:
        return existing
    recorder.create(received(signal.id, message.source, recorder.clock(), {}, signal))
    recorder.advance(signal.id, Step(SignalState.QUEUED))
    stored = recorder.store.get(signal.id)
    assert stored is not None
    return stored


def _decide(signal: Signal, deps: Deps, recorder: Recorder, source: str = "") -> OrderPlan | Rejection | Hold:
    if signal.action == "hold":
        return Hold(signal_id=signal.id)
    if (limited := _over_order_rate(signal, deps)) is not None:
        return limited
    try:
        rules = deps.rules.get(signal.symbol)
        price = deps.exchange.ticker_price(signal.symbol) if rules is not None else signal.price
        average = deps.exchange.average_price(signal.symbol) if rules is not None else None
    except ExchangeError as exc:
        if exc.code == codes.INVALID_SYMBOL:  # the venue does not list it
            rules, price, average = None, signal.price, None
        else:
            raise RetryLater(f"market data unavailable for {signal.symbol}: {exc.message}", _wait(exc)) from exc
    # A size that is a share of a balance needs the account's own figure; others may use the shared one.
    exact = signal.meta.position_size_pct is not None or signal.action is Action.CLOSE
    balances = _free_balances(deps, rules, exact)
    refused = refuse_entry(signal, deps, recorder.clock())  # the automatic protections, from the book
    if refused is not None:
        return refused
    state = deps.trading_state.get()
    if source == "flatten" and state is TradingState.HALTED:
        state = TradingState.REDUCING  # an operator's flatten closes positions even while trading is halted
    policy = deps.settings.policy(state)
    symbol_rules = {signal.symbol: rules} if rules is not None else {}
    holding: Holding | None = None
    working: tuple[WorkingOrder, ...] = ()
    if signal.action in (Action.SELL, Action.CLOSE) and rules is not None:
        holding, working, releasable = _holding(signal, deps)
        if signal.action is Action.CLOSE and balances is not None and releasable > 0:
            # the close cancels the strategy's own exits first: what they lock is free by the time it sells
            balances[rules.base_asset] = balances.get(rules.base_asset, Decimal(0)) + releasable
    decision = decide(signal, symbol_rules, Market(price, average), recorder.clock(), balances, policy, holding)
    if isinstance(decision, Rejection) and decision.code in _BALANCE_CODES and not exact:
        # refused on the shared balance, which may be stale: decide again on the account's own figures
        balances = _free_balances(deps, rules, True)
        decision = decide(signal, symbol_rules, Market(price, average), recorder.clock(), balances, policy, holding)
    if isinstance(decision, OrderPlan) and signal.action is Action.CLOSE and working:
        decision = decision.model_copy(update={"cancel_first": working})
    return decision


_BALANCE_CODES = frozenset({RejectionCode.INSUFFICIENT_BALANCE, RejectionCode.BALANCE_UNKNOWN})


def _wait(exc: ExchangeError) -> float | None:
    wait = exc.extra.get("retry_after_s")
    return float(wait) if wait is not None else None


def _free_balances(deps: Deps, rules: SymbolRules | None, exact: bool) -> dict[str, Decimal] | None:
    """The free balances (None: unknown, and sizing that needs them refuses BALANCE_UNKNOWN). ``exact``: with
    no order sent since the account answered (``exact_balances``, where the venue keeps a shared snapshot)."""
    read = getattr(deps.exchange, "exact_balances", None) if exact else None
    try:
        found = (read or deps.exchange.balances)()
    except ExchangeError as exc:
        if exc.extra.get("budget"):  # the venue's budget is spent: wait for it rather than decide without
            raise RetryLater(f"balances wait for the venue's budget: {exc.message}", _wait(exc)) from exc
        log.warning("balances unavailable: %s", exc.message)
        return None
    balances = {asset: b.free for asset, b in found.items()}
    if rules is not None:
        # The account answered: an asset it does not list is held at zero (Binance omits empty ones), not unknown.
        for asset in (rules.base_asset, rules.quote_asset):
            balances.setdefault(asset, Decimal(0))
    return balances


def _holding(signal: Signal, deps: Deps) -> tuple[Holding, tuple[WorkingOrder, ...], Decimal]:
    """The strategy's position in the book, its working orders on the symbol, and the base its exits lock."""
    position = next((p for p in deps.ledger.positions(signal.strategy_id) if p.symbol == signal.symbol), None)
    working: list[WorkingOrder] = []
    releasable = Decimal(0)
    for record in working_records(deps, signal.strategy_id, signal.symbol):
        ids = working_orders(record)
        working += [WorkingOrder(signal_id=record.signal_id, client_order_id=cid) for cid in ids]
        if ids and record.state is SignalState.FILLED:
            releasable += _exit_quantity(record)
    held = position.quantity if position is not None else Decimal(0)
    return Holding(held, untracked_ok=deps.settings.allow_untracked_sells), tuple(working), releasable


def _exit_quantity(record: SignalRecord) -> Decimal:
    """The base a FILLED signal's working exits lock: what they were placed for."""
    placed = Execution.read(record.execution).exit_quantity
    if placed is not None:
        return placed
    plan = OrderPlan.model_validate(record.plan) if record.plan else None
    qty = plan.brackets.total_quantity if plan is not None and plan.brackets is not None else None
    return qty if qty is not None else Decimal(0)


def _over_order_rate(signal: Signal, deps: Deps) -> Rejection | None:
    """STRATEGY_RATE_LIMITED past STRATEGY_ORDERS_PER_MINUTE signals that would trade, per strategy."""
    limit = deps.settings.strategy_orders_per_minute
    if not limit:
        return None
    if deps.windows is None:  # memory_deps and dry runs: count in this process
        deps.windows = MemoryWindows()
    hit = deps.windows.hit(f"strategy:{signal.strategy_id}")
    if hit.count <= limit:
        return None
    reason = f"strategy {signal.strategy_id} sent more than {limit} orders this minute (STRATEGY_ORDERS_PER_MINUTE)"
    return Rejection(code=RejectionCode.STRATEGY_RATE_LIMITED, reason=reason)


def _apply(
    decision: OrderPlan | Rejection | Hold, signal: Signal, message: SignalMessage, deps: Deps, recorder: Recorder
) -> SizeOutcome | None:
    """Record the decision; None when the signal is no longer QUEUED (nothing recorded, counted or sent)."""
    sid = signal.id
    order_type = signal.meta.order_type.value
    if isinstance(decision, Hold):
        if recorder.advance(sid, Step(SignalState.HELD, reason=decision.reason)) is None:
            return None
        deps.counters.incr(TRADES, {"status": "held", "type": order_type})
        return SizeOutcome(sid, SignalState.HELD)
    if isinstance(decision, Rejection):
        step = Step(SignalState.REJECTED, code=decision.code.value, reason=decision.reason)
        if recorder.advance(sid, step) is None:
            return None
        deps.counters.incr(TRADES, {"status": "rejected", "type": order_type})
        return SizeOutcome(sid, SignalState.REJECTED, decision.code.value)
    plan_json = decision.model_dump(mode="json")
    # SIZED before the send: execution may receive the plan at once and must find the signal SIZED. A crash
    # between the two leaves SIZED + plan with no message; the redelivered signal re-sends it (_replay).
    step = Step(SignalState.SIZED, plan=plan_json, detail={"order": decision.order.to_binance()})
    if recorder.advance(sid, step) is None:
        return None
    deps.plans.send(sid, signal.symbol, PlanMessage.of(signal, decision, message.received_at).wire())
    return SizeOutcome(sid, SignalState.SIZED)


def _replay(
    record: SignalRecord, signal: Signal, message: SignalMessage, deps: Deps, recorder: Recorder
) -> SizeOutcome:
    """A redelivered message: finish what a crashed attempt may have left, never decide twice."""
    if record.state is SignalState.SIZED and record.plan is not None:
        plan = OrderPlan.model_validate(record.plan)
        deps.plans.send(record.signal_id, record.symbol, PlanMessage.of(signal, plan, message.received_at).wire())
    recorder.write_audit(record)
    recorder.raise_if_backlog()
    return SizeOutcome(record.signal_id, record.state, record.code, replayed=True)


def _invalid(message: SignalMessage, exc: ValidationError, recorder: Recorder) -> SizeOutcome:
    sid: Any = message.signal_id if _SIGNAL_ID.match(message.signal_id) else message.signal.get("signal_id")
    if not isinstance(sid, str) or not _SIGNAL_ID.match(sid):
        raise MalformedMessage(f"unreadable signal without a signal_id: {len(describe(exc))} problems") from exc
    record, _ = record_invalid(sid, message.signal, describe(exc), message.source, recorder)
    recorder.raise_if_backlog()
    state = record.state if record else SignalState.REJECTED
    return SizeOutcome(sid, state, record.code if record else RejectionCode.INVALID_SIGNAL.value)
