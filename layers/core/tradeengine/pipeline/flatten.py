"""Flatten: close positions through the pipeline, one ``close`` signal per (strategy, symbol).

Each close cancels the strategy's working orders on the symbol (its exits, open entries), then sells the
position; each is recorded and audited like any signal (source ``flatten``, allowed while HALTED).
Used by ``POST /positions/flatten`` and by a protection that halts trading with FLATTEN_ON_HALT.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from contracts.money import plain
from tradeengine.pipeline.booking import flatten_targets
from tradeengine.pipeline.ingest import ingest

if TYPE_CHECKING:
    from tradeengine.pipeline.deps import Deps


def flatten(deps: Deps, strategy_id: str | None, symbol: str | None, reason: str, by: str) -> list[dict[str, Any]]:
    """Queue the closes; returns one line per (strategy, symbol): the close's signal id and state."""
    positions = deps.ledger.positions(strategy_id)
    held = {(p.strategy_id, p.symbol): p for p in positions}
    batch = uuid.uuid4().hex[:12]
    now = datetime.now(UTC)
    done = []
    for strategy, sym in flatten_targets(positions, deps, strategy_id, symbol):
        raw = {
            "signal_id": f"flatten-{batch}-{strategy}-{sym}"[:128],
            "strategy_id": strategy,
            "symbol": sym,
            "action": "close",
            "price": 0,
            "quantity": 0,
            "confidence": 1,
            "timestamp": now.isoformat(),
            "meta": {"order_type": "market", "tags": {"flatten_reason": reason[:200], "flattened_by": by[:100]}},
        }
        with deps.recorder("ingest") as recorder:
            result = ingest(raw, source="flatten", recorder=recorder, queue=deps.signals)
        position = held.get((strategy, sym))
        done.append(
            {
                "strategy_id": strategy,
                "symbol": sym,
                "quantity": plain(position.quantity) if position is not None else "0",
                "signal_id": result.signal_id,
                "status": result.state.value if result.state else None,
                "errors": list(result.errors) if not result.accepted else [],
            }
        )
    return done
