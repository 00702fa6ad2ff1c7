"""The strategy book's use-case: record what an order filled (once), and keep its position.

Called wherever the engine learns that an order has filled: execution (the placement's answer), the
monitor (an entry that filled later, exit legs), and a close (the exits it canceled, its own sell).
Every call is idempotent: the ledger records a fill once by its venue trade id, and the position is
replayed from the ledger each time, so a redelivery, a second observer or a crash between the fill and
the write (the next observer books it) neither counts a fill twice nor misses one.

Callers book *before* they move the signal's state: a crash after the state write but before booking
would leave a fill that nobody looks at again; a crash before the state write is retried by the same
path, which books again, harmlessly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from contracts.money import plain
from contracts.orders import OrderPlan
from contracts.status import AuditEvent, SignalState
from tradeengine.book import BookFill, Position, commission_in_quote, replay
from tradeengine.exchange.base import ExchangeError, ExchangeOrder, Fill, OrderStatus
from tradeengine.metrics import ERRORS, POSITION_QUANTITY, REALIZED_PNL, emit_gauge
from tradeengine.pipeline.ports import OPEN_STATES, SignalRecord

if TYPE_CHECKING:
    from tradeengine.pipeline.deps import Deps
    from tradeengine.pipeline.recorder import Recorder
    from tradeengine.rules import SymbolRules

log = logging.getLogger(__name__)


class BookUnavailable(RuntimeError):
    """The fills cannot be booked now (no exchange rules, the venue did not answer): retry the message."""


def book_order(
    order: ExchangeOrder, signal_id: str, strategy_id: str, role: str, deps: Deps, recorder: Recorder | None = None
) -> Position | None:
    """Book every fill of ``order`` for ``strategy_id``; returns the position after it (None: nothing filled).

    With ``recorder``, the fill and position events go into its flush: one audit write and one publish for
    the message, with its steps; without, they are written and published here."""
    if order.executed_qty <= 0:
        return None
    rules = deps.rules.get(order.symbol)
    if rules is None:
        raise BookUnavailable(f"no exchange rules for {order.symbol}: its fills cannot be booked yet")
    fills = list(order.fills)
    if sum((f.qty for f in fills), Decimal(0)) < order.executed_qty:
        try:  # an order lookup reports no fills (Binance): ask for this order's trades
            fills = deps.exchange.order_fills(order.symbol, order.order_id)
        except ExchangeError as exc:
            raise BookUnavailable(f"fills of order {order.order_id} unavailable: {exc.message}") from exc
    at_ms = order.update_time_ms or int(deps.clock().timestamp() * 1000)
    entries = [_entry(f, order, signal_id, strategy_id, role, rules, at_ms, deps) for f in fills]
    added = deps.ledger.add(entries)
    position = refresh_position(strategy_id, order.symbol, deps, rules)
    _audit(added, position, order, deps, recorder)
    return position


def refresh_position(strategy_id: str, symbol: str, deps: Deps, rules: SymbolRules | None = None) -> Position:
    """Replay one position's ledger and store the summary (kept only if it replays more fills)."""
    rules = rules or deps.rules.get(symbol)
    step = _step(rules)
    position = replay(deps.ledger.fills(strategy_id, symbol), step).position
    if position.fills and deps.ledger.save_position(position):
        _emit(position, deps)
    return position


def _step(rules: SymbolRules | None) -> Decimal:
    lot = rules.lot_size if rules is not None else None
    return lot.step_size if lot is not None and lot.step_size > 0 else Decimal(0)


def _entry(
    fill: Fill,
    order: ExchangeOrder,
    signal_id: str,
    strategy_id: str,
    role: str,
    rules: SymbolRules,
    at_ms: int,
    deps: Deps,
) -> BookFill:
    base, quote = rules.base_asset, rules.quote_asset
    rate = None
    if fill.commission and fill.commission_asset not in (base, quote):
        rate = _rate(fill.commission_asset, quote, deps)
    return BookFill(
        venue=deps.exchange.name,
        trade_id=fill.trade_id,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        signal_id=signal_id,
        strategy_id=strategy_id,
        symbol=order.symbol,
        base_asset=base,
        quote_asset=quote,
        side=order.side,
        price=fill.price,
        qty=fill.qty,
        quote_qty=fill.price * fill.qty,
        commission=fill.commission,
        commission_asset=fill.commission_asset,
        commission_quote=commission_in_quote(fill.commission, fill.commission_asset, fill.price, base, quote, rate),
        time_ms=fill.time_ms or at_ms,
        role=role,
    )


def _rate(asset: str, quote: str, deps: Deps) -> Decimal | None:
    """The price of a fee asset (BNB) in the quote asset, from the ticker now; None if the venue has no pair."""
    try:
        return deps.exchange.ticker_price(f"{asset}{quote}")
    except ExchangeError:
        log.warning("no %s%s price: the fee stays unconverted (fees_unknown)", asset, quote)
        return None


def fill_json(fill: BookFill) -> dict[str, object]:
    """A fill as the API and the audit trail show it (amounts as plain decimal strings)."""
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "client_order_id": fill.client_order_id,
        "venue": fill.venue,
        "signal_id": fill.signal_id,
        "strategy_id": fill.strategy_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "role": fill.role,
        "price": plain(fill.price),
        "qty": plain(fill.qty),
        "quote_qty": plain(fill.quote_qty),
        "commission": plain(fill.commission),
        "commission_asset": fill.commission_asset,
        "commission_quote": plain(fill.commission_quote) if fill.commission_quote is not None else None,
        "time_ms": fill.time_ms,
    }


