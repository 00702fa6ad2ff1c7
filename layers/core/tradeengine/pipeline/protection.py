"""Exits that always stand: a filled entry's stop-loss / take-profit are placed, retried, or the position
is handled by policy — never left on the exchange without its stop and without anyone knowing.

A signal's ``execution.protection`` says where it stands (``GET /signals/{id}`` shows it):
- ``protected``: its exit orders are working at the exchange (the monitor follows them);
- ``pending``: the exits were refused, unknown or unplaceable; the monitor retries them, with backoff
  (``EXIT_RETRY_SECONDS`` × 2^(attempt − 1)) up to ``EXIT_PLACEMENT_ATTEMPTS`` attempts, resolving an
  unknown answer by client order id before anything is placed again;
- ``flattened``: they could not stand, and ``UNPROTECTED_POSITION_ACTION=flatten`` (the default) sold what
  the entry left at market, once (a deterministic client order id, looked up before it is sent);
- ``unprotected``: they could not stand and the policy is ``alert`` (or the remainder is too small to sell):
  ``tradeengine_errors_total{type="unprotected_position"}`` counts it, an error is logged, and the
  CloudWatch alarm on ``exits_not_placed`` pages whoever watches it (docs/OPERATIONS.md, the runbook).
An exit canceled on the exchange by hand (both legs ended, nothing filled, no close of the engine's in
flight) is noticed by the monitor and handled by the same policy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contracts.execution import Execution, Protection
from contracts.money import plain
from contracts.orders import BinanceOrderType, OrderPlan, OrderRequest, Side
from tradeengine.decimals import floor_to_step
from tradeengine.exchange.base import Accepted, ExchangeError, ExchangeOrder, Rejected, Unknown
from tradeengine.metrics import ERRORS, TRADES
from tradeengine.pipeline.booking import book_order, refresh_position, working_records
from tradeengine.pipeline.exits import exits_step, order_summary, place_exits
from tradeengine.rules import OrderContext
from tradeengine.sizing_base import client_order_id

if TYPE_CHECKING:
    from tradeengine.pipeline.deps import Deps
    from tradeengine.pipeline.ports import SignalRecord
    from tradeengine.pipeline.recorder import Recorder

log = logging.getLogger(__name__)
PROTECTED, PENDING, FLATTENED, UNPROTECTED = Protection  # as written to the record: their values, plain strings


def first_attempt(plan: OrderPlan, entry: ExchangeOrder, deps: Deps) -> dict[str, Any]:
    """Exits for an entry that has just filled (execution or the monitor): what to record in ``execution``."""
    rules = deps.rules.get(plan.order.symbol)
    if rules is None:
        return _failed(deps, 1, {"exits": "not placed", "reason": "exchange rules unavailable"})
    outcome, detail = place_exits(plan, entry, deps.exchange, rules, deps.settings.policy().sizing)
    if isinstance(outcome, Accepted):
        return {**detail, "protection": PROTECTED}
    return _failed(deps, 1, detail)


def _failed(deps: Deps, attempts: int, detail: Mapping[str, Any]) -> dict[str, Any]:
    deps.counters.incr(ERRORS, {"type": "exits_not_placed"})
    wait = deps.settings.exit_retry_seconds * 2 ** (attempts - 1)
    return {
        **detail,
        "protection": PENDING,
        "exit_attempts": attempts,
        "next_exit_attempt_at": (deps.clock() + timedelta(seconds=wait)).isoformat(),
    }


def retry(record: SignalRecord, plan: OrderPlan, deps: Deps, recorder: Recorder) -> str | None:
    """The monitor's turn on a ``pending`` signal: resolve, place again, or apply the policy when out of tries.

    Returns the new protection when it changed, None when there is nothing to do yet."""
    execution = dict(record.execution or {})
    stored = Execution.read(execution)
    if stored.next_exit_attempt_at is not None and recorder.clock() < stored.next_exit_attempt_at:
        return None
    attempts = stored.exit_attempts
    if _already_working(plan, deps):  # an unknown answer that did place them: resolved by client order id
        return _record(record, execution, {"protection": PROTECTED, "exits": {"result": "resolved"}}, recorder)
    entry = _entry(plan, deps)
    rules = deps.rules.get(plan.order.symbol)
    if entry is None or rules is None:
        return None  # not visible yet: the next run looks again
    outcome, detail = place_exits(plan, entry, deps.exchange, rules, deps.settings.policy().sizing)
    if isinstance(outcome, Accepted):
        return _record(record, execution, {**detail, "protection": PROTECTED}, recorder)
    # Unknown: it may stand, and the next run resolves it by client order id before anything else; it still
    # counts as an attempt, so a venue that never answers ends in the policy, not in retries for ever.
    if attempts + 1 < deps.settings.exit_placement_attempts and outcome is not None:
        return _record(record, execution, _failed(deps, attempts + 1, detail), recorder, keep=True)
    deps.counters.incr(ERRORS, {"type": "exits_not_placed"})
    return apply_policy(record, plan, deps, recorder, f"exits could not stand after {attempts + 1} attempts", detail)


def apply_policy(
    record: SignalRecord,
    plan: OrderPlan,
    deps: Deps,
    recorder: Recorder,
    why: str,
    detail: Mapping[str, Any] | None = None,
) -> str | None:
    """The position this entry opened has no exit: sell it at market (flatten) or alert, as configured."""
    execution = {**dict(record.execution or {}), **dict(detail or {})}
    if deps.settings.unprotected_position_action == "flatten":
        flattened = _flatten(record, plan, deps)
        if flattened is not None:
            deps.counters.incr(TRADES, {"status": "flattened", "type": "market"})
            log.warning("%s: %s; the position was sold at market", record.signal_id, why)
            return _close(record, execution, {"protection": FLATTENED, "why": why, **flattened}, "flatten", recorder)
    deps.counters.incr(ERRORS, {"type": "unprotected_position"})
    log.error(
        "%s: %s; the position stands WITHOUT a stop (policy %s)",
        record.signal_id,
        why,
        deps.settings.unprotected_position_action,
    )
    return _close(record, execution, {"protection": UNPROTECTED, "why": why}, None, recorder)


def canceled_by_hand(record: SignalRecord, deps: Deps) -> bool:
    """Both legs ended with nothing filled: unless a close of this strategy is canceling them, someone did
    it on the exchange."""
    if record.plan is None:
        return False
    legs = set(_leg_ids(OrderPlan.model_validate(record.plan)))
    for other in working_records(deps, record.strategy_id, record.symbol):
        if other.plan is None or other.signal_id == record.signal_id:
            continue
        closing = OrderPlan.model_validate(other.plan).cancel_first
        if any(ref.client_order_id in legs for ref in closing):
            return False
    return True


# ---- the parts ---------------------------------------------------------------------------------------------


def _leg_ids(plan: OrderPlan) -> list[str]:
    b = plan.brackets
    return [leg.new_client_order_id for leg in b.all_legs] if b else []


def _already_working(plan: OrderPlan, deps: Deps) -> bool:
    """Every exit pair (a ladder has one per level) has a leg working: an unknown answer that did place them."""
    b = plan.brackets
    return b is not None and all(
        any(
            (order := deps.exchange.get_order(plan.order.symbol, client_order_id=leg.new_client_order_id)) is not None
            and order.status.is_open
            for leg in pair.legs
        )
        for pair in b.pairs
    )


def _entry(plan: OrderPlan, deps: Deps) -> ExchangeOrder | None:
    """The filled entry with its fills (an order lookup on Binance reports none: ask for its trades)."""
    order = deps.exchange.get_order(plan.order.symbol, client_order_id=plan.order.new_client_order_id)
    if order is None:
        return None
    if sum((f.qty for f in order.fills), Decimal(0)) < order.executed_qty:
        from dataclasses import replace

        order = replace(order, fills=tuple(deps.exchange.order_fills(order.symbol, order.order_id)))
    return order


def _held_by(record: SignalRecord, deps: Deps) -> Decimal:
    """What this signal's entry left in the book: its fills received, less its exits' and flatten's sells."""
    held = Decimal(0)
    for f in deps.ledger.fills(record.strategy_id, record.symbol):
        if f.signal_id != record.signal_id:
            continue
        fee = f.commission if f.commission_asset == f.base_asset else Decimal(0)
        held += (f.qty - fee) if f.side == "BUY" else -(f.qty + fee)
    return max(held, Decimal(0))


