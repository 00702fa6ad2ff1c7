"""Credentials: from the settings (env) or from a Secrets Manager JSON secret, kept in SecretStr.

Nothing here logs or repeats a secret value; errors name the secret id and the AWS error code only.
boto3 is imported only when a secret is actually read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from tradeengine.stores import aws

if TYPE_CHECKING:
    from tradeengine.config import Settings


class SecretUnavailable(RuntimeError):
    pass


def load_secret_json(secret_id: str, *, sm_client: Any = None) -> dict[str, SecretStr]:
    """The key/value pairs of a JSON ``SecretString`` (an ARN or a name)."""
    sm = sm_client or aws.client("secretsmanager")
    try:
        answer = sm.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # botocore errors: keep the code, drop the payload
        code = aws.error_code(exc) or type(exc).__name__
        raise SecretUnavailable(f"secret {secret_id!r} unavailable: {code}") from None
    try:
        values = json.loads(answer.get("SecretString") or "")
    except ValueError:
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(values, dict):
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object")
    return {str(k): SecretStr(str(v)) for k, v in values.items()}


def _reveal(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


@dataclass(frozen=True, slots=True)
class BinanceCredentials:
    """API key and secret; ``SecretStr`` keeps them out of reprs and logs."""

    api_key: SecretStr
    api_secret: SecretStr

    @classmethod
    def from_mapping(cls, values: Mapping[str, SecretStr | str]) -> BinanceCredentials:
        """From a JSON secret: ``api_key``/``api_secret`` or ``BINANCE_API_KEY``/``BINANCE_API_SECRET``."""
        lowered = {k.lower(): v for k, v in values.items()}
        key = lowered.get("api_key") or lowered.get("binance_api_key")
        secret = lowered.get("api_secret") or lowered.get("binance_api_secret")
        if not key or not secret:
            raise SecretUnavailable("the secret holds no api_key/api_secret pair")
        return cls(SecretStr(_reveal(key)), SecretStr(_reveal(secret)))


def credentials_from_settings(settings: Settings) -> BinanceCredentials | None:
    """From BINANCE_API_KEY / BINANCE_API_SECRET, else from the Secrets Manager secret BINANCE_SECRET_ID."""
    if settings.binance_api_key is not None and settings.binance_api_secret is not None:
        return BinanceCredentials(settings.binance_api_key, settings.binance_api_secret)
    if settings.binance_secret_id:
        return BinanceCredentials.from_mapping(load_secret_json(settings.binance_secret_id))
    return None
