"""The laptop stack's API proxy (local.stack.api_proxy) against a real HTTP upstream on loopback, and the
message a user gets when API_PORT is taken."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.stack import api_proxy, procs, stack
from local.stack.state import State

STAGE = "/_aws/execute-api/abc123/$default"


class Echo(BaseHTTPRequestHandler):
    """Answers with what it received; /missing answers 404 like the API's JSON errors."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        seen = {
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("host"),
            "authorization": self.headers.get("authorization"),
            "body": self.rfile.read(length).decode() if length else "",
        }
        data = json.dumps(seen).encode()
        self.send_response(404 if self.path.endswith("/missing") else 202)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", "r-1")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    _serve(server)
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _proxy(upstream_url: str) -> tuple[ThreadingHTTPServer, str]:
    server = api_proxy.serve(0, upstream_url)
    _serve(server)
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_requests_reach_the_stage_unchanged_under_its_prefix(upstream: int) -> None:
    server, base = _proxy(f"http://127.0.0.1:{upstream}{STAGE}")
    try:
        status, headers, seen = _call(
            f"{base}/trade/signal?wait=5", "POST", b'{"symbol": "BTCUSDT"}',
            {"authorization": "Bearer t", "content-type": "application/json"},
        )  # fmt: skip
        assert status == 202
        assert seen == {
            "method": "POST",
            "path": f"{STAGE}/trade/signal?wait=5",
            "host": f"127.0.0.1:{upstream}",
            "authorization": "Bearer t",
            "body": '{"symbol": "BTCUSDT"}',
        }
        assert headers["x-request-id"] == "r-1"
        status, _, seen = _call(f"{base}/order/BTCUSDT/7", "DELETE")
        assert (status, seen["method"], seen["path"]) == (202, "DELETE", f"{STAGE}/order/BTCUSDT/7")
        status, _, seen = _call(f"{base}/missing")
        assert status == 404, "the stage's error status reaches the caller as it is"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stage_that_does_not_answer_is_a_502_naming_it() -> None:
    dead = procs.free_port()
    server, base = _proxy(f"http://127.0.0.1:{dead}{STAGE}")
    try:
        status, _, body = _call(f"{base}/health")
        assert status == 502
        assert f"127.0.0.1:{dead}{STAGE}" in body["detail"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_api_port_fails_with_a_message_naming_api_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        monkeypatch.setenv("API_PORT", str(port))
        with pytest.raises(RuntimeError) as err:
            stack._ensure_api(State(tmp_path), f"http://127.0.0.1:1{STAGE}", lambda _part, _msg: None)
    message = str(err.value)
    assert f"port {port} is taken" in message and "API_PORT=" in message
