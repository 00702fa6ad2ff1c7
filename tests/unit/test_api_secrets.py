"""Every secret, however it was loaded, is masked in log lines and in the API's error bodies: one test per
loading path (the environment, BINANCE_SECRET_ID, JWT_SECRET_ID, MONGODB_URL_SECRET_ID). Each path uses
values no other test knows, so a mask learned elsewhere cannot make it pass."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr
from tradeengine import logs
from tradeengine.config import Settings
from tradeengine.exchange.base import ExchangeError
from tradeengine.stores import aws
from tradeengine.stores.secrets import credentials_from_settings, resolve_settings

from tests.unit.api_support import bearer, client, memory_deps
from tests.unit.test_secret_resolution import FakeSecretsManager


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager({})
    monkeypatch.setattr(aws, "client", lambda service, **_: fake)
    return fake


def quoting(*values: str) -> Any:
    """A venue whose every error quotes ``values`` (as a careless client library might)."""

    class Leaky:
        name = "leaky"

        def _fail(self, *_: Any, **__: Any) -> Any:
            raise ExchangeError(-1022, "request failed with " + " and ".join(values), 400)

        ticker_price = balances = get_order = cancel_order = _fail

    return Leaky()


def assert_masked(values: tuple[str, ...], log_output: io.StringIO, build: Callable[[], None] | None = None) -> None:
    if build is not None:
        build()
    logs.logger.info("loaded %s", " ".join(values))
    logging.getLogger("tradeengine.stores.secrets").warning("again: %s", " ".join(values))
    deps = memory_deps()
    deps.exchange = quoting(*values)
    c, _ = client(deps)
    body = c.get("/account", headers=bearer("account:read")).text
    logged = log_output.getvalue()
    for value in values:
        assert value not in logged, logged
        assert value not in body, body
    assert "[redacted]" in body and logs.REDACTED in logged


def test_keys_from_the_environment_are_masked(log_output: io.StringIO) -> None:
    key, secret = "env-binance-key-7d1f0c9a2b3e4f5a6b", "env-binance-secret-8e2a1d0b3c4f5e6a7b"
    settings = Settings(binance_api_key=SecretStr(key), binance_api_secret=SecretStr(secret))
    assert_masked((key, secret), log_output, lambda: logs.configure(settings))


def test_keys_from_binance_secret_id_are_masked(sm: FakeSecretsManager, log_output: io.StringIO) -> None:
    key, secret = "sm-binance-key-1a2b3c4d5e6f7a8b9c", "sm-binance-secret-9c8b7a6f5e4d3c2b1a"
    sm.secrets["petrosa/unit/binance"] = f'{{"api_key": "{key}", "api_secret": "{secret}"}}'

    def load() -> None:  # what BinanceExchange.from_settings does at cold start
        credentials = credentials_from_settings(Settings(binance_secret_id="petrosa/unit/binance"))
        assert credentials is not None and credentials.api_key.get_secret_value() == key

    assert_masked((key, secret), log_output, load)


def test_the_jwt_key_from_jwt_secret_id_is_masked(sm: FakeSecretsManager, log_output: io.StringIO) -> None:
    jwt_key = "sm-jwt-key-only-in-secrets-manager-0f1e2d3c4b5a69788"
    sm.secrets["petrosa/unit/jwt-only"] = jwt_key
    assert_masked((jwt_key,), log_output, lambda: resolve_settings(Settings(jwt_secret_id="petrosa/unit/jwt-only")))


def test_the_mongodb_url_from_mongodb_url_secret_id_is_masked(sm: FakeSecretsManager, log_output: io.StringIO) -> None:
    password = "sm-m0ngo-pa55-only-here-4e5f"
    sm.secrets["petrosa/unit/mongo-only"] = f"mongodb://audit:{password}@db.example:27017/petrosa"
    settings = Settings(mongodb_url_secret_id="petrosa/unit/mongo-only")
    assert_masked((password,), log_output, lambda: resolve_settings(settings))


def test_health_counts_keys_from_binance_secret_id_as_credentials() -> None:
    headers = bearer("orders:read")
    with_id, _ = client(memory_deps(binance_api_key=None, binance_api_secret=None, binance_secret_id="petrosa/keys"))
    without, _ = client(memory_deps(binance_api_key=None, binance_api_secret=None))
    assert with_id.get("/health", headers=headers).json()["exchange_credentials"] is True
    assert without.get("/health", headers=headers).json()["exchange_credentials"] is False
