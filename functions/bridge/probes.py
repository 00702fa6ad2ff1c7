"""/metrics, /livez and /readyz on a small threaded HTTP server (answers even when the event loop is busy).

Liveness asks "is the event loop still turning" (a heartbeat it stamps every second); readiness asks
"can a message get from NATS to SQS right now" (NATS connected and the last SQS call or probe worked).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

STALE_HEARTBEAT_S = 30.0


@dataclass
class Health:
    nats_connected: bool = False
    sqs_reachable: bool = False
    draining: bool = False
    heartbeat: float = field(default_factory=time.monotonic)

    def problems(self) -> list[str]:
        out = []
        if not self.nats_connected:
            out.append("NATS unreachable")
        if not self.sqs_reachable:
            out.append("SQS unreachable")
        if self.draining:
            out.append("draining")
        return out

    def alive(self) -> bool:
        return time.monotonic() - self.heartbeat < STALE_HEARTBEAT_S


class ProbeServer:
    def __init__(self, health: Health, host: str, port: int) -> None:
        handler = _handler(health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="probes", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/livez":
                ok = health.alive()
                self._json(200 if ok else 503, {"status": "ok" if ok else "event loop stalled"})
            elif path == "/readyz":
                problems = health.problems()
                self._json(
                    503 if problems else 200, {"status": "ready" if not problems else "not ready", "problems": problems}
                )
            else:
                self._json(404, {"error": f"no route {path}"})

        def _json(self, status: int, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: keep logs quiet
            return

    return Handler
