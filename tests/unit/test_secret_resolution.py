"""The JWT key and the MongoDB URL from Secrets Manager at cold start (JWT_SECRET_ID / MONGODB_URL_SECRET_ID).

``build_deps`` resolves the secrets before ``logs.configure``, so what it read is masked in every
log line; the API refuses to start, as before, without a usable key outside a local environment. No AWS
here: a stand-in Secrets Manager client (MiniStack covers the real API in tests/integration/aws).
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from tradeengine import logs
from tradeengine.config import Settings
from tradeengine.pipeline import deps as deps_module
from tradeengine.stores import aws
from tradeengine.stores.secrets import SecretUnavailable, load_secret_text, resolve_settings

JWT_NAME, MONGO_NAME = "petrosa/unit/jwt-secret-key", "petrosa/unit/mongodb-url"
JWT_KEY = "unit-jwt-key-from-secrets-manager-9f8e7d6c5b4a"
MONGO_URL = "mongodb://auditor:unit-m0ngo-pa55@db.example:27017/petrosa"
QUEUES = "https://sqs.us-east-1.amazonaws.com/123456789012/"


def function_settings(**values: Any) -> Settings:
    """What a function's environment holds (its queues), plus ``values``."""
    return Settings(signals_queue_url=QUEUES + "signals.fifo", orders_queue_url=QUEUES + "orders.fifo", **values)


class FakeSecretsManager:
    """``get_secret_value`` over a dict; a missing id fails like botocore's ClientError does."""

    def __init__(self, secrets: dict[str, Any]) -> None:
        self.secrets = secrets
        self.reads: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.reads.append(SecretId)
        if SecretId not in self.secrets:
            error = RuntimeError(f"An error occurred (ResourceNotFoundException): {SecretId} {sorted(self.secrets)}")
            error.response = {"Error": {"Code": "ResourceNotFoundException"}}  # type: ignore[attr-defined]
            raise error
        value = self.secrets[SecretId]
        return {"SecretBinary": value} if isinstance(value, bytes) else {"SecretString": value}


class Untouched:
    """Every other AWS client of the composition root: built, never called (nothing touches the network)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an AWS client was used at build time: .{name}")


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager({JWT_NAME: JWT_KEY, MONGO_NAME: MONGO_URL})

    def client(service: str, **_: Any) -> Any:
        return fake if service == "secretsmanager" else Untouched()

    monkeypatch.setattr(aws, "client", client)
    return fake


@pytest.fixture
def restore_log_level() -> Iterator[None]:
    """build_deps sets the process's log level from the settings: undo it."""
    level = logs.logger.log_level
    yield
    logs.logger.setLevel(level)


# --- resolve_settings -------------------------------------------------------------------------------------
def test_secret_ids_fill_the_unset_values(sm: FakeSecretsManager) -> None:
    settings = Settings(jwt_secret_id=JWT_NAME, mongodb_url_secret_id=MONGO_NAME)
    resolved = resolve_settings(settings)
    assert resolved.jwt_secret_key == SecretStr(JWT_KEY) and resolved.mongodb_url == SecretStr(MONGO_URL)
    assert settings.jwt_secret_key is None and settings.mongodb_url is None  # a copy
    assert JWT_KEY not in repr(resolved) and "unit-m0ngo-pa55" not in repr(resolved)


def test_plain_values_win_and_nothing_is_read(sm: FakeSecretsManager) -> None:
    settings = Settings(
        jwt_secret_key="laptop-key-0123456789abcdef0123456789",
        mongodb_url="mongodb://127.0.0.1:27017",
        jwt_secret_id=JWT_NAME,
        mongodb_url_secret_id=MONGO_NAME,
    )
    assert resolve_settings(settings) is settings and sm.reads == []
    assert resolve_settings(Settings()) == Settings() and sm.reads == []


def test_an_empty_plain_value_counts_as_unset(sm: FakeSecretsManager) -> None:
    resolved = resolve_settings(Settings(jwt_secret_key="", jwt_secret_id=JWT_NAME))
    assert resolved.jwt_secret_key == SecretStr(JWT_KEY)


