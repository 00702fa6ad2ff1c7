"""The paper exchange: the simulation adapter (SIMULATION_ENABLED=true), over the matching fill model.

Work in progress: the persistence port is defined first so the DynamoDB store can be built against it.
"""

from __future__ import annotations

from tradeengine.exchange.paper_store import InMemoryPaperBookStore, PaperBookStore

__all__ = ["InMemoryPaperBookStore", "PaperBookStore"]
