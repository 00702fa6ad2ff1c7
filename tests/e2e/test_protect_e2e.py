"""Issue 20's protections end to end on the laptop stack: a trailing stop-loss exit placed on a filled entry
follows the local exchange's price up and sells when it falls back by more than its delta."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest

from local.stack.demo import Api
from local.stack.stack import Endpoints
from tests.e2e.test_book import _get, _hand_pnl, _monitor, _price, _send, _signal
from tests.integration.local_exchange.conftest import admin

pytestmark = pytest.mark.e2e


def _set(ends: Endpoints, price: D) -> None:
    admin(ends.exchange, "price", {"symbol": "BTCUSDT", "price": str(price.quantize(D("0.01")))})


def test_a_trailing_stop_follows_the_price_up_and_sells_when_it_falls_back_by_the_delta(
    local_stack: Endpoints, api: Api
) -> None:
    strategy = f"T{uuid.uuid4().hex[:8]}"
    before = _price(local_stack)
    meta = {"order_type": "market", "trailing_delta_bps": 100}  # 1 %
    entry = _send(api, _signal(strategy, price=before, quantity=0.001, meta=meta))
    assert entry["state"] == "FILLED" and entry["protection"] == "protected", entry
    stop = entry["plan"]["brackets"]["stop_loss"]
    assert stop["trailing_delta"] == 100 and stop["stop_price"] is None
    start = D(entry["execution"]["entry"]["avg_price"])
    try:
        for step in ("1.01", "1.02", "1.03"):  # up 3 %: the stop's best price follows
            _set(local_stack, start * D(step))
            _monitor(local_stack, api, lambda: True)  # the paper exchange sees each price as the monitor runs
        best = start * D("1.03")
        _set(local_stack, best * D("0.995"))  # back 0.5 %: less than the delta, the stop keeps working
        _monitor(local_stack, api, lambda: True)
        assert api.signal(entry["signal_id"])["exits_working"]
        _set(local_stack, best * D("0.985"))  # back 1.5 % from the best: past the delta
        _monitor(local_stack, api, lambda: not api.signal(entry["signal_id"])["exits_working"])
    finally:
        admin(local_stack.exchange, "price", {"symbol": "BTCUSDT", "price": before})  # as the other tests expect
    result = api.signal(entry["signal_id"])["execution"]["exit_result"]
    assert result["closed_by"] == "stop_loss", result
    sold = D(result["legs"]["stop_loss"]["avg_price"])
    assert sold > start  # it sold above the entry: the stop had trailed up with the price
    trades = _get(api, f"/trades?strategy_id={strategy}")["trades"]
    assert [(t["side"], t["role"]) for t in trades] == [("BUY", "entry"), ("SELL", "exit")], trades


def test_a_two_level_ladder_closes_half_at_each_level_and_the_book_realizes_what_the_fills_say(
    local_stack: Endpoints, api: Api
) -> None:
    strategy = f"L{uuid.uuid4().hex[:8]}"
    before = _price(local_stack)
    ladder = [{"pct": 1, "share": "0.5"}, {"pct": 2, "share": "0.5"}]
    meta = {"order_type": "market", "stop_loss_pct": 2, "take_profit_levels": ladder}
    entry = _send(api, _signal(strategy, price=before, quantity=0.002, meta=meta))
    assert entry["state"] == "FILLED" and entry["protection"] == "protected", entry
    levels = entry["execution"]["exits"]["levels"]
    assert [lv["result"] for lv in levels] == ["accepted", "accepted"], levels
    parts = [D(lv["quantity"]) for lv in levels]
    start = D(entry["execution"]["entry"]["avg_price"])
    (held,) = _get(api, f"/positions?strategy_id={strategy}")["positions"]
    assert len(held["protected_by"]) == 4, held  # two OCOs
    try:
        _set(local_stack, start * D("1.015"))  # through level 1 only
        _monitor(local_stack, api, lambda: len(_get(api, f"/trades?strategy_id={strategy}")["trades"]) == 2)
        (half,) = _get(api, f"/positions?strategy_id={strategy}")["positions"]
        assert D(half["quantity"]) == D(held["quantity"]) - parts[0], half
        assert api.signal(entry["signal_id"])["exits_working"]
        _set(local_stack, start * D("1.025"))  # through level 2
        _monitor(local_stack, api, lambda: not api.signal(entry["signal_id"])["exits_working"])
    finally:
        admin(local_stack.exchange, "price", {"symbol": "BTCUSDT", "price": before})  # as the other tests expect
    trades = _get(api, f"/trades?strategy_id={strategy}")["trades"]
    assert [(t["side"], t["role"]) for t in trades] == [("BUY", "entry"), ("SELL", "exit"), ("SELL", "exit")]
    assert sorted(D(t["qty"]) for t in trades[1:]) == sorted(parts)
    (closed,) = _get(api, f"/positions?strategy_id={strategy}&include_closed=true")["positions"]
    assert D(closed["realized_pnl"]) == _hand_pnl(trades) and D(closed["realized_pnl"]) > 0, (closed, trades)
    result = api.signal(entry["signal_id"])["execution"]["exit_result"]
    assert result["closed_by"] == "take_profit" and result["legs"]["take_profit_2"]["status"] == "FILLED"
