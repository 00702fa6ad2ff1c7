"""What HALTED does to signals, as docs/OPERATIONS.md says it: sizing refuses every signal that would send an
order, a hold still becomes HELD (it sends nothing anyway), and a plan sized before the halt is still placed,
because the switch is read by sizing, not by execution. In one process, on the paper exchange."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.size import size_message
from tradeengine.risk import TradingState

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "1"})


def send(deps, **kw):
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    return ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals).signal_id


def size_all(deps):
    for body in deps.signals.drain():
        size_message(body, deps)


@pytest.mark.parametrize("action", ["buy", "sell", "close"])
def test_halted_refuses_every_signal_that_would_send_an_order(deps, action):
    deps.trading_state.set(TradingState.HALTED, "oncall", "drill")
    sid = send(deps, action=action, quantity="0.001")
    size_all(deps)
    record = deps.store.get(sid)
    assert (record.state, record.code) == (SignalState.REJECTED, "TRADING_HALTED")
    assert deps.plans.drain() == []


def test_halted_still_records_a_hold_as_held(deps):
    deps.trading_state.set(TradingState.HALTED, "oncall", "drill")
    sid = send(deps, action="hold")
    size_all(deps)
    assert deps.store.get(sid).state is SignalState.HELD and deps.plans.drain() == []


def test_a_plan_sized_before_the_halt_is_still_placed(deps):
    sid = send(deps, quantity="0.001")
    size_all(deps)
    plan = deps.plans.drain()[0]
    deps.trading_state.set(TradingState.HALTED, "oncall", "drill")  # the plan is already in orders.fifo
    assert execute_message(plan, deps).placed
    assert deps.store.get(sid).state is SignalState.FILLED
