"""One decision: signal → risk → sizing → risk → the exchange's own filter check (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from contracts.orders import Hold, OrderPlan
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Action, Signal
from tradeengine import risk, sizing
from tradeengine.risk import RiskLimits, TradingState
from tradeengine.rules import OrderContext, SymbolRules
from tradeengine.sizing import Balances, Market, SizingConfig

Decision = OrderPlan | Rejection | Hold


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything an operator tunes: risk limits, sizing settings and the trading state."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    sizing: SizingConfig = field(default_factory=SizingConfig)
    state: TradingState = TradingState.ACTIVE


def decide(
    signal: Signal,
    rules_by_symbol: Mapping[str, SymbolRules],
    market: Market,
    now: datetime,
    balances: Balances | None = None,
    policy: Policy | None = None,
    holding: sizing.Holding | None = None,
) -> Decision:
    policy = policy or Policy()
    if signal.action is Action.HOLD:
        return Hold(signal_id=signal.id)
    rules = rules_by_symbol.get(signal.symbol)
    denied = risk.before_sizing(signal, rules, policy.limits, policy.state, now, market)
    if denied is not None:
        return denied
    assert rules is not None  # before_sizing rejects unknown symbols
    plan = sizing.size(signal, rules, market, balances, policy.sizing, holding)
    if not isinstance(plan, OrderPlan):
        return plan
    denied = risk.after_sizing(plan, rules, market, balances, policy.limits, policy.sizing)
    if denied is not None:
        return denied
    # Last line: what leaves the engine passes every filter of its symbol, as the exchange checks them.
    problems = rules.check(plan.order, OrderContext(average_price=market.average))
    if problems:
        return Rejection(
            code=RejectionCode.FILTER_FAILURE,
            reason="the order would be refused by the exchange: "
            + "; ".join(f"{p.message} ({p.detail})" for p in problems),
        )
    return plan
