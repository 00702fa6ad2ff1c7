"""Secrets Manager: a JSON secret read once per process, its values wrapped in SecretStr.

Nothing here logs or repeats a secret value; errors name the secret id and the AWS error code only.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from tradeengine.stores import aws


class SecretUnavailable(RuntimeError):
    pass


def load_secret_json(secret_id: str, *, sm_client: Any = None) -> dict[str, SecretStr]:
    """The key/value pairs of a JSON ``SecretString`` (an ARN or a name)."""
    sm = sm_client or aws.client("secretsmanager")
    try:
        answer = sm.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # botocore errors: keep the code, drop the payload
        raise SecretUnavailable(
            f"secret {secret_id!r} unavailable: {aws.error_code(exc) or type(exc).__name__}"
        ) from None
    try:
        values = json.loads(answer.get("SecretString") or "")
    except ValueError:
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(values, dict):
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object")
    return {str(k): SecretStr(str(v)) for k, v in values.items()}
