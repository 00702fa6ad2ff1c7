"""One set of chaos servers (MiniStack, SecantusDB, local exchange, nats-server) for the pytest subset.

``tests/security`` uses the same set (``shared_servers``): one start per session, stopped by the last user.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.servers import Servers

_shared: dict[str, object] = {"servers": None, "users": 0}


def shared_servers(work: Path) -> Iterator[Servers]:
    if _shared["servers"] is None:
        _shared["servers"] = Servers.start(work)
    _shared["users"] = int(_shared["users"]) + 1  # type: ignore[call-overload]
    servers = _shared["servers"]
    assert isinstance(servers, Servers)
    try:
        yield servers
    finally:
        _shared["users"] = int(_shared["users"]) - 1  # type: ignore[call-overload]
        if _shared["users"] == 0:
            servers.stop()
            _shared["servers"] = None


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    """A scenario makes its stack the process environment (as a Lambda's): give the next test its own back."""
    from tradeengine.config import get_settings
    from tradeengine.logs import logger

    env, level = dict(os.environ), logger.log_level
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()
        logger.setLevel(level)


@pytest.fixture(scope="session")
def chaos_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from shared_servers(tmp_path_factory.mktemp("chaos"))
