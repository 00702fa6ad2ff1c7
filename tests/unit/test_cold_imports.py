"""The queue functions' cold start in simulation mode (the default, the paper exchange) never loads
python-binance: its package ``__init__`` alone (async client, aiohttp, websocket managers) is most of a
second of Init. Each handler module is imported in a fresh interpreter; nothing is timed here (the
figures are ``make bench-package``'s)."""

from __future__ import annotations

import pytest

from tests.perf.bench_package import import_handler


@pytest.mark.parametrize("fn", ["sizing", "execution", "monitor"])
def test_simulation_mode_does_not_import_python_binance(fn: str) -> None:
    loaded = import_handler(fn)
    assert loaded["binance"] is False, f"functions/{fn}/app.py imported python-binance in simulation mode"


def test_live_mode_still_builds_the_binance_adapter_at_cold_start() -> None:
    # The check above means something: the same import in live mode does load python-binance.
    assert import_handler("execution", live=True)["binance"] is True
