"""boto3 clients, built one way: imported lazily, standard retry mode, the emulator when configured.

botocore reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_DYNAMODB`` ...) from the environment, so the
same code talks to MiniStack on a laptop and to AWS in a Lambda; tests may pass ``endpoint_url``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

MAX_POOL_CONNECTIONS = 50
_clients: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()


def client(service: str, *, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """One client per service, endpoint and region in a process: building one costs ~100 ms of a cold
    start, every store of a function shares it, and boto3 clients are thread-safe."""
    key = (
        service,
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL", ""),
        region or os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "")),
        os.environ.get("AWS_ACCESS_KEY_ID", ""),
    )
    with _lock:
        if key not in _clients:
            _clients[key] = _new(service, endpoint_url, region)
        return _clients[key]


def _new(service: str, endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # A Lambda makes one call at a time; a process that shares the client between threads (the bridge's
    # senders, the laptop stack, the benchmarks) needs more than botocore's 10 pooled connections, or it
    # discards and reopens connections under load.
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
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
