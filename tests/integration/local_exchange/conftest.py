"""The local exchange as a real subprocess on a free 127.0.0.1 port, driven by python-binance's own Client."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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


@contextlib.contextmanager
def running_exchange(*extra: str) -> Iterator[str]:
    """``python -m local.exchange`` on a free port with the test key; stopped by its PID afterwards."""
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
        *extra,
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


@pytest.fixture(scope="session")
def exchange_url() -> Iterator[str]:
    with running_exchange() as url:
        yield url


@pytest.fixture
def url(exchange_url: str) -> Iterator[str]:
    """A fresh account (starting balances, no orders, no faults, BTCUSDT at 50000) for each test."""
    admin(exchange_url, "reset", {})
    admin(exchange_url, "price", {"symbol": "BTCUSDT", "price": "50000"})
    yield exchange_url
    admin(exchange_url, "faults", {})
    admin(exchange_url, "limits", {})


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any


def sign(payload: str, secret: str = API_SECRET) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_query(params: dict[str, Any] | None = None, *, timestamp: int | None = None) -> str:
    """``params`` + timestamp, urlencoded, with its signature appended."""
    query = urllib.parse.urlencode({**(params or {}), "timestamp": timestamp or int(time.time() * 1000)})
    return f"{query}&signature={sign(query)}"


def call(
    url: str, method: str, path: str, query: str = "", body: str = "", headers: dict[str, str] | None = None
) -> Reply:
    """One raw HTTP request (exactly these bytes, nothing a client library would add or fix)."""
    request = urllib.request.Request(
        f"{url}{path}" + (f"?{query}" if query else ""),
        data=body.encode() if body else None,
        method=method,
        headers={"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return Reply(reply.status, reply.headers, json.loads(reply.read()))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, json.loads(err.read()))


def make_client(url: str, secret: str = API_SECRET, key: str = API_KEY) -> Client:
    client = Client(key, secret, ping=False)
    client.API_URL = f"{url}/api"  # python-binance builds API_URL + "/v3/" + path
    return client


@pytest.fixture
def client(url: str) -> Client:
    return make_client(url)


def signed(url: str, method: str, path: str, **params: Any) -> Reply:
    """A signed request with every parameter in the query string."""
    return call(url, method, path, signed_query(params))


def limits(url: str, **settings: Any) -> Any:
    """Replace the rate-limit settings (and so clear every count and ban)."""
    return admin(url, "limits", settings)
