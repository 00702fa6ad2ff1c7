"""Credentials: from the settings (env) or from Secrets Manager, kept in SecretStr.

- Binance: a JSON secret ``{"api_key", "api_secret"}`` (BINANCE_SECRET_ID), read when the exchange is built.
- The API's JWT key (JWT_SECRET_ID) and the audit trail's MongoDB URL (MONGODB_URL_SECRET_ID): plain-text
  secrets, read once per process at cold start by ``resolve_settings``. Only the secret's *name* is in the
  Lambda environment, so ``lambda:GetFunctionConfiguration`` reveals no value.

Nothing here logs or repeats a secret value; errors name the secret id and the AWS error code only.
Every value read here is handed to the one redactor (``logs.add_secret``) as it is read, which masks
log lines and the API's error bodies alike: a secret is masked however it was loaded, not only when it
came from the environment. boto3 is imported only when a secret is actually read.
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


def _mask(*values: SecretStr | str) -> None:
    from tradeengine import logs  # lazy: the log machinery is not needed to name a secret

    logs.add_secret(*values)


def _secret_string(secret_id: str, sm_client: Any) -> str:
    """The raw ``SecretString`` of a secret (an ARN or a name); errors carry the id and the AWS code only."""
    sm = sm_client or aws.client("secretsmanager")
    try:
        answer = sm.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # botocore errors: keep the code, drop the payload
        code = aws.error_code(exc) or type(exc).__name__
        raise SecretUnavailable(f"secret {secret_id!r} unavailable: {code}") from None
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise SecretUnavailable(f"secret {secret_id!r} holds no SecretString")
    _mask(text)
    return text


def load_secret_json(secret_id: str, *, sm_client: Any = None) -> dict[str, SecretStr]:
    """The key/value pairs of a JSON ``SecretString`` (an ARN or a name)."""
    text = _secret_string(secret_id, sm_client)
    try:
        values = json.loads(text or "")
    except ValueError:
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(values, dict):
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object")
    secrets = {str(k): SecretStr(str(v)) for k, v in values.items()}
    _mask(*secrets.values())
    return secrets


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


def credentials_from_settings(settings: Settings, sm_client: Any = None) -> BinanceCredentials | None:
    """From BINANCE_API_KEY / BINANCE_API_SECRET, else from the Secrets Manager secret BINANCE_SECRET_ID."""
    if settings.binance_api_key is not None and settings.binance_api_secret is not None:
        _mask(settings.binance_api_key, settings.binance_api_secret)
        return BinanceCredentials(settings.binance_api_key, settings.binance_api_secret)
    if settings.binance_secret_id:
        return BinanceCredentials.from_mapping(load_secret_json(settings.binance_secret_id, sm_client=sm_client))
    return None


def credentials_configured(settings: Settings) -> bool:
    """Whether the venue has credentials: both in the environment, or a Secrets Manager secret named for them
    (read when the exchange is built, at cold start: a function whose secret cannot be read does not start)."""
    return bool(settings.binance_api_key and settings.binance_api_secret) or bool(settings.binance_secret_id)


def load_secret_text(secret_id: str, *, sm_client: Any = None) -> SecretStr:
    """A plain-text ``SecretString`` (the bare value), or a JSON object with exactly one key (its value)."""
    text = _secret_string(secret_id, sm_client)
    if text.lstrip().startswith("{"):
        try:
            values = json.loads(text)
        except ValueError:
            values = None  # not JSON after all: a plain value that starts with a brace
        if isinstance(values, dict):
            if len(values) != 1:
                raise SecretUnavailable(f"secret {secret_id!r} is a JSON object with {len(values)} keys, not 1")
            (only,) = values.values()
            if not isinstance(only, str):
                raise SecretUnavailable(f"secret {secret_id!r} holds a JSON value that is not a string")
            text = only
    if not text:
        raise SecretUnavailable(f"secret {secret_id!r} is empty")
    _mask(text)
    return SecretStr(text)


def _unset(value: SecretStr | None) -> bool:
    return value is None or not value.get_secret_value()


def resolve_settings(settings: Settings, sm_client: Any = None) -> Settings:
    """``settings`` with JWT_SECRET_KEY / MONGODB_URL read from JWT_SECRET_ID / MONGODB_URL_SECRET_ID.

    A plain value in the environment (the laptop stack, tests) wins; a secret id is read only when its value
    is unset. Called once per process where settings enter the composition root (``build_deps``), before
    ``logs.configure`` so the log redactor masks what was read. Raises ``SecretUnavailable``
    (naming the id and the AWS error code, never a value) when a configured secret cannot be read.
    """
    update: dict[str, SecretStr] = {}
    if _unset(settings.jwt_secret_key) and settings.jwt_secret_id:
        update["jwt_secret_key"] = load_secret_text(settings.jwt_secret_id, sm_client=sm_client)
    if _unset(settings.mongodb_url) and settings.mongodb_url_secret_id:
        update["mongodb_url"] = load_secret_text(settings.mongodb_url_secret_id, sm_client=sm_client)
    return settings.model_copy(update=update) if update else settings
