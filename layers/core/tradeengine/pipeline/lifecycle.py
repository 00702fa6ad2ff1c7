"""A signal's life after it is placed, as execution and the monitor both read it.

- ``STATE_OF``: the signal state an exchange order status means (the same answer moves the signal the same
  way whether the placement or a later lookup brought it);
- ``exits_after_fill``: what a filled entry does about its exits (the OTOCO's pair went live with it, or the
  first placement attempt of ``pipeline/protection.py``);
- ``exits_working``: whether the monitor goes on following the signal after FILLED;
- ``order_step``: the move an order's status makes, to EXITING (``contracts.status``) when it filled and its
  exits are working.

A shared module, not a stage: execution and the monitor import this, never each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from contracts.execution import Execution
from contracts.orders import OrderPlan
from contracts.status import EXITING, ORDER_MOVES, Life, SignalState
from tradeengine.exchange.base import ExchangeOrder, OrderStatus
from tradeengine.pipeline import protection
from tradeengine.pipeline.exits import with_entry
from tradeengine.pipeline.ports import Step

if TYPE_CHECKING:
    from tradeengine.pipeline.deps import Deps

STATE_OF = {
    OrderStatus.NEW: SignalState.OPEN,
    OrderStatus.PENDING_NEW: SignalState.OPEN,
    OrderStatus.PARTIALLY_FILLED: SignalState.PARTIALLY_FILLED,
    OrderStatus.FILLED: SignalState.FILLED,
    OrderStatus.CANCELED: SignalState.CANCELED,
    OrderStatus.PENDING_CANCEL: SignalState.OPEN,
    OrderStatus.EXPIRED: SignalState.EXPIRED,
    OrderStatus.EXPIRED_IN_MATCH: SignalState.EXPIRED,
    OrderStatus.REJECTED: SignalState.FAILED,
}


def exits_working(plan: OrderPlan, execution: Mapping[str, Any]) -> bool:
    """Whether a filled entry leaves exits for the monitor to follow: working at the exchange (placed with
    the entry as one order list, or after the fill and accepted), or still to be placed (``pending``)."""
    b = plan.brackets
    if b is None:
        return False
    if with_entry(b):
        return True
    return Execution.read(execution).exits_working


def order_step(state: SignalState, plan: OrderPlan, execution: Mapping[str, Any], detail: Mapping[str, Any]) -> Step:
    """The move an order's status makes (execution's placement, the monitor's lookup): to EXITING when the entry
    filled and its exits are working, else to ``state``; never from EXITING, whose fill is recorded already."""
    to: Life = EXITING if state is SignalState.FILLED and exits_working(plan, execution) else state
    return Step(to, execution=execution, detail=detail, source=ORDER_MOVES)


def exits_after_fill(plan: OrderPlan, entry: ExchangeOrder, deps: Deps) -> dict[str, Any]:
    b = plan.brackets
    if b is None:
        return {}
    if with_entry(b):
        return {"protection": protection.PROTECTED}  # the OTOCO's pair went live with the fill
    return protection.first_attempt(plan, entry, deps)
