"""The project's local Binance-compatible exchange, started once per session for the Binance adapter.

``tradeengine local-exchange`` runs as a subprocess on a free 127.0.0.1 port with a known key and
secret, and is stopped by its process group. Faults are set per test over its admin endpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tradeengine.exchange.binance import BinanceCredentials, BinanceExchange

from local.stack.procs import free_port as _free_port

API_KEY = "local-test-key-0123456789"
API_SECRET = "local-test-secret-9876543210"
START_TIMEOUT_S = 30.0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def local_exchange_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if running := os.environ.get("LOCAL_EXCHANGE_URL"):  # an exchange you started yourself (debugging)
        yield running.rstrip("/")
        return
    workdir = tmp_path_factory.mktemp("local-exchange")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).with_name("tradeengine")
    argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "local.cli"]
    log = (workdir / "exchange.log").open("wb")
    proc = subprocess.Popen(  # fixed argv, local server
        [*argv, "local-exchange", "--port", str(port), "--api-key", API_KEY, "--api-secret", API_SECRET],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=workdir,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (workdir / "exchange.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"local exchange did not start on {url} (exit={proc.poll()}):\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        _stop(proc)
        log.close()


def set_faults(url: str, **faults: Any) -> None:
    """Replace the exchange's fault set (no argument: no faults)."""
    request = urllib.request.Request(
        f"{url}/admin/faults",
        data=json.dumps(faults).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.status == 200


@pytest.fixture
def faults(local_exchange_url: str) -> Iterator[Any]:
    """Set faults for one test; they are cleared afterwards, whatever happened."""
    set_faults(local_exchange_url)
    yield lambda **kw: set_faults(local_exchange_url, **kw)
    set_faults(local_exchange_url)


@pytest.fixture
def exchange(local_exchange_url: str, faults: Any) -> BinanceExchange:
    """A fresh adapter (its own clock offset and weight record), like a new Lambda container."""
    creds = BinanceCredentials(SecretStr(API_KEY), SecretStr(API_SECRET))
    return BinanceExchange(creds, base_url=local_exchange_url, recv_window_ms=5000, timeout_s=5.0)