def test_boto3_is_not_imported_without_a_secret_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # importing it now would raise ImportError
    settings = Settings(jwt_secret_key="k" * 32)
    assert resolve_settings(settings) is settings


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (JWT_KEY, JWT_KEY),
        (json.dumps({"JWT_SECRET_KEY": JWT_KEY}), JWT_KEY),
        ("{not json, a key that starts with a brace}", "{not json, a key that starts with a brace}"),
    ],
    ids=["plain", "json-one-key", "brace"],
)
def test_plain_text_and_one_key_json(stored: str, expected: str) -> None:
    fake = FakeSecretsManager({"s": stored})
    assert load_secret_text("s", sm_client=fake).get_secret_value() == expected


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (None, "ResourceNotFoundException"),
        ("", "is empty"),
        (json.dumps({"a": JWT_KEY, "b": MONGO_URL}), "2 keys"),
        (json.dumps({"a": 42}), "not a string"),
        (JWT_KEY.encode(), "no SecretString"),
    ],
    ids=["missing", "empty", "two-keys", "not-a-string", "binary"],
)
def test_unusable_secrets_name_the_id_and_the_reason_never_a_value(stored: str | bytes | None, reason: str) -> None:
    fake = FakeSecretsManager({} if stored is None else {JWT_NAME: stored})
    fake.secrets["other"] = MONGO_URL  # would show up if the AWS error's text were repeated
    with pytest.raises(SecretUnavailable) as info:
        resolve_settings(Settings(jwt_secret_id=JWT_NAME), sm_client=fake)
    message = str(info.value)
    assert JWT_NAME in message and reason in message
    assert JWT_KEY not in message and MONGO_URL not in message and "other" not in message
    assert info.value.__cause__ is None  # no AWS error (and its text) chained to it
    assert info.value.__context__ is None or info.value.__suppress_context__


# --- build_deps: resolved at cold start, before the log redactor is configured --------------------------------
def test_build_deps_resolves_before_the_logs_are_configured(
    sm: FakeSecretsManager, restore_log_level: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured: list[Settings] = []
    real_configure = logs.configure
    monkeypatch.setattr(logs, "configure", lambda s: (configured.append(s), real_configure(s))[1])

    deps = deps_module.build_deps(function_settings(jwt_secret_id=JWT_NAME))

    assert sm.reads == [JWT_NAME]
    assert deps.settings.jwt_secret_key == SecretStr(JWT_KEY)
    assert [s.jwt_secret_key for s in configured] == [SecretStr(JWT_KEY)], "configure saw the resolved key"


def test_a_secret_read_at_cold_start_is_masked_in_the_logs(
    sm: FakeSecretsManager, restore_log_level: None, log_output: io.StringIO
) -> None:
    key = "cold-start-only-jwt-key-5a4b3c2d1e0f"  # known to nothing but the stand-in Secrets Manager
    sm.secrets["petrosa/unit/fresh-jwt"] = key
    deps_module.build_deps(function_settings(jwt_secret_id="petrosa/unit/fresh-jwt"))

    logs.logger.info("verifying with %s", key)
    logging.getLogger("tradeengine.api.auth").warning("key=%s", key)

    text = log_output.getvalue()
    assert key not in text and text.count(logs.REDACTED) == 2, text


def test_build_deps_fails_the_cold_start_when_a_named_secret_is_unreadable(
    sm: FakeSecretsManager, restore_log_level: None
) -> None:
    with pytest.raises(SecretUnavailable, match=r"petrosa/unit/nope.*ResourceNotFoundException"):
        deps_module.build_deps(function_settings(mongodb_url_secret_id="petrosa/unit/nope"))


# --- the API: starts with a key from Secrets Manager, refuses to start without one, as before ----------------
def test_the_api_starts_with_a_key_read_from_secrets_manager(sm: FakeSecretsManager, restore_log_level: None) -> None:
    from tradeengine.api.app import create_app

    app = create_app(lambda: deps_module.build_deps(function_settings(environment="prod", jwt_secret_id=JWT_NAME)))
    assert app.state.jwt_secret == JWT_KEY


def test_the_api_refuses_to_start_without_a_key_or_a_readable_secret(
    sm: FakeSecretsManager, restore_log_level: None
) -> None:
    from tradeengine.api.app import create_app
    from tradeengine.api.auth import ConfigurationError

    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY is not set"):
        create_app(lambda: deps_module.build_deps(function_settings(environment="prod")))
    with pytest.raises(SecretUnavailable, match="petrosa/unit/missing"):
        create_app(
            lambda: deps_module.build_deps(function_settings(environment="prod", jwt_secret_id="petrosa/unit/missing"))
        )


# --- tradeengine token -------------------------------------------------------------------------------------
def test_the_token_command_signs_with_the_key_from_secrets_manager(
    sm: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradeengine.api.tokens import verify
    from tradeengine.cli import main
    from tradeengine.config import get_settings

    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    monkeypatch.setenv("JWT_SECRET_ID", JWT_NAME)
    monkeypatch.setenv("MONGODB_URL_SECRET_ID", "petrosa/unit/not-needed-to-mint")
    get_settings.cache_clear()
    try:
        assert main(["token", "--scope", "orders:read"]) == 0
        monkeypatch.setenv("JWT_SECRET_ID", "petrosa/unit/missing")
        get_settings.cache_clear()
        assert main(["token", "--scope", "orders:read"]) == 2
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert verify(out.strip(), JWT_KEY).scopes == {"orders:read"}
    assert sm.reads == [JWT_NAME, "petrosa/unit/missing"]  # never the MongoDB URL
    assert "petrosa/unit/missing" in err and "ResourceNotFoundException" in err and JWT_KEY not in err
