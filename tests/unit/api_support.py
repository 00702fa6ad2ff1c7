"""In-memory composition root and token helpers for the API tests (no network, no AWS)."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from tradeengine.api.app import create_app
from tradeengine.api.tokens import mint
from tradeengine.config import Settings
from tradeengine.exchange.paper import FixedMarketData, InMemoryPaperBookStore, PaperExchange
from tradeengine.pipeline.deps import Deps

from tests.conftest import INFO_2026, load_info
from tests.support.memory import (
    MemoryAudit,
    MemoryCounters,
    MemoryLedger,
    MemoryQueue,
    MemorySignalStore,
    MemoryTradingState,
)

SECRET = "test-jwt-secret-0123456789abcdef-0123456789"  # >= 32 bytes, as outside local environments
BINANCE_KEY = "binance-key-example-not-a-real-key-01"
BINANCE_SECRET = "binance-secret-s3cr3t-value-0000000002"
MONGO_URL = "mongodb://engine:mongo-pa55word@127.0.0.1:27017"
SECRETS = (SECRET, BINANCE_KEY, BINANCE_SECRET, "mongo-pa55word")
INFO = load_info(INFO_2026)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret_key": SecretStr(SECRET),
        "binance_api_key": SecretStr(BINANCE_KEY),
        "binance_api_secret": SecretStr(BINANCE_SECRET),
        "mongodb_url": SecretStr(MONGO_URL),
        "environment": "test",
        **overrides,
    }
    return Settings.model_validate(values)


def memory_deps(store: MemorySignalStore | None = None, **setting_overrides: Any) -> Deps:
    market = FixedMarketData({"BTCUSDT": Decimal("50000"), "ETHUSDT": Decimal("3000")})
    exchange = PaperExchange(INFO, market, InMemoryPaperBookStore(), clock_ms=lambda: 1_700_000_000_000)
    wired: dict[str, Any] = {
        "settings": settings(**setting_overrides),
        "store": store or MemorySignalStore(),
        "signals": MemoryQueue(),
        "plans": MemoryQueue(),
        "audit": MemoryAudit(),
        "counters": MemoryCounters(),
        "trading_state": MemoryTradingState(),
        "exchange": exchange,
        "rules": None,
        "ledger": MemoryLedger(),  # the book's routes read it (an empty book)
    }
    # Ports the API does not use (dead letters, ...) stay None, so new ones do not break these tests.
    others = {
        f.name: None
        for f in dataclasses.fields(Deps)
        if f.name not in wired and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return Deps(**wired, **others)


def client(deps: Deps | None = None) -> tuple[TestClient, Deps]:
    deps = deps or memory_deps()
    return TestClient(create_app(lambda: deps), raise_server_exceptions=False), deps


# An hour: modules mint their tokens at import (WRITE = bearer(...)), and a full `make test` reaches the unit
# tests more than 5 minutes after collection; a 300 s token had expired by then (401 token_expired).
def token(
    *scopes: str, ttl: int = 3600, secret: str = SECRET, now: float | None = None, subject: str = "tester"
) -> str:
    return mint(secret, subject, list(scopes), ttl, now=now)


def bearer(*scopes: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, **kwargs)}"}


def expired(*scopes: str) -> dict[str, str]:
    return bearer(*scopes, ttl=60, now=time.time() - 3600)
