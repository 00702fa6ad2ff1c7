"""SecantusDB (a MongoDB wire-protocol server over WiredTiger) for the audit adapter, once per session.

SecantusDB runs in its own environment (``uvx --from secantusdb==PIN``), never in the project's. It
listens on a free 127.0.0.1 port with its data in a temp directory and is stopped by process group.
``mongo_server_factory`` starts extra short-lived servers (e.g. one to stop mid-test).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

SECANTUSDB = "secantusdb==0.7.0b3"
START_TIMEOUT_S = float(os.environ.get("SECANTUSDB_START_TIMEOUT", "120"))  # first run downloads the wheel


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _uvx() -> list[str]:
    if exe := shutil.which("uvx"):
        return [exe]
    if exe := shutil.which("uv"):
        return [exe, "tool", "run"]
    return ["python3", "-m", "uv", "tool", "run"]


def _pingable(url: str) -> bool:
    probe: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    try:
        probe.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        probe.close()


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


def start_server(workdir: Path) -> MongoServer:
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}"
    log_path = workdir / "secantusd.log"
    config = workdir / "secantusd.toml"
    config.write_text("")  # an explicit (empty) config turns off discovery of ~/.secantus, /etc/secantus
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                *_uvx(),
                "--from",
                SECANTUSDB,
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
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: uv and the server it spawns stop together
            cwd=workdir,
        )
    server = MongoServer(url, proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _pingable(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"SecantusDB did not start on {url} (exit={proc.poll()}):\n{tail}")
        time.sleep(0.1)
    return server


@pytest.fixture(scope="session")
def mongo_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], MongoServer]]:
    started: list[MongoServer] = []

    def start() -> MongoServer:
        server = start_server(tmp_path_factory.mktemp("secantusdb"))
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def mongo_url(mongo_server_factory: Callable[[], MongoServer]) -> str:
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
