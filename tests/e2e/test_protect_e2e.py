"""Issue 20's protections end to end on the laptop stack: a trailing stop-loss exit placed on a filled entry
follows the local exchange's price up and sells when it falls back by more than its delta."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest

from local.stack.demo import Api
from local.stack.stack import Endpoints
from tests.e2e.test_book import _get, _monitor, _price, _send, _signal
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
