"""The Binance adapter within the venue's limits, against the local exchange enforcing its rateLimits.

The exchange counts every request's weight and every order; with ``enforce`` it answers 429, then 418.
These tests scale its limits down (POST /admin/limits) so a handful of requests meets them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from tradeengine.exchange.base import Accepted, Rejected
from tradeengine.exchange.binance import BinanceCredentials, BinanceExchange
from tradeengine.venue_budget import DEFAULT_RATE_LIMITS, MemoryBudgetStore, VenueBudget
from tradeengine.venue_cache import VenueCache

from local.stack.procs import free_port
from tests.unit.test_venue_budget import MemorySnapshots

from .conftest import API_KEY, API_SECRET, _ready, _stop
from .test_binance_adapter import SYMBOL, limit_buy, market_buy

pytestmark = pytest.mark.integration
MEASURE = {"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": 10**9}


def limits(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/admin/limits", data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.loads(reply.read())


def weight_used(url: str) -> int:
    """The weight the exchange counted today for 127.0.0.1 (the DAY limit the tests add to measure it)."""
    ips = limits(url)["ips"]
    return sum(int(ip["used"].get("REQUEST_WEIGHT-1D", 0)) for ip in ips.values())


@pytest.fixture
def enforced(local_exchange_url: str) -> Iterator[str]:
    """Limits at 5 % (300 weight a minute, 5 orders per 10 s), enforced; the defaults again afterwards."""
    limits(local_exchange_url, {"enforce": True, "scale": "0.05", "rate_limits": [*DEFAULT_RATE_LIMITS, MEASURE]})
    try:
        yield local_exchange_url
    finally:
        limits(local_exchange_url, {})


def adapter(url: str, store: MemoryBudgetStore, cache: bool = False) -> BinanceExchange:
    """A fresh adapter (a Lambda instance) on the budget every instance shares, as ``stores.venue_budget.wire``
    gives it one; the budget learns the venue's limits from exchangeInfo, as the rules cache hands them over."""
    ex = BinanceExchange(BinanceCredentials(SecretStr(API_KEY), SecretStr(API_SECRET)), base_url=url, timeout_s=5)
    budget = VenueBudget(store)
    venue_cache = VenueCache(MemorySnapshots(), ex) if cache else None
    if venue_cache is not None:
        venue_cache.assets_of = lambda symbol: ("BTC", "USDT")
    ex.attach(budget, venue_cache)
    budget.remember_limits(ex.exchange_info([SYMBOL])["rateLimits"])
    return ex


def test_a_burst_of_one_and_a_half_order_windows_is_paced_without_a_429(enforced: str) -> None:
    store = MemoryBudgetStore()
    instances = [adapter(enforced, store), adapter(enforced, store)]
    limit = next(r["limit"] for r in limits(enforced)["rateLimits"] if r["interval"] == "SECOND")
    pending = [f"burst-{uuid.uuid4().hex[:12]}-{i}" for i in range(limit * 3 // 2 + 1)]
    started, placed, rounds = time.monotonic(), [], 0
    while pending and time.monotonic() - started < 40:
        waits = []
        for i, cid in enumerate(list(pending)):
            outcome = instances[i % 2].place_order(market_buy(cid))
            if isinstance(outcome, Accepted):
                placed.append(cid)
                pending.remove(cid)
            else:
                assert isinstance(outcome, Rejected) and outcome.retryable and outcome.code == -1015, outcome
                waits.append(outcome.retry_after_s or 1.0)
        rounds += 1
        if pending:
            time.sleep(min(waits))  # the test stands for SQS: the message comes back when told to
    assert not pending and len(set(placed)) == len(placed)
    assert [ex.rate_limited for ex in instances] == [{429: 0, 418: 0}] * 2
    assert rounds >= 2  # it did meet the limit, and waited instead of sending
    assert limits(enforced)["ips"]["127.0.0.1"]["bans"] == 0


def test_sizing_reads_cost_one_ticker_call_and_one_account_call_for_many_signals(enforced: str) -> None:
    before = weight_used(enforced)
    store = MemoryBudgetStore()
    ex = adapter(enforced, store, cache=True)
    after_info = weight_used(enforced)
    for _ in range(20):  # what sizing reads per signal: price, average price, balances
        assert ex.ticker_price(SYMBOL) > 0 and ex.average_price(SYMBOL) > 0
        assert ex.balances()["USDT"].free > 0
    spent = weight_used(enforced) - after_info
    assert after_info - before == 20  # exchangeInfo
    assert spent == 4 + 2 + 20, spent  # one of each for 20 signals, not 20 x 24


def test_an_order_sent_makes_the_served_balance_smaller_before_the_account_is_read(enforced: str) -> None:
    ex = adapter(enforced, MemoryBudgetStore(), cache=True)
    free = ex.balances()["USDT"].free
    order = limit_buy(f"held-{uuid.uuid4().hex[:12]}", price="40000", qty="0.001")
    assert isinstance(ex.place_order(order), Accepted)
    assert ex.balances()["USDT"].free == free - Decimal(40)  # debited, not re-read
    assert ex.exact_balances()["USDT"].free == free - Decimal(40)  # the account says the same
    ex.cancel_order(SYMBOL, client_order_id=order.new_client_order_id)


def test_the_monitor_s_lookups_of_open_orders_come_from_one_call(local_exchange_url: str) -> None:
    limits(local_exchange_url, {"rate_limits": [*DEFAULT_RATE_LIMITS, MEASURE]})  # counted, not enforced
    try:
        ex = adapter(local_exchange_url, MemoryBudgetStore())
        ids = [f"rest-{uuid.uuid4().hex[:12]}-{i}" for i in range(60)]
        for cid in ids:
            assert isinstance(ex.place_order(limit_buy(cid)), Accepted)
        before = weight_used(local_exchange_url)
        ex.prefetch_open_orders()
        found = [ex.get_order(SYMBOL, client_order_id=cid) for cid in ids]
        assert all(o is not None and o.client_order_id == cid for o, cid in zip(found, ids, strict=True))
        assert weight_used(local_exchange_url) - before == 80  # not 60 x 4
        for cid in ids:
            ex.cancel_order(SYMBOL, client_order_id=cid)
        canceled = ex.get_order(SYMBOL, client_order_id=ids[0])  # no longer open: asked for on its own
        assert canceled is not None and canceled.status.value == "CANCELED"
    finally:
        limits(local_exchange_url, {})


def test_tradeengine_local_exchange_passes_the_limit_flags(tmp_path: Any) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "local.cli", "local-exchange", "--port", str(port)]
    argv += ["--enforce-limits", "--limit-scale", "0.01", "--ban-after", "2", "--ban-seconds", "7"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            assert proc.poll() is None and time.monotonic() < deadline, "the local exchange did not start"
            time.sleep(0.1)
        state = limits(url)
        assert state["settings"] == {**state["settings"], "enforce": True, "ban_after": 2, "ban_seconds": 7}
        assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 60} in state[
            "rateLimits"
        ]
    finally:
        _stop(proc)
