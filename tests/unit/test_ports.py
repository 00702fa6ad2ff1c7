"""Every in-memory adapter implements its port (the unit tests lean on them; a drift would make those
tests exercise something production does not have), and the run-time check itself catches a drift."""

from __future__ import annotations

from typing import Protocol

import pytest
from tradeengine.hooks import AuthFailures, HookStore
from tradeengine.pipeline.ports import (
    AuditSink,
    Counters,
    Cursors,
    Ledger,
    PlanQueue,
    RulesSource,
    SignalQueue,
    SignalStateStore,
    TradingStateStore,
)
from tradeengine.pipeline.quotas import MemoryWindows, Windows
from tradeengine.pipeline.sqs_batch import DeadLetters
from tradeengine.stores.book import DynamoDBLedger

from tests.support import memory
from tests.support.ports import assert_implements


@pytest.mark.parametrize(
    ("adapter", "port"),
    [
        (memory.MemorySignalStore(), SignalStateStore),
        (memory.MemoryQueue(), SignalQueue),
        (memory.MemoryQueue(), PlanQueue),
        (memory.MemoryAudit(), AuditSink),
        (memory.MemoryCounters(), Counters),
        (memory.MemoryTradingState(), TradingStateStore),
        (memory.MemoryCursors(), Cursors),
        (memory.MemoryLedger(), Ledger),
        (memory.MemoryDeadLetters(), DeadLetters),
        (memory.StaticRules({}), RulesSource),
        (memory.MemoryHookStore(), HookStore),
        (memory.MemoryAuthFailures(), AuthFailures),
        (MemoryWindows(), Windows),
        (DynamoDBLedger("t", ddb_client=object()), Ledger),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, type) else v.__name__,
)
def test_the_adapter_implements_its_port(adapter: object, port: type) -> None:
    assert_implements(adapter, port)


def test_the_check_catches_a_missing_method_and_a_renamed_parameter() -> None:
    class Port(Protocol):
        def get(self, key: str) -> str: ...

        def put(self, key: str, *, value: str) -> None: ...

    class Drifted:
        def get(self, name: str) -> str:
            return name

    with pytest.raises(
        AssertionError, match=r"put: missing.*get: no parameter 'key'|get: no parameter 'key'.*put: missing"
    ):
        assert_implements(Drifted(), Port)
