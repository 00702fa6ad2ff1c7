"""Exit orders after an entry fills, sized on what the entry actually delivered (after commission)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from contracts.money import plain
from contracts.orders import BracketPlacement, Brackets, OcoBrackets, OrderPlan, OrderRequest, Side
from contracts.status import EXIT_MOVES, EXITING, SignalState
from tradeengine.brackets import level_minimum, split
from tradeengine.decimals import ONE, floor_to_step
from tradeengine.exchange.base import (
    Accepted,
    Exchange,
    ExchangeOrder,
    OcoRequest,
    OrderListResult,
    OrderStatus,
    OtocoRequest,
    PlaceOutcome,
    Rejected,
    Unknown,
)
from tradeengine.metrics import TRADES
from tradeengine.pipeline.ports import Step
from tradeengine.rules import SymbolRules
from tradeengine.sizing import SizingConfig

if TYPE_CHECKING:
    from tradeengine.pipeline.deps import Deps
    from tradeengine.pipeline.ports import SignalRecord
    from tradeengine.pipeline.recorder import Recorder


def received_quantity(plan: OrderPlan, entry: ExchangeOrder, rules: SymbolRules, config: SizingConfig) -> Decimal:
    """What the exits may sell: the filled quantity less a commission taken in the base asset."""
    qty = entry.executed_qty
    if plan.order.side is Side.BUY:
        if entry.fills:
            qty -= sum((f.commission for f in entry.fills if f.commission_asset == rules.base_asset), Decimal(0))
        elif config.commission_in_base_on_buy:
            qty *= ONE - config.fee_rate  # fills not reported: assume Binance's default commission
    lot = rules.lot_size
    return floor_to_step(qty, lot.step_size) if lot is not None else qty


def place_exits(
    plan: OrderPlan, entry: ExchangeOrder, exchange: Exchange, rules: SymbolRules, config: SizingConfig
) -> tuple[PlaceOutcome | None, dict[str, Any]]:
    """Place the plan's exits for a filled entry. Returns the outcome and what to record."""
    b = plan.brackets
    if b is None:
        return None, {}
    qty = received_quantity(plan, entry, rules, config)
    minimum = rules.lot_size.min_qty if rules.lot_size is not None else Decimal(0)
    if qty <= 0 or qty < minimum:
        return None, {"exits": "not placed", "reason": f"received quantity {plain(qty)} is below minQty"}
    if isinstance(b, OcoBrackets):
        if b.more:
            return _place_ladder(plan, b, qty, exchange, rules)
        outcome = exchange.place_oco(oco_request(plan.order.symbol, b, qty))
    else:
        outcome = exchange.place_order(b.leg.model_copy(update={"quantity": qty}))
    return outcome, {"exits": describe_outcome(outcome), "exit_quantity": plain(qty)}


def ladder_quantities(b: Brackets, qty: Decimal, rules: SymbolRules) -> list[Decimal]:
    """Each level's part of what the entry delivered: as planned when it delivered what sizing expected; else
    split by the shares, a level too small to stand folded into the one before it (the position stays covered)."""
    pairs = b.pairs
    planned = [p.quantity for p in pairs]
    if all(q is not None for q in planned) and sum(q for q in planned if q is not None) == qty:
        return [q for q in planned if q is not None]
    step = rules.lot_size.step_size if rules.lot_size is not None and rules.lot_size.step_size > 0 else Decimal(0)
    shares = [p.share if p.share is not None else Decimal(1) / len(pairs) for p in pairs]
    parts = split(qty, shares, step) if step > 0 else [qty * s for s in shares]
    for i in range(len(parts) - 1, 0, -1):
        prices = [leg.price or leg.stop_price for leg in pairs[i].legs]
        lowest = min((p for p in prices if p is not None), default=Decimal(0))
        if lowest <= 0 or parts[i] < level_minimum(rules, step, lowest):
            parts[i - 1], parts[i] = parts[i - 1] + parts[i], Decimal(0)
    return parts


