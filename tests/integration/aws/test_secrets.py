"""Binance credentials from Secrets Manager (MiniStack): read once, wrapped, never shown."""

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