def position_json(position: Position, mark: Decimal | None = None) -> dict[str, object]:
    unrealized = position.unrealized_pnl(mark)
    avg = position.average_entry_price
    return {
        "strategy_id": position.strategy_id,
        "symbol": position.symbol,
        "quantity": plain(position.quantity),
        "dust": plain(position.dust),
        "average_entry_price": plain(avg) if avg is not None and position.quantity > 0 else None,
        "realized_pnl": plain(position.realized_pnl),
        "unrealized_pnl": plain(unrealized) if unrealized is not None else None,
        "fees": plain(position.fees),
        "fees_unconverted": position.fees_unknown,
        "quote_asset": position.quote_asset,
        "mark_price": plain(mark) if mark is not None else None,
        "fills": position.fills,
        "open": position.is_open,
    }


def _audit(
    added: Sequence[BookFill], position: Position, order: ExchangeOrder, deps: Deps, recorder: Recorder | None
) -> None:
    """One event per new fill and one per position change; idempotent keys, so a replay writes nothing new."""
    at = deps.clock()
    state = SignalState.FILLED if order.status is OrderStatus.FILLED else SignalState.PARTIALLY_FILLED
    events = [
        AuditEvent(
            signal_id=f"fill:{f.strategy_id}:{f.symbol}:{f.key}",
            seq=0,
            stage="book",
            state=state,
            at=at,
            mode=deps.settings.mode,
            detail={"fill": fill_json(f)},
        )
        for f in added
    ]
    if added:
        events.append(
            AuditEvent(
                signal_id=f"position:{position.strategy_id}:{position.symbol}",
                seq=position.fills,
                stage="book",
                state=SignalState.FILLED,
                at=at,
                mode=deps.settings.mode,
                detail={"position": position_json(position), "fills_added": [f.key for f in added]},
            )
        )
    if not events:
        return
    if recorder is not None:
        recorder.attach(events)
        return
    try:
        deps.audit.record(events)
    except Exception as exc:  # the ledger is the record; the audit copy is healed by the next change
        log.warning("book audit not written: %s", type(exc).__name__)
        deps.counters.incr(ERRORS, {"type": "audit_unavailable"})
    deps.events_out().book(events)  # never raises: pipeline.events_out


def _emit(position: Position, deps: Deps) -> None:
    labels = {"strategy": position.strategy_id, "symbol": position.symbol}
    emit_gauge(POSITION_QUANTITY, float(position.quantity), labels)
    pnl_labels = {"strategy": position.strategy_id, "quote": position.quote_asset}
    emit_gauge(REALIZED_PNL, float(position.realized_pnl), pnl_labels)


def book_levels(positions: Iterable[Position]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The book as Prometheus gauge series: quantity per (strategy, symbol), realized PnL per (strategy, quote)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    pnl: dict[tuple[str, str], Decimal] = {}
    for p in positions:
        out[(POSITION_QUANTITY, (("strategy", p.strategy_id), ("symbol", p.symbol)))] = float(p.quantity)
        key = (p.strategy_id, p.quote_asset)
        pnl[key] = pnl.get(key, Decimal(0)) + p.realized_pnl
    for (strategy, quote), value in pnl.items():
        out[(REALIZED_PNL, (("quote", quote), ("strategy", strategy)))] = float(value)
    return out


# ---- what protects a position: the strategy's working orders ----------------------------------------------


def working_records(deps: Deps, strategy_id: str | None = None, symbol: str | None = None) -> Iterator[SignalRecord]:
    """Signals with orders still working at the exchange (entries not yet filled, exits), filtered."""
    after = None
    while True:
        page = deps.store.open_signals(100, after=after)
        for record in page:
            if (strategy_id is None or record.strategy_id == strategy_id) and (
                symbol is None or record.symbol == symbol
            ):
                yield record
        if len(page) < 100:
            return
        from tradeengine.pipeline.ports import OpenPosition

        after = OpenPosition.of(page[-1])


def exit_orders(record: SignalRecord) -> list[str]:
    """Client order ids of a FILLED signal's working exit legs."""
    if record.plan is None or record.state in OPEN_STATES:
        return []
    b = OrderPlan.model_validate(record.plan).brackets
    if b is None:
        return []
    return [leg.new_client_order_id for leg in b.all_legs]  # every pair of a take-profit ladder


def working_orders(record: SignalRecord) -> list[str]:
    """Every client order id of ``record`` that may be working: an open entry (and its pending exits), or exits."""
    if record.plan is None:
        return []
    if record.state in OPEN_STATES:
        return [OrderPlan.model_validate(record.plan).order.new_client_order_id]
    return exit_orders(record) if record.watching_exits else []


def protected_by(deps: Deps) -> dict[tuple[str, str], list[str]]:
    """(strategy, symbol) → the client order ids of the exit orders working for it."""
    out: dict[tuple[str, str], list[str]] = {}
    for record in working_records(deps):
        if record.state is SignalState.FILLED:
            out.setdefault((record.strategy_id, record.symbol), []).extend(exit_orders(record))
    return out


def flatten_targets(
    positions: Iterable[Position], deps: Deps, strategy_id: str | None, symbol: str | None
) -> list[tuple[str, str]]:
    """(strategy, symbol) pairs a flatten must act on: open positions, and pairs with working orders."""
    pairs = {(p.strategy_id, p.symbol) for p in positions if p.is_open}
    pairs |= {(r.strategy_id, r.symbol) for r in working_records(deps, strategy_id, symbol)}
    return sorted(
        p for p in pairs if (strategy_id is None or p[0] == strategy_id) and (symbol is None or p[1] == symbol)
    )
