"""The local exchange as a real subprocess on a free 127.0.0.1 port, driven by python-binance's own Client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from binance.client import Client

from local.stack.procs import free_port as _free_port

API_KEY = "it-key-local-exchange"
API_SECRET = "it-secret-local-exchange"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/admin/{path}", data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="session")
def exchange_url() -> Iterator[str]:
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "local.exchange",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"local exchange did not start on {url}: exit={proc.poll()}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()  # by PID; the server stops cleanly on SIGTERM
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def url(exchange_url: str) -> Iterator[str]:
    """A fresh account (starting balances, no orders, no faults, BTCUSDT at 50000) for each test."""
    admin(exchange_url, "reset", {})
    admin(exchange_url, "price", {"symbol": "BTCUSDT", "price": "50000"})
    yield exchange_url
    admin(exchange_url, "faults", {})


def make_client(url: str, secret: str = API_SECRET, key: str = API_KEY) -> Client:
    client = Client(key, secret, ping=False)
    client.API_URL = f"{url}/api"  # python-binance builds API_URL + "/v3/" + path
    return client


@pytest.fixture
def client(url: str) -> Client:
    return make_client(url)