def _flatten(record: SignalRecord, plan: OrderPlan, deps: Deps) -> dict[str, Any] | None:
    """Sell what the entry left (never more than the strategy's position) at market, exactly once."""
    symbol = plan.order.symbol
    rules = deps.rules.get(symbol)
    if rules is None:
        raise ExchangeError(-1, f"no exchange rules for {symbol}: the flatten waits for the next run")
    position = refresh_position(record.strategy_id, symbol, deps, rules)
    lot = rules.lot_for(BinanceOrderType.MARKET)
    qty = min(_held_by(record, deps), position.quantity)
    qty = floor_to_step(qty, lot.step_size) if lot.step_size > 0 else qty
    cid = client_order_id(record.signal_id, "fl")
    order = OrderRequest(
        symbol=symbol, side=Side.SELL, type=BinanceOrderType.MARKET, quantity=qty, new_client_order_id=cid
    )
    existing = deps.exchange.get_order(symbol, client_order_id=cid)
    if existing is None:
        if qty <= 0 or rules.check(order, OrderContext(average_price=deps.exchange.average_price(symbol))):
            return None  # nothing sellable (dust, below the minimum): the position stays, alerted
        outcome = deps.exchange.place_order(order)
        if isinstance(outcome, Unknown):
            raise ExchangeError(-1, f"flatten {cid} outcome unknown: resolved by client order id on the next run")
        if isinstance(outcome, Rejected):
            log.error("flatten %s refused: Binance %s %s", cid, outcome.code, outcome.message)
            return None
        placed = outcome.order
        existing = placed if isinstance(placed, ExchangeOrder) else placed.orders[0]
    book_order(existing, record.signal_id, record.strategy_id, "close", deps)
    return {"flatten": order_summary(existing), "flatten_quantity": plain(qty)}


def _record(
    record: SignalRecord,
    execution: dict[str, Any],
    update: Mapping[str, Any],
    recorder: Recorder,
    keep: bool = True,
) -> str | None:
    new = {**execution, **update}
    if Execution.read(new).protection is Protection.PROTECTED:
        new.pop("next_exit_attempt_at", None)
    recorder.advance(record.signal_id, exits_step(new, {"protection": dict(update)}, keep_watching=keep))
    return str(new.get("protection"))


def _close(
    record: SignalRecord,
    execution: dict[str, Any],
    update: Mapping[str, Any],
    closed_by: str | None,
    recorder: Recorder,
) -> str:
    ended = Execution.read(execution).exit_result  # the legs, when they ended before the policy applied
    legs = {name: leg.model_dump(mode="json") for name, leg in ended.legs.items()} if ended is not None else {}
    result = {"closed_by": closed_by, "legs": legs, **{k: v for k, v in update.items() if k != "protection"}}
    new = {**execution, **update, "exit_result": result}
    new.pop("next_exit_attempt_at", None)
    recorder.advance(record.signal_id, exits_step(new, {"protection": dict(update), "exit_result": result}))
    return str(update["protection"])
