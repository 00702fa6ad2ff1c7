"""Secrets Manager (MiniStack): Binance credentials, the JWT key and the MongoDB URL; read once, never shown."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from tradeengine.exchange.binance import BinanceCredentials, BinanceExchange, credentials_from_settings
from tradeengine.stores import aws
from tradeengine.stores.secrets import SecretUnavailable, load_secret_json

pytestmark = pytest.mark.integration

KEY, SECRET = "k-1234567890abcdef", "s-very-secret-value-0123456789"


@pytest.fixture
def sm(ministack_endpoint: str, aws_env: None) -> Any:
    return aws.client("secretsmanager", endpoint_url=ministack_endpoint, region="us-east-1")


def test_credentials_from_a_json_secret(sm: Any) -> None:
    name = f"binance/{uuid.uuid4().hex[:8]}"
    arn = sm.create_secret(Name=name, SecretString=json.dumps({"api_key": KEY, "api_secret": SECRET}))["ARN"]

    for secret_id in (name, arn):
        creds = BinanceCredentials.from_mapping(load_secret_json(secret_id, sm_client=sm))
        assert creds.api_key.get_secret_value() == KEY
        assert creds.api_secret.get_secret_value() == SECRET
        assert SECRET not in repr(creds) and KEY not in repr(creds)


def test_settings_fall_back_to_secrets_manager(
    sm: Any, ministack_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeengine.config import Settings

    name = f"binance/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString=json.dumps({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}))
    monkeypatch.setenv("AWS_ENDPOINT_URL", ministack_endpoint)

    creds = credentials_from_settings(Settings(binance_secret_id=name))
    exchange = BinanceExchange.from_settings(Settings(binance_secret_id=name))

    assert creds is not None and creds.api_secret.get_secret_value() == SECRET
    assert SECRET not in repr(exchange) and KEY not in repr(exchange)


def test_missing_secret_names_the_id_not_the_payload(sm: Any) -> None:
    with pytest.raises(SecretUnavailable, match="ResourceNotFoundException") as info:
        load_secret_json("binance/does-not-exist", sm_client=sm)
    assert "does-not-exist" in str(info.value)


# --- the API's JWT key and the audit trail's MongoDB URL: plain-text secrets read at cold start ----------------
JWT_KEY = "jwt-hs256-key-from-secrets-manager-0123456789abcdef"
MONGO_PASSWORD = "m0ngo-pa55-from-sm"
MONGO_URL = f"mongodb://auditor:{MONGO_PASSWORD}@db.example:27017/petrosa?authSource=admin"


@pytest.fixture
def plain_secrets(sm: Any) -> tuple[str, str]:
    """A JWT key and a MongoDB URL stored the way operators store them: the bare value as SecretString."""
    suffix = uuid.uuid4().hex[:8]
    jwt_name, mongo_name = f"petrosa/test-{suffix}/jwt-secret-key", f"petrosa/test-{suffix}/mongodb-url"
    sm.create_secret(Name=jwt_name, SecretString=JWT_KEY)
    sm.create_secret(Name=mongo_name, SecretString=MONGO_URL)
    return jwt_name, mongo_name


def test_resolve_settings_reads_plain_text_secrets(sm: Any, plain_secrets: tuple[str, str]) -> None:
    from tradeengine.config import Settings
    from tradeengine.stores.secrets import resolve_settings

    jwt_name, mongo_name = plain_secrets
    settings = Settings(jwt_secret_id=jwt_name, mongodb_url_secret_id=mongo_name)
    assert settings.jwt_secret_key is None and settings.mongodb_url is None

    resolved = resolve_settings(settings, sm_client=sm)

    assert resolved.jwt_secret_key is not None and resolved.jwt_secret_key.get_secret_value() == JWT_KEY
    assert resolved.mongodb_url is not None and resolved.mongodb_url.get_secret_value() == MONGO_URL
    assert settings.jwt_secret_key is None, "a copy: the settings passed in are left as they were"
    for shown in (repr(resolved), str(resolved), resolved.model_dump_json()):
        assert JWT_KEY not in shown and MONGO_PASSWORD not in shown


def test_resolve_settings_reads_by_arn_and_accepts_a_one_key_json_secret(sm: Any) -> None:
    from tradeengine.config import Settings
    from tradeengine.stores.secrets import resolve_settings

    name = f"petrosa/test-{uuid.uuid4().hex[:8]}/jwt-json"
    arn = sm.create_secret(Name=name, SecretString=json.dumps({"JWT_SECRET_KEY": JWT_KEY}))["ARN"]

    resolved = resolve_settings(Settings(jwt_secret_id=arn), sm_client=sm)

    assert resolved.jwt_secret_key is not None and resolved.jwt_secret_key.get_secret_value() == JWT_KEY


def test_resolve_settings_uses_the_default_client_from_the_environment(
    plain_secrets: tuple[str, str], ministack_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Lambda nobody passes a client: ``aws.client("secretsmanager")`` finds the endpoint itself."""
    from tradeengine.config import Settings
    from tradeengine.stores.secrets import resolve_settings

    jwt_name, mongo_name = plain_secrets
    monkeypatch.setenv("AWS_ENDPOINT_URL", ministack_endpoint)
    monkeypatch.setenv("JWT_SECRET_ID", jwt_name)
    monkeypatch.setenv("MONGODB_URL_SECRET_ID", mongo_name)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    monkeypatch.delenv("MONGODB_URL", raising=False)

    resolved = resolve_settings(Settings())

    assert resolved.jwt_secret_key is not None and resolved.jwt_secret_key.get_secret_value() == JWT_KEY
    assert resolved.mongodb_url is not None and resolved.mongodb_url.get_secret_value() == MONGO_URL