def _place_ladder(
    plan: OrderPlan, b: OcoBrackets, qty: Decimal, exchange: Exchange, rules: SymbolRules
) -> tuple[PlaceOutcome | None, dict[str, Any]]:
    """One OCO per level; a level already working (an earlier attempt) is not placed again."""
    outcomes: list[PlaceOutcome] = []
    described: list[dict[str, Any]] = []
    for pair, part in zip(b.pairs, ladder_quantities(b, qty, rules), strict=True):
        if part <= 0:
            described.append({"result": "folded into the level before"})
            continue
        working = exchange.get_order(plan.order.symbol, client_order_id=pair.stop_loss.new_client_order_id)
        if working is not None and working.status.is_open:
            described.append({"result": "working", "client_order_id": working.client_order_id})
            continue
        outcome = exchange.place_oco(oco_request(plan.order.symbol, pair, part))
        outcomes.append(outcome)
        described.append({**describe_outcome(outcome), "quantity": plain(part)})
    worst = next((o for o in outcomes if isinstance(o, Rejected)), None) or next(
        (o for o in outcomes if isinstance(o, Unknown)), None
    )
    outcome = worst or next(iter(outcomes), None) or Accepted(_resolved(plan, b, exchange))
    return outcome, {"exits": {"result": _word(outcome), "levels": described}, "exit_quantity": plain(qty)}


def _word(outcome: PlaceOutcome) -> str:
    return "accepted" if isinstance(outcome, Accepted) else "rejected" if isinstance(outcome, Rejected) else "unknown"


def _resolved(plan: OrderPlan, b: OcoBrackets, exchange: Exchange) -> ExchangeOrder:
    """Every level was already working: the first level's stop stands for the accepted answer."""
    order = exchange.get_order(plan.order.symbol, client_order_id=b.stop_loss.new_client_order_id)
    assert order is not None
    return order


def with_entry(b: Brackets | None) -> TypeGuard[OcoBrackets]:
    """The exits go with a limit entry as one OTOCO: live the moment it fills, nothing to place after it."""
    return isinstance(b, OcoBrackets) and b.placement is BracketPlacement.WITH_ENTRY


def otoco_request(plan: OrderPlan) -> OtocoRequest | None:
    """The entry and its exit pair as one order list, when the exits go with the entry; else None."""
    b = plan.brackets
    if not with_entry(b) or b.quantity is None:
        return None
    return OtocoRequest(working=plan.order, pending=oco_request(plan.order.symbol, b, b.quantity))


def oco_request(symbol: str, b: OcoBrackets, qty: Decimal) -> OcoRequest:
    """One exit pair as the exchange's OCO: the take-profit's price, the stop's trigger or trailing delta."""
    return OcoRequest(
        symbol=symbol,
        side=b.side.value,
        quantity=qty,
        take_profit_price=b.take_profit_price,
        stop_loss_price=b.stop_loss.stop_price,
        list_client_order_id=b.list_client_order_id,
        take_profit_client_order_id=b.take_profit.new_client_order_id,
        stop_loss_client_order_id=b.stop_loss.new_client_order_id,
        stop_limit_price=b.stop_loss.price,
        stop_loss_trailing_delta=b.stop_loss.trailing_delta,
    )


def exits_step(execution: Mapping[str, Any], detail: Mapping[str, Any], keep_watching: bool = False) -> Step:
    """A step of a filled signal's exits, only while they work (EXIT_MOVES): their end, FILLED, or with
    ``keep_watching`` one more EXITING step (exits placed on a retry, an attempt that failed)."""
    return Step(EXITING if keep_watching else SignalState.FILLED, execution=execution, detail=detail, source=EXIT_MOVES)


