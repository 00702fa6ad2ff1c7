"""Shared fixtures: real exchangeInfo data (trimmed copies of Binance snapshots of 2021 and 2026, tests/fixtures)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
INFO_2021 = FIXTURES / "exchange_info_2021_trimmed.json"  # legacy MIN_NOTIONAL / PERCENT_PRICE shape
INFO_2026 = FIXTURES / "exchange_info_2026_sample.json"  # current NOTIONAL / PERCENT_PRICE_BY_SIDE shape
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def load_info(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def rules_2021():
    from tradeengine.exchange_info import parse_exchange_info

    return parse_exchange_info(load_info(INFO_2021))


@pytest.fixture(scope="session")
def rules_2026():
    from tradeengine.exchange_info import parse_exchange_info

    return parse_exchange_info(load_info(INFO_2026))


def signal_dict(**overrides: Any) -> dict[str, Any]:
    """The seed's example body, with overrides (meta merged)."""
    body: dict[str, Any] = {
        "strategy_id": "momentum_v1",
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": 45000.0,
        "quantity": 0.0,
        "confidence": 0.85,
        "timestamp": NOW.isoformat(),
        "meta": {"order_type": "market", "simulate": True},
    }
    meta = overrides.pop("meta", None)
    body.update(overrides)
    if meta is not None:
        body["meta"] = {**body["meta"], **meta}
    return body