def test_a_plain_value_in_the_environment_wins(
    sm: Any, plain_secrets: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeengine.config import Settings
    from tradeengine.stores.secrets import resolve_settings

    jwt_name, mongo_name = plain_secrets
    local_key, local_url = "laptop-jwt-key-0123456789abcdef0123", "mongodb://127.0.0.1:27017/petrosa"
    monkeypatch.setenv("JWT_SECRET_KEY", local_key)
    monkeypatch.setenv("MONGODB_URL", local_url)
    monkeypatch.setenv("JWT_SECRET_ID", jwt_name)
    monkeypatch.setenv("MONGODB_URL_SECRET_ID", mongo_name)

    class NoReads:
        def get_secret_value(self, **_: Any) -> Any:
            raise AssertionError("a secret was read although its plain value is set")

    resolved = resolve_settings(Settings(), sm_client=NoReads())

    assert resolved.jwt_secret_key is not None and resolved.jwt_secret_key.get_secret_value() == local_key
    assert resolved.mongodb_url is not None and resolved.mongodb_url.get_secret_value() == local_url

    monkeypatch.delenv("MONGODB_URL")  # one plain, one from Secrets Manager
    mixed = resolve_settings(Settings(), sm_client=sm)
    assert mixed.jwt_secret_key is not None and mixed.jwt_secret_key.get_secret_value() == local_key
    assert mixed.mongodb_url is not None and mixed.mongodb_url.get_secret_value() == MONGO_URL


@pytest.mark.parametrize("field", ["jwt_secret_id", "mongodb_url_secret_id"])
def test_a_missing_plain_secret_names_the_id_and_leaks_nothing(
    sm: Any, plain_secrets: tuple[str, str], field: str
) -> None:
    from tradeengine.config import Settings
    from tradeengine.stores.secrets import resolve_settings

    jwt_name, mongo_name = plain_secrets
    missing = f"petrosa/test-{uuid.uuid4().hex[:8]}/does-not-exist"
    ids = {"jwt_secret_id": jwt_name, "mongodb_url_secret_id": mongo_name, field: missing}

    with pytest.raises(SecretUnavailable, match="ResourceNotFoundException") as info:
        resolve_settings(Settings(**ids), sm_client=sm)

    message = str(info.value)
    assert missing in message
    assert JWT_KEY not in message and MONGO_URL not in message and MONGO_PASSWORD not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no botocore payload chained


def test_unusable_plain_secrets_are_refused_without_their_value(sm: Any) -> None:
    from tradeengine.stores.secrets import load_secret_text

    suffix = uuid.uuid4().hex[:8]
    two_keys = f"petrosa/test-{suffix}/two-keys"
    sm.create_secret(Name=two_keys, SecretString=json.dumps({"a": JWT_KEY, "b": MONGO_URL}))
    binary = f"petrosa/test-{suffix}/binary"
    sm.create_secret(Name=binary, SecretBinary=JWT_KEY.encode())

    for secret_id in (two_keys, binary):
        with pytest.raises(SecretUnavailable) as info:
            load_secret_text(secret_id, sm_client=sm)
        assert secret_id in str(info.value) and JWT_KEY not in str(info.value) and MONGO_URL not in str(info.value)
