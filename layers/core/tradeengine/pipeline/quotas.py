"""Rate quotas as fixed one-minute windows: ``Windows.hit(key)`` counts one more event under ``key`` and says
how many the current window holds and when it ends.

Two quotas use it (settings, both off when unset): API_RATE_LIMIT_PER_MINUTE, requests per token subject
(the API answers 429 with Retry-After), and STRATEGY_ORDERS_PER_MINUTE, signals that would trade per
strategy (sizing refuses the rest as STRATEGY_RATE_LIMITED, on the HTTP and the NATS path alike). The
windows live in DynamoDB (``stores.quotas``) so every Lambda instance counts against one figure; the
in-memory adapter serves tests and a process that has no store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Hit:
    count: int  # events in the current window, this one included
    retry_after_s: int  # whole seconds until the window ends (at least 1)


class Windows(Protocol):
    def hit(self, key: str) -> Hit: ...


def hit_for(count: int, now: float) -> Hit:
    return Hit(count, max(1, math.ceil(WINDOW_S - now % WINDOW_S)))


class MemoryWindows:
    """Windows in this process only (tests, a laptop API without the stack's DynamoDB)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Hit:
        now = self._clock()
        window = int(now // WINDOW_S)
        with self._lock:
            if len(self._counts) > 10_000:  # forget finished windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
            count = self._counts[(key, window)] = self._counts.get((key, window), 0) + 1
        return hit_for(count, now)
