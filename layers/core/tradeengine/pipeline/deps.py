"""The composition root: which adapter serves each port. Built once per process (at import in a Lambda).

``memory_deps`` wires in-memory adapters and the paper exchange, for unit tests and dry runs;
``build_deps`` wires DynamoDB, SQS, MongoDB and the configured venue from Settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tradeengine.pipeline.ports import AuditSink, Counters, PlanQueue, SignalQueue, SignalStateStore, TradingStateStore
from tradeengine.pipeline.recorder import Recorder

if TYPE_CHECKING:
    from tradeengine.config import Settings
    from tradeengine.exchange.base import Exchange


@dataclass
class Deps:
    settings: Settings
    store: SignalStateStore
    signals: SignalQueue
    plans: PlanQueue
    audit: AuditSink
    counters: Counters
    trading_state: TradingStateStore
    exchange: Exchange
    rules: Any  # RulesSource: ``get(symbol) -> SymbolRules | None``

    def recorder(self, stage: str) -> Recorder:
        return Recorder(self.store, self.audit, self.counters, self.settings.mode, stage, _utcnow)


def _utcnow() -> datetime:
    return datetime.now(UTC)
