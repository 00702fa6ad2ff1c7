"""``SignalRecord.execution`` read through contracts/execution.py: records as the stages have written them
(keys no model names included) read, the keys decisions depend on come back typed, and what the pipeline
writes now reads back the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.size import size_message

from contracts.execution import Execution, Protection
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

LEG = {
    "order_id": 12,
    "client_order_id": "te-1-tp",
    "type": "LIMIT_MAKER",
    "side": "SELL",
    "status": "FILLED",
    "orig_qty": "0.000229",
    "executed_qty": "0.000229",
    "cummulative_quote_qty": "10.534",
    "avg_price": "46000",
    "fills": [{"price": "46000", "qty": "0.000229", "commission": "0.01", "commission_asset": "USDT", "trade_id": 7}],
    "commission": {"USDT": "0.01"},
}
# As the monitor stored a signal whose exits were retried, then ended by the take-profit.
STORED = {
    "entry": {**LEG, "order_id": 11, "client_order_id": "te-1", "side": "BUY", "status": "FILLED", "avg_price": None},
    "venue": "paper",
    "exits": "not placed",
    "reason": "exchange rules unavailable",
    "protection": "protected",
    "exit_attempts": 2,
    "next_exit_attempt_at": "2026-12-01T15:40:00+00:00",
    "exit_quantity": "0.000229",
    "exit_result": {"closed_by": "take_profit", "legs": {"take_profit": LEG}, "canceled_by": None},
    "order_list": {"result": "accepted", "order_list_id": 3},
}


def test_a_stored_execution_reads_with_its_decisions_typed_and_its_other_keys_kept() -> None:
    execution = Execution.read(STORED)
    assert execution.entry is not None and execution.entry.executed_qty == Decimal("0.000229")
    assert execution.entry.fills[0].trade_id == 7 and execution.entry.avg_price is None
    assert execution.protection is Protection.PROTECTED and execution.exits_working
    assert execution.exit_attempts == 2 and execution.next_exit_attempt_at == datetime(2026, 12, 1, 15, 40, tzinfo=UTC)
    assert execution.exit_quantity == Decimal("0.000229")
    assert execution.exit_result is not None and execution.exit_result.closed_by == "take_profit"
    assert execution.exit_result.legs["take_profit"].client_order_id == "te-1-tp"
    assert (execution.model_extra or {})["order_list"] == {"result": "accepted", "order_list_id": 3}
    assert execution.model_dump(mode="json")["exit_result"]["legs"]["take_profit"] == LEG  # nothing lost


def test_no_execution_yet_reads_as_an_empty_one_and_a_wrong_value_is_refused() -> None:
    empty = Execution.read(None)
    assert empty.entry is None and empty.protection is None and not empty.exits_working and empty.exit_attempts == 1
    with pytest.raises(ValidationError):
        Execution.read({"protection": "maybe"})


def test_what_execution_writes_reads_back() -> None:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "0"})
    raw = signal_dict(timestamp=datetime.now(UTC).isoformat(), meta={"stop_loss": 44000, "take_profit": 46000})
    sid = ingest(raw, source="api", recorder=deps.recorder("ingest"), queue=deps.signals).signal_id
    size_message(deps.signals.drain()[0], deps)
    execute_message(deps.plans.drain()[0], deps)
    record = deps.store.get(sid)
    execution = Execution.read(record.execution)
    assert execution.entry is not None and execution.entry.executed_qty == Decimal("0.00023")
    assert execution.protection is Protection.PROTECTED and record.watching_exits
    assert execution.exit_quantity is not None and execution.exit_quantity < execution.entry.executed_qty  # the fee
