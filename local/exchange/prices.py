"""The local exchange's market: a seeded random walk per symbol, with prices that can be set by hand.

Prices move in whole steps of ``step_ms``; each step multiplies the price by ``1 ± walk_bps`` (seeded,
so a run is repeatable) and rounds to the symbol's tick. ``walk_bps=0`` keeps prices still until set.
The average price is the mean of the prices seen over the last ``average_window_ms`` (Binance: 5 min).
Each symbol also keeps one-minute candles (open, high, low, close) of the last 24 hours, for ticker/24hr.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tradeengine.rules import SymbolRules

DEFAULT_PRICES = {
    "BTCUSDT": "50000",
    "ETHUSDT": "3000",
    "SOLUSDT": "150",
    "BTCBRL": "300000",
    "ETHBTC": "0.06",
    "LTCBTC": "0.0015",
    "BNBUSDT": "600",
    "ADAUSDT": "0.5",
    "XRPUSDT": "0.6",
    "DOGEUSDT": "0.1",
    "TRXUSDT": "0.12",
}
FALLBACK_PRICE = Decimal("1")
_BPS = Decimal(10000)
DAY_MS = 86_400_000
_MINUTE_MS = 60_000


class PricePath:
    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        start: Mapping[str, Decimal] | None = None,
        walk_bps: Decimal = Decimal("0"),
        step_ms: int = 1000,
        seed: int = 7,
        now_ms: int = 0,
        average_window_ms: int = 300_000,
    ) -> None:
        self.rules = rules
        self.walk_bps = walk_bps
        self.step_ms = max(1, step_ms)
        self.average_window_ms = average_window_ms
        self._random = random.Random(seed)  # noqa: S311 (a repeatable simulation, not security)
        self.prices: dict[str, Decimal] = {}
        self._seen: dict[str, deque[tuple[int, Decimal]]] = {}
        self._candles: dict[str, deque[list[Any]]] = {}  # [minute start, open, high, low, close]
        self.updates = 0  # every price set or step: depth's lastUpdateId
        self._last_step_ms = now_ms
        for symbol in rules:
            price = (start or {}).get(symbol) or Decimal(DEFAULT_PRICES.get(symbol, FALLBACK_PRICE))
            self.set(symbol, Decimal(price), now_ms)

    def set(self, symbol: str, price: Decimal, now_ms: int) -> Decimal:
        price = self._round(symbol, price)
        self.prices[symbol] = price
        seen = self._seen.setdefault(symbol, deque())
        seen.append((now_ms, price))
        while seen and seen[0][0] < now_ms - self.average_window_ms and len(seen) > 1:
            seen.popleft()
        self._candle(symbol, price, now_ms)
        self.updates += 1
        return price

    def day(self, symbol: str, now_ms: int) -> tuple[Decimal, Decimal, Decimal]:
        """Open, high and low of the last 24 hours; the open is the price when the window began."""
        start = now_ms - DAY_MS
        candles = self._candles[symbol]
        before = [c for c in candles if c[0] + _MINUTE_MS <= start]
        inside = [c for c in candles if c[0] + _MINUTE_MS > start]
        first = before[-1][4] if before else inside[0][1] if inside else self.prices[symbol]
        return first, max([first, *(c[2] for c in inside)]), min([first, *(c[3] for c in inside)])

    def _candle(self, symbol: str, price: Decimal, now_ms: int) -> None:
        candles = self._candles.setdefault(symbol, deque())
        minute = now_ms - now_ms % _MINUTE_MS
        if candles and candles[-1][0] == minute:
            last = candles[-1]
            last[2], last[3], last[4] = max(last[2], price), min(last[3], price), price
        else:
            candles.append([minute, price, price, price, price])
        while len(candles) > 1 and candles[1][0] + _MINUTE_MS <= now_ms - DAY_MS:  # keep one before the window
            candles.popleft()

    def advance(self, now_ms: int) -> list[str]:
        """Move every symbol by the steps elapsed since the last call; the symbols that moved."""
        if self.walk_bps <= 0:
            self._last_step_ms = now_ms
            return []
        steps = (now_ms - self._last_step_ms) // self.step_ms
        if steps <= 0:
            return []
        self._last_step_ms += steps * self.step_ms
        for symbol in sorted(self.prices):
            price = self.prices[symbol]
            for _ in range(min(steps, 1000)):
                move = Decimal(self._random.choice((-1, 1))) * self.walk_bps / _BPS
                price = max(self._round(symbol, price * (1 + move)), self._tick(symbol))
            self.set(symbol, price, now_ms)
        return sorted(self.prices)

    def average(self, symbol: str) -> Decimal:
        seen = self._seen[symbol]
        mean = sum((p for _, p in seen), Decimal(0)) / len(seen)
        return mean.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)

    def _tick(self, symbol: str) -> Decimal:
        rules = self.rules.get(symbol)
        return rules.tick_size if rules is not None and rules.tick_size > 0 else Decimal("0.00000001")

    def _round(self, symbol: str, price: Decimal) -> Decimal:
        tick = self._tick(symbol)
        return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
