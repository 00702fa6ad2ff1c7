"""The automatic protections in the pipeline: read the book, judge a buy (tradeengine.protections, pure),
and act on an account-wide trip (the trading state moves by itself; HALTED may flatten)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from contracts.rejection import Rejection
from contracts.signal import Action, Signal
from contracts.status import AuditEvent, SignalState
from tradeengine.metrics import PROTECTIONS
from tradeengine.protections import Trip, check_account, check_strategy
from tradeengine.risk import TradingState

if TYPE_CHECKING:
    from tradeengine.book import BookFill
    from tradeengine.pipeline.deps import Deps

log = logging.getLogger(__name__)


def refuse_entry(signal: Signal, deps: Deps, now: datetime) -> Rejection | None:
    """A buy that a protection refuses (with the protection's code), or None. Sells and closes pass."""
    limits = deps.settings.protection_limits()
    if signal.action is not Action.BUY or not limits.enabled:
        return None
    books: dict[str, dict[str, Sequence[BookFill]]] = defaultdict(dict)
    strategies = [signal.strategy_id] if not limits.account_enabled else [None]
    for strategy in strategies:
        for p in deps.ledger.positions(strategy):
            books[p.strategy_id][p.symbol] = deps.ledger.fills(p.strategy_id, p.symbol)
    steps = {sym: _step(sym, deps) for ledgers in books.values() for sym in ledgers}
    trip: Trip | None = None
    if limits.strategy_enabled:
        trip = check_strategy(signal.strategy_id, signal.symbol, books.get(signal.strategy_id, {}), steps, now, limits)
    if trip is None and limits.account_enabled:
        trip = check_account(books.values(), steps, now, limits)
        if trip is not None:
            _trip_account(trip, deps, now)
    if trip is None:
        return None
    deps.counters.incr(PROTECTIONS, {"protection": trip.name})
    log.warning("protection %s refuses %s: %s", trip.name, signal.id, trip.reason)
    return Rejection(code=trip.code, reason=trip.reason)


def _step(symbol: str, deps: Deps) -> Decimal:
    rules = deps.rules.get(symbol)
    lot = rules.lot_size if rules is not None else None
    return lot.step_size if lot is not None else Decimal(0)


def _trip_account(trip: Trip, deps: Deps, now: datetime) -> None:
    """Move the trading state (never back towards ACTIVE), audit it, and flatten when HALTED asks to."""
    target = TradingState(deps.settings.protection_trading_state)
    current = deps.trading_state.get()
    if current is TradingState.HALTED or current is target:
        return
    deps.trading_state.set(target, by=f"protection:{trip.name}", reason=trip.reason)
    log.error("protection %s moved trading to %s: %s", trip.name, target.value, trip.reason)
    flattened: list[str] = []
    if target is TradingState.HALTED and deps.settings.flatten_on_halt:
        from tradeengine.pipeline.flatten import flatten

        lines = flatten(deps, None, None, trip.reason, f"protection:{trip.name}")
        flattened = [line["signal_id"] for line in lines]
    event = AuditEvent(
        signal_id=f"protection:{trip.name}",
        seq=int(now.timestamp() * 1000),
        stage="protection",
        state=SignalState.REJECTED,
        at=now,
        mode=deps.settings.mode,
        code=trip.code.value,
        detail={"trading_state": target.value, "from": current.value, "reason": trip.reason, "flatten": flattened},
    )
    try:
        deps.audit.record([event])
    except Exception as exc:  # the state is set; the log has it; the audit copy is best effort here
        log.warning("protection audit not written: %s", type(exc).__name__)
    deps.events_out().book([event])  # told to the world (and the notifier) too; never raises
