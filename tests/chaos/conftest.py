"""One set of chaos servers (MiniStack, SecantusDB, local exchange, nats-server) for the pytest subset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.servers import Servers


@pytest.fixture(scope="session")
def chaos_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    servers = Servers.start(tmp_path_factory.mktemp("chaos"))
    try:
        yield servers
    finally:
        servers.stop()
