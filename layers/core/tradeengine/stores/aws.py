"""boto3 clients, built one way: imported lazily, standard retry mode, the emulator when configured.

botocore reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_DYNAMODB`` ...) from the environment, so the
same code talks to MiniStack on a laptop and to AWS in a Lambda; tests may pass ``endpoint_url``.
"""

from __future__ import annotations

from typing import Any


def client(service: str, *, endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
    kwargs: dict[str, Any] = {"config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if region:
        kwargs["region_name"] = region
    return boto3.client(service, **kwargs)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
