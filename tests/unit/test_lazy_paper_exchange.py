"""The paper exchange behind SIMULATION_ENABLED is built on first use, not at a Lambda's cold start: its
exchangeInfo is read over the network from MARKET_DATA_URL, here a loopback server that counts requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tradeengine.config import Settings
from tradeengine.exchange.base import Exchange
from tradeengine.pipeline.deps import build_exchange

from tests.conftest import INFO_2021, load_info
from tests.support.ports import assert_implements


class MarketData(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: MarketData

    def do_GET(self) -> None:
        self.server.paths.append(self.path.partition("?")[0])
        if self.path == "/api/v3/exchangeInfo":
            body: Any = load_info(INFO_2021)
        elif self.path.startswith("/api/v3/ticker/price?symbol="):
            body = {"symbol": self.path.rpartition("=")[2], "price": "50000.00"}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def market() -> Iterator[MarketData]:
    server = MarketData()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_built_on_first_use_once_and_answers_as_the_paper_exchange(
    market: MarketData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the book's DynamoDB client; prices never touch it
    url = f"http://127.0.0.1:{market.server_address[1]}"
    exchange = build_exchange(Settings(simulation_enabled=True, market_data_url=url))
    assert_implements(exchange, Exchange)
    assert exchange.name == "paper"
    # what the use-cases look for with getattr and the paper exchange lacks: absent, and nothing is built
    assert [getattr(exchange, m, None) for m in ("admit", "prefetch_open_orders", "exact_balances")] == [None] * 3
    assert market.paths == []
    assert exchange.ticker_price("BTCUSDT") == Decimal("50000.00")
    assert exchange.ticker_price("ETHUSDT") == Decimal("50000.00")
    assert market.paths == ["/api/v3/exchangeInfo", "/api/v3/ticker/price", "/api/v3/ticker/price"]
