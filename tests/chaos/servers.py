"""The real servers a chaos run needs, on free 127.0.0.1 ports, each restartable on the same port.

MiniStack (SQS, DynamoDB), SecantusDB (audit), the local Binance-compatible exchange, nats-server with
JetStream, and the bridge as its own process. Every server runs in its own process group and is stopped
by that PID (SIGTERM, then SIGKILL); ``kill()`` is the crash drill (SIGKILL at once). A restart reuses the
port and the data directory, so clients reconnect to the same address and find what was stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.stack.procs import free_port
from local.stack.services import mongo_ok, nats_server_binary, uvx

ROOT = Path(__file__).resolve().parents[2]
MINISTACK = "ministack==1.5.33"  # the pins the integration fixtures use
SECANTUSDB = "secantusdb==0.7.0b3"
EXCHANGE_KEY = "chaos-exchange-key-0123456789"
EXCHANGE_SECRET = "chaos-exchange-secret-9876543210"
EXCHANGE_BALANCES = "USDT=100000000,BTC=1000,ETH=10000,BNB=10000,SOL=100000"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@dataclass
class Proc:
    """One server process: argv and env are fixed at creation, so a restart is the same server."""

    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = ROOT
    timeout_s: float = 120.0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                env=dict(self.env),
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: a uvx wrapper and its server stop together
            )
        deadline = time.monotonic() + self.timeout_s
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                self.stop()
                raise RuntimeError(f"{self.name} did not start on port {self.port} (exit={self.proc.poll()}):\n{tail}")
            time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10  # the group's children (uvx's server) let go of the port too
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def restart(self) -> Proc:
        self.stop()
        return self.start()


@dataclass
class Servers:
    work: Path
    ministack: Proc
    mongo: Proc
    exchange: Proc
    nats: Proc

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.ministack.port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo.port}"

    @property
    def exchange_url(self) -> str:
        return f"http://127.0.0.1:{self.exchange.port}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats.port}"

    @classmethod
    def start(cls, work: Path | None = None) -> Servers:
        work = work or Path(tempfile.mkdtemp(prefix="chaos-"))
        base_env = {**os.environ, **FAKE_AWS}
        ms_port, db_port, ex_port, nats_port = free_port(), free_port(), free_port(), free_port()
        (work / "ministack").mkdir(exist_ok=True)
        ministack = Proc(
            "ministack",
            [*uvx(), "--from", MINISTACK, "ministack"],
            ms_port,
            work / "ministack.log",
            lambda: http_ok(f"http://127.0.0.1:{ms_port}/_ministack/health"),
            env={
                **base_env,
                "GATEWAY_PORT": str(ms_port),
                "BIND_HOST": "127.0.0.1",
                "LOG_LEVEL": "WARNING",
                "TMPDIR": str(work / "ministack"),
                "S3_DATA_DIR": str(work / "ministack" / "s3"),
            },
            cwd=work / "ministack",
        )
        config = work / "secantusd.toml"
        config.write_text('[storage]\ncache_size = "128M"\n')
        mongo = Proc(
            "secantusdb",
            [
                *uvx(),
                "--from",
                SECANTUSDB,
                "secantusd-py",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(db_port),
                "--storage-path",
                str(work / "mongo"),
                "--log-level",
                "WARNING",
            ],
            db_port,
            work / "secantusdb.log",
            lambda: mongo_ok(f"mongodb://127.0.0.1:{db_port}"),
            env=base_env,
            cwd=work,
        )
        exchange = Proc(
            "local-exchange",
            [
                sys.executable,
                "-m",
                "local.exchange",
                "--port",
                str(ex_port),
                "--api-key",
                EXCHANGE_KEY,
                "--api-secret",
                EXCHANGE_SECRET,
                "--balances",
                EXCHANGE_BALANCES,
            ],
            ex_port,
            work / "exchange.log",
            lambda: http_ok(f"http://127.0.0.1:{ex_port}/api/v3/ping"),
            env=base_env,
            timeout_s=30,
        )
        nats = Proc(
            "nats-server",
            [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd", str(work / "jetstream")],
            nats_port,
            work / "nats.log",
            lambda: port_open(nats_port),
            env=base_env,
            timeout_s=20,
        )
        started: list[Proc] = []
        try:
            for proc in (exchange, nats, ministack, mongo):
                started.append(proc.start())
        except BaseException:
            for proc in started:
                proc.stop()
            raise
        return cls(work, ministack, mongo, exchange, nats)

    def stop(self) -> None:
        for proc in (self.nats, self.exchange, self.mongo, self.ministack):
            proc.stop()

    # -- the exchange's admin API (docs/EXCHANGE.md) --------------------------------------------------

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.exchange_url}/admin/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if data is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    def faults(self, **faults: int) -> None:
        self.admin("faults", faults)


def bridge_proc(servers: Servers, queue_url: str, tag: str, log_path: Path, **overrides: str) -> Proc:
    """``python -m functions.bridge`` for one scenario's subject, stream and queue (not started)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "BRIDGE_", "SIGNALS_"))},
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": servers.aws_url,
        "NATS_SERVERS": servers.nats_url,
        "NATS_SIGNAL_SUBJECT": f"chaos.{tag}.signals",
        "NATS_STREAM": f"CHAOS_{tag}",
        "NATS_DURABLE": f"bridge-{tag}",
        "NATS_DEAD_LETTER_SUBJECT": f"chaos.{tag}.dead",
        "NATS_DEAD_LETTER_STREAM": f"CHAOS_DEAD_{tag}",
        "NATS_RECONNECT_WAIT_SECONDS": "0.5",
        "SIGNALS_QUEUE_URL": queue_url,
        "BRIDGE_HTTP_PORT": str(port),
        "BRIDGE_ACK_WAIT_SECONDS": "3",  # a killed bridge's messages come back within the scenario
        "BRIDGE_NAK_DELAY_SECONDS": "0.5",
        "BRIDGE_SQS_PROBE_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
        **overrides,
    }
    return Proc(
        "bridge",
        [sys.executable, "-m", "functions.bridge"],
        port,
        log_path,
        lambda: http_ok(f"http://127.0.0.1:{port}/readyz"),
        env=env,
        timeout_s=30,
    )
