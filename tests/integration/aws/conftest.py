"""MiniStack (a local AWS emulator) for the DynamoDB / Secrets Manager adapters, once per test session.

MiniStack runs in its own environment (``uvx --from ministack==PIN``), never in the project's: its
dependencies are its own business. It listens on a free 127.0.0.1 port and is stopped by process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tradeengine.stores import aws

from local.stack.procs import free_port as _free_port
from local.stack.services import uvx as _uvx

MINISTACK = "ministack==1.5.33"
START_TIMEOUT_S = float(os.environ.get("MINISTACK_START_TIMEOUT", "120"))  # first run downloads the wheel
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_ministack/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def ministack_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator's endpoint URL (http://127.0.0.1:PORT), alive for the whole session."""
    workdir: Path = tmp_path_factory.mktemp("ministack")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **FAKE_AWS_ENV,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "TMPDIR": str(workdir),  # its pid file and any data stay in this test's directory
        "S3_DATA_DIR": str(workdir / "s3"),
    }
    log = (workdir / "ministack.log").open("wb")
    proc = subprocess.Popen(
        [*_uvx(), "--from", MINISTACK, "ministack"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: uv and the server it spawns stop together
        cwd=workdir,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (workdir / "ministack.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"MiniStack did not start on {url} (exit={proc.poll()}):\n{tail}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy credentials and region for boto3 (the emulator ignores them; boto3 insists on having some)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in FAKE_AWS_ENV.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def ddb(ministack_endpoint: str, aws_env: None) -> Any:
    return aws.client("dynamodb", endpoint_url=ministack_endpoint, region="us-east-1")


@pytest.fixture
def table_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