def describe_outcome(outcome: PlaceOutcome) -> dict[str, Any]:
    if isinstance(outcome, Accepted):
        placed = outcome.order
        if isinstance(placed, OrderListResult):
            return {
                "result": "accepted",
                "order_list_id": placed.order_list_id,
                "list_status": placed.list_status,
                "orders": [order_summary(o) for o in placed.orders],
            }
        return {"result": "accepted", **order_summary(placed)}
    if isinstance(outcome, Rejected):
        return {"result": "rejected", "binance_code": outcome.code, "message": outcome.message}
    assert isinstance(outcome, Unknown)
    return {"result": "unknown", "reason": outcome.reason}


def order_summary(order: ExchangeOrder) -> dict[str, Any]:
    avg = order.average_price
    commission: dict[str, str] = {}
    for fill in order.fills:
        commission[fill.commission_asset] = plain(Decimal(commission.get(fill.commission_asset, "0")) + fill.commission)
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "type": order.type,
        "side": order.side,
        "status": order.status.value,
        "orig_qty": plain(order.orig_qty),
        "executed_qty": plain(order.executed_qty),
        "cummulative_quote_qty": plain(order.cummulative_quote_qty),
        "avg_price": plain(avg) if avg is not None else None,
        "fills": [
            {
                "price": plain(f.price),
                "qty": plain(f.qty),
                "commission": plain(f.commission),
                "commission_asset": f.commission_asset,
                "trade_id": f.trade_id,
            }
            for f in order.fills
        ],
        "commission": commission,
    }


def follow_exits(
    record: SignalRecord,
    plan: OrderPlan,
    deps: Deps,
    recorder: Recorder,
    extra: Mapping[str, Any] | None = None,
    by_hand: Callable[[], bool] | None = None,
) -> str:
    """Look up each exit leg of a FILLED signal (booking what they filled); once none is working any more,
    record how the position was closed (``execution.exit_result``) and stop watching.

    Returns "working", "closed", or "canceled_by_hand": every leg ended, nothing filled, and ``by_hand()``
    says no close of the engine canceled them (nothing is recorded then: the caller applies its policy).
    The monitor calls it on every run; a close calls it right after canceling the legs (``extra`` says so)."""
    from tradeengine.pipeline.booking import book_order

    b = plan.brackets
    legs: dict[str, OrderRequest | None] = {}
    for number, pair in enumerate(b.pairs if b is not None else (), start=1):
        tag = f"_{number}" if number > 1 else ""  # a ladder's levels: stop_loss_2, take_profit_2, ...
        legs.update({f"stop_loss{tag}": pair.stop_loss, f"take_profit{tag}": pair.take_profit})
    ended: dict[str, ExchangeOrder] = {}
    for name, leg in legs.items():
        if leg is None:
            continue
        order = deps.exchange.get_order(plan.order.symbol, client_order_id=leg.new_client_order_id)
        if order is not None and order.executed_qty > 0:  # a leg filling (even in part) reduces the position
            book_order(order, record.signal_id, record.strategy_id, "exit", deps, recorder)
        if order is None or order.status.is_open:
            return "working"  # still working (or not visible yet): look again on the next run
        ended[name] = order
    filled = {name.rstrip("_0123456789") for name, o in ended.items() if o.status is OrderStatus.FILLED}
    # a ladder that took profit at some levels and was stopped at the others was stopped out
    closed_by = "stop_loss" if "stop_loss" in filled else "take_profit" if "take_profit" in filled else None
    untouched = all(order.executed_qty == 0 for order in ended.values())
    if closed_by is None and untouched and extra is None and by_hand is not None and by_hand():
        return "canceled_by_hand"
    result = {"closed_by": closed_by, "legs": {name: order_summary(order) for name, order in ended.items()}}
    result.update(extra or {})
    execution = {**dict(record.execution or {}), "exit_result": result}
    if recorder.advance(record.signal_id, exits_step(execution, {"exit_result": result})) is None:
        return "working"
    status = "exit_filled" if closed_by else "exit_ended"
    deps.counters.incr(TRADES, {"status": status, "type": closed_by or "none"})
    return "closed"
