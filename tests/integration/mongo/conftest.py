"""SecantusDB (a MongoDB wire-protocol server over WiredTiger) for the audit adapter, once per session.

SecantusDB runs in its own environment (``uvx --from secantusdb==PIN``), never in the project's. It
listens on a free 127.0.0.1 port with its data in a temp directory and is stopped by process group.
``mongo_server_factory`` starts extra short-lived servers (e.g. one to stop mid-test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from local.stack.procs import free_port
from local.stack.services import mongo_ok
from local.stack.services import uvx as _uvx

SECANTUSDB = "secantusdb==0.7.0b3"
START_TIMEOUT_S = float(os.environ.get("SECANTUSDB_START_TIMEOUT", "120"))  # first run downloads the wheel


@dataclass
class MongoServer:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


_TTL_LAUNCHER = """
import sys
from secantus.server import SecantusDBServer
server = SecantusDBServer(host="127.0.0.1", port=int(sys.argv[1]), storage_path=sys.argv[2],
                          ttl_sweep_seconds=float(sys.argv[3]), enable_test_commands=False, cache_size="128M")
server.start()
server.wait()
"""


def start_server(workdir: Path, ttl_sweep_seconds: float | None = None) -> MongoServer:
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}"
    log_path = workdir / "secantusd.log"
    config = workdir / "secantusd.toml"
    # An explicit config turns off discovery of ~/.secantus and /etc/secantus; a small cache suits CI.
    config.write_text('[storage]\ncache_size = "128M"\n')
    if ttl_sweep_seconds is None:
        command = [
            "secantusd-py",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(workdir / "data"),
            "--log-level",
            "WARNING",
        ]
    else:
        # secantusd-py 0.7.0b3 reads [storage] ttl_sweep_seconds but never hands it to the server (60 s,
        # like mongod), so a server that must reap within a test is started through its embedding API.
        command = ["python", "-c", _TTL_LAUNCHER, str(port), str(workdir / "data"), str(ttl_sweep_seconds)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*_uvx(), "--from", SECANTUSDB, *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: uv and the server it spawns stop together
            cwd=workdir,
        )
    server = MongoServer(url, proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not mongo_ok(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"SecantusDB did not start on {url} (exit={proc.poll()}):\n{tail}")
        time.sleep(0.1)
    return server


@pytest.fixture(scope="session")
def mongo_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., MongoServer]]:
    """start(ttl_sweep_seconds=None) -> a new server, stopped at the end of the session at the latest."""
    started: list[MongoServer] = []

    def start(ttl_sweep_seconds: float | None = None) -> MongoServer:
        server = start_server(tmp_path_factory.mktemp("secantusdb"), ttl_sweep_seconds)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def mongo_url(mongo_server_factory: Callable[..., MongoServer]) -> str:
    """mongodb://127.0.0.1:PORT of a SecantusDB alive for the whole session."""
    return mongo_server_factory().url


@pytest.fixture(scope="session")
def mongo_client(mongo_url: str) -> Iterator[MongoClient[dict[str, Any]]]:
    """A separate client for looking at what the adapter wrote (raw documents, indexes)."""
    c: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True, serverSelectionTimeoutMS=3000)
    yield c
    c.close()


@pytest.fixture
def database_name() -> str:
    """A database per test: tests never see each other's events or indexes."""
    return f"t_{uuid.uuid4().hex[:12]}"
