"""Automatic protections: each refuses new entries with its own code when its limit is reached (pure
checks over fills, then through the pipeline), and an account-wide one moves the trading state itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from tradeengine.book import BookFill
from tradeengine.config import Settings
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message
from tradeengine.protections import ProtectionLimits, check_account, check_strategy
from tradeengine.risk import TradingState
from tradeengine.sizing_base import client_order_id

from contracts.rejection import RejectionCode
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
STEP = {"BTCUSDT": D("0.00001")}


def _fill(n, side, price, *, minutes_ago, stop=False, strategy="A"):
    sid = f"s{n}"
    cid = client_order_id(sid, "sl") if stop else client_order_id(sid)
    return BookFill(
        venue="paper", trade_id=n, order_id=n, client_order_id=cid, signal_id=sid, strategy_id=strategy,
        symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", side=side, price=D(price), qty=D(1),
        quote_qty=D(price), commission=D(0), commission_asset="USDT", commission_quote=D(0),
        time_ms=int((NOW - timedelta(minutes=minutes_ago)).timestamp() * 1000),
        role="exit" if side == "SELL" else "entry",
    )  # fmt: skip


def _losing_trips(n, *, stop=True, minutes_ago=30, strategy="A"):
    fills = []
    for i in range(n):
        fills.append(_fill(2 * i + 1, "BUY", 100, minutes_ago=minutes_ago + 2 * (n - i), strategy=strategy))
        fills.append(
            _fill(2 * i + 2, "SELL", 90, minutes_ago=minutes_ago + 2 * (n - i) - 1, stop=stop, strategy=strategy)
        )
    return fills


def test_each_protection_trips_at_its_limit_with_its_code():
    ledgers = {"BTCUSDT": _losing_trips(3)}  # three stop-outs of -10 each, today
    check = lambda **kw: check_strategy("A", "BTCUSDT", ledgers, STEP, NOW, ProtectionLimits(**kw))  # noqa: E731
    assert check(max_daily_loss=D(30)).code is RejectionCode.DAILY_LOSS_LIMIT
    assert check(max_daily_loss=D(31)) is None
    assert check(max_drawdown=D(20)).code is RejectionCode.MAX_DRAWDOWN
    assert check(max_drawdown=D(31)) is None
    assert check(stoploss_guard_trades=3).code is RejectionCode.STOPLOSS_GUARD
    assert check(stoploss_guard_trades=4) is None
    assert check(stoploss_guard_trades=3, stoploss_guard_cooldown=timedelta(minutes=10)) is None  # pause over
    assert check(cooldown_after_exit=timedelta(minutes=60)).code is RejectionCode.COOLDOWN
    assert check(cooldown_after_exit=timedelta(minutes=5)) is None
    assert check() is None  # all off: nothing refused


def test_yesterdays_losses_do_not_count_today_and_take_profits_are_not_stop_outs():
    old = {"BTCUSDT": _losing_trips(3, minutes_ago=24 * 60)}
    assert check_strategy("A", "BTCUSDT", old, STEP, NOW, ProtectionLimits(max_daily_loss=D(5))) is None
    wins = {"BTCUSDT": _losing_trips(3, stop=False)}
    assert check_strategy("A", "BTCUSDT", wins, STEP, NOW, ProtectionLimits(stoploss_guard_trades=1)) is None


def test_account_limits_add_every_strategy():
    books = [{"BTCUSDT": _losing_trips(1, strategy="A")}, {"BTCUSDT": _losing_trips(1, strategy="B")}]
    trip = check_account(books, STEP, NOW, ProtectionLimits(max_daily_loss_account=D(20)))
    assert trip is not None and trip.account and trip.code is RejectionCode.DAILY_LOSS_LIMIT
    assert check_account(books, STEP, NOW, ProtectionLimits(max_daily_loss_account=D(21))) is None


def _deps(**settings):
    return memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "100000"}, Settings(**settings))


def _send(deps, **kw):
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    r = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    for m in deps.signals.drain():
        size_message(m, deps)
    for m in deps.plans.drain():
        execute_message(m, deps)
    return deps.store.get(r.signal_id)


def _stop_out(deps, strategy="A"):
    entry = _send(deps, strategy_id=strategy, quantity="0.01", meta={"stop_loss_pct": 1, "take_profit_pct": 5})
    deps.exchange.market.set("BTCUSDT", D("44500"))  # through the stop (44550), above its limit (44327.25)
    run_monitor(deps)
    deps.exchange.market.set("BTCUSDT", D("45000"))
    assert deps.store.get(entry.signal_id).execution["exit_result"]["closed_by"] == "stop_loss"


def test_a_stoploss_guard_trips_mid_burst_and_every_later_buy_is_refused_with_its_code_none_lost():
    deps = _deps(stoploss_guard_trades=2)
    _stop_out(deps)
    assert _send(deps, strategy_id="A", quantity="0.001").state.value == "FILLED"  # one stop-out: still trading
    _stop_out(deps)
    burst = [_send(deps, strategy_id="A", quantity="0.001") for _ in range(5)]
    assert [r.code for r in burst] == ["STOPLOSS_GUARD"] * 5  # each recorded, with its code
    assert _send(deps, strategy_id="B", quantity="0.001").state.value == "FILLED"  # other strategies trade on
    assert _send(deps, strategy_id="A", action="close").state.value == "FILLED"  # closes always pass
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_protections_total", (("protection", "stoploss_guard"),))] == 5


def test_an_account_limit_moves_the_trading_state_by_itself_and_audits_it():
    deps = _deps(max_daily_loss_account=D("1"), protection_trading_state="HALTED")
    _stop_out(deps)
    refused = _send(deps, strategy_id="B", quantity="0.001")
    assert refused.code == "DAILY_LOSS_LIMIT"
    info = deps.trading_state.describe()
    assert info.state is TradingState.HALTED and info.set_by == "protection:max_daily_loss_account"
    (event,) = deps.audit.events("protection:max_daily_loss_account")
    assert event.detail["trading_state"] == "HALTED" and event.code == "DAILY_LOSS_LIMIT"
    assert _send(deps, strategy_id="B", quantity="0.001").code in ("DAILY_LOSS_LIMIT", "TRADING_HALTED")


def test_an_account_trip_is_an_execution_event_the_notifier_tells_as_a_protection():
    from tradeengine.notifications import message_text, topic_of
    from tradeengine.pipeline.events_out import MemoryOutbox, MemoryPublisher

    from contracts.events import EventKind

    deps = _deps(max_daily_loss_account=D("1"), protection_trading_state="REDUCING")
    deps.events, deps.outbox = MemoryPublisher(), MemoryOutbox()
    _stop_out(deps)
    _send(deps, strategy_id="B", quantity="0.001")
    (trip,) = [e for e in deps.events.events if e.kind is EventKind.PROTECTION]
    assert (trip.strategy_id, trip.symbol, trip.code, trip.state) == ("*", "", "DAILY_LOSS_LIMIT", "REDUCING")
    assert trip.event_id.startswith("protection:max_daily_loss_account:") and topic_of(trip) == "protections"
    assert "PROTECTION DAILY_LOSS_LIMIT tripped · trading ACTIVE → REDUCING" in message_text(trip, "protections")
