"""Where the paper exchange keeps its book: a small port with optimistic concurrency.

The paper book (balances, orders, fills, counters) is one JSON-able dict. Several Lambda invocations
may act on it at once, so a write is conditional on the version that was read: ``save`` answers False
when someone else saved first, and the caller reloads, re-applies its action and tries again.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class PaperBookStore(Protocol):
    """Persistence for the paper book. A DynamoDB adapter implements this beside the in-memory one."""

    def load(self) -> tuple[dict[str, Any], int]:
        """The stored state and its version; ``({}, 0)`` when nothing has been stored yet."""
        ...

    def save(self, state: dict[str, Any], version: int) -> bool:
        """Store ``state`` as version ``version + 1`` if the stored version is still ``version``.

        Returns False (and stores nothing) when the stored version moved on: reload and retry.
        ``state`` holds only JSON types (str, int, bool, None, list, dict); money is in strings.
        """
        ...


class InMemoryPaperBookStore:
    """A process-local store with the same conditional-write contract (tests, the local exchange)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = copy.deepcopy(state) if state else {}
        self._version = 1 if state else 0

    def load(self) -> tuple[dict[str, Any], int]:
        with self._lock:
            return copy.deepcopy(self._state), self._version

    def save(self, state: dict[str, Any], version: int) -> bool:
        # Round-trip through JSON so a non-JSON value fails here, not later in DynamoDB.
        encoded = json.loads(json.dumps(state))
        with self._lock:
            if version != self._version:
                return False
            self._state = encoded
            self._version = version + 1
            return True

    @property
    def version(self) -> int:
        return self._version
