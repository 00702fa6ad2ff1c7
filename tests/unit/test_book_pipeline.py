"""The strategy book through the pipeline (in-memory ports, the paper exchange): fills booked once from
execution and the monitor, positions per (strategy, symbol), a close that closes the strategy's own
position (canceling the exits that lock it), sells that may not exceed the book."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from tradeengine.book import replay
from tradeengine.config import Settings
from tradeengine.pipeline.booking import book_order
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

PRICES = {"BTCUSDT": "45000", "ETHUSDT": "3000"}
STEP = D("0.000001")  # BTCUSDT's lot step in the 2021 exchangeInfo


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), PRICES, {"USDT": "10000"})


def send(deps, **kw):
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    result = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    return deps.store.get(result.signal_id)


def position(deps, strategy, symbol="BTCUSDT"):
    return next((p for p in deps.ledger.positions(strategy) if p.symbol == symbol), None)


def hand_pnl(fills):
    """Realized PnL from the ledger, computed here without tradeengine.book: average cost, fees in USDT."""
    held = cost = pnl = D(0)
    for f in sorted(fills, key=lambda f: (f.time_ms, f.trade_id)):
        fee = f.commission * (f.price if f.commission_asset == "BTC" else D(1))
        if f.side == "BUY":
            got = f.qty - (f.commission if f.commission_asset == "BTC" else D(0))
            held, cost = held + got, cost + got * f.price
        else:
            avg = cost / held
            pnl += f.qty * (f.price - avg)
            held, cost = held - f.qty, cost - f.qty * avg
        pnl -= fee
    return pnl


def test_a_take_profit_closes_the_position_and_the_book_realizes_the_hand_computed_pnl(deps):
    entry = send(
        deps, strategy_id="A", quantity="0.001", meta={"order_type": "market", "take_profit_pct": 3, "stop_loss_pct": 2}
    )
    assert entry.state is SignalState.FILLED and entry.watching_exits
    held = position(deps, "A")
    assert held.is_open and held.quantity == D("0.000999")  # 0.001 less Binance's 0.1 % fee in BTC
    deps.exchange.market.set("BTCUSDT", D("47000"))  # through the 3 % target
    run_monitor(deps)
    closed = position(deps, "A")
    fills = deps.ledger.fills("A", "BTCUSDT")
    assert [f.role for f in sorted(fills, key=lambda f: f.time_ms)] == ["entry", "exit"]
    assert closed.quantity == 0 and not closed.is_open
    assert closed.realized_pnl == hand_pnl(fills) and closed.realized_pnl > 0
    assert len(replay(fills, STEP).trips) == 1


def test_a_close_right_after_a_bracketed_entry_cancels_the_exits_and_sells(deps):
    entry = send(
        deps, strategy_id="A", quantity="0.001", meta={"order_type": "market", "take_profit_pct": 3, "stop_loss_pct": 2}
    )
    assert deps.exchange.balances()["BTC"].free == 0  # the OCO locks everything the entry bought
    close = send(deps, strategy_id="A", action="close")
    assert close.state is SignalState.FILLED, (close.code, close.reason)
    assert close.execution["canceled_first"]
    assert position(deps, "A").quantity == 0
    assert not any(o.status.is_open for o in deps.exchange.open_orders("BTCUSDT"))
    run_monitor(deps)  # the entry's exits ended, canceled: closed_by null
    assert deps.store.get(entry.signal_id).execution["exit_result"]["closed_by"] is None


def test_two_strategies_on_one_symbol_each_close_only_their_own_quantity(deps):
    send(deps, strategy_id="A", quantity="0.002")
    send(deps, strategy_id="B", quantity="0.001")
    a, b = position(deps, "A").quantity, position(deps, "B").quantity
    close_b = send(deps, strategy_id="B", action="close")
    assert close_b.state is SignalState.FILLED
    assert D(close_b.plan["order"]["quantity"]) == b
    assert position(deps, "B").quantity == 0 and position(deps, "A").quantity == a
    assert deps.exchange.balances()["BTC"].free == a


def test_a_close_with_no_position_and_a_sell_beyond_the_position_are_refused_with_their_codes(deps):
    assert send(deps, strategy_id="A", action="close").code == "NOTHING_TO_CLOSE"
    send(deps, strategy_id="A", quantity="0.001")
    refused = send(deps, strategy_id="A", action="sell", quantity="0.002")
    assert refused.code == "SELL_EXCEEDS_POSITION" and "0.000999" in refused.reason
    assert send(deps, strategy_id="A", action="sell", quantity="0.0005").state is SignalState.FILLED
    assert position(deps, "A").quantity == D("0.000499")


def test_untracked_sells_pass_when_the_setting_allows_them():
    deps = memory_deps(
        load_info(INFO_2021), PRICES, {"USDT": "10000", "BTC": "1"}, settings=Settings(allow_untracked_sells=True)
    )
    assert send(deps, strategy_id="A", action="sell", quantity="0.01").state is SignalState.FILLED
    assert position(deps, "A").untracked_sold == D("0.01")


def test_a_fill_reported_twice_is_booked_once(deps):
    entry = send(deps, strategy_id="A", quantity="0.001")
    order = deps.exchange.get_order("BTCUSDT", client_order_id=entry.plan["order"]["new_client_order_id"])
    before = position(deps, "A")
    for _ in range(3):  # the monitor, a redelivery, a second observer
        book_order(order, entry.signal_id, "A", "entry", deps)
    assert len(deps.ledger.fills("A", "BTCUSDT")) == 1 and position(deps, "A") == before
