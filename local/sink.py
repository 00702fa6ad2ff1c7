"""A local HTTP sink: stands in for Telegram's bot API, Discord's and Slack's incoming webhooks and a
trader's own webhook receiver, and records what it was sent (the laptop stack runs one; tests start one).

- ``POST`` any path: recorded (path, headers, body), answered as the real service answers — Telegram's
  ``{"ok": true, "result": {...}}`` under ``/telegram/bot<token>/sendMessage``, 204 under ``/discord/``,
  ``ok`` under ``/slack/``, ``{"received": true}`` elsewhere.
- ``GET /received`` (``?path=<prefix>``): what it recorded, oldest first, as JSON; ``DELETE /received``
  forgets it.
- ``POST /_fail?status=503&count=N`` makes the next N requests answer ``status`` (a target that is down
  or rate-limits, with ``Retry-After: 1`` on a 429); ``count=-1`` until ``DELETE /_fail``.

    python -m local.sink --port 0      # prints its URL; stops on Ctrl-C (or by its PID)
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BODY_LIMIT = 1 << 20


class Sink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.fail_status = 0
        self.fail_count = 0

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        with self._lock:
            self.received.append({"at": time.time(), "path": path, "headers": headers, "body": text, "json": parsed})

    def failing(self) -> int:
        with self._lock:
            if self.fail_count == 0:
                return 0
            if self.fail_count > 0:
                self.fail_count -= 1
            return self.fail_status


def make_handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "petrosa-local-sink"

        def log_message(self, *_args: Any) -> None:  # quiet: the recording is the log
            return None

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/received":
                prefix = parse_qs(url.query).get("path", [""])[0]
                with sink._lock:
                    rows = [r for r in sink.received if r["path"].startswith(prefix)]
                self._send(200, rows)
            elif url.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": "POST anything; GET /received"})

        def do_DELETE(self) -> None:
            path = urlsplit(self.path).path
            with sink._lock:
                if path == "/received":
                    sink.received.clear()
                elif path == "/_fail":
                    sink.fail_count = 0
            self._send(204)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = min(int(self.headers.get("Content-Length") or 0), BODY_LIMIT)
            body = self.rfile.read(length)
            if url.path == "/_fail":
                query = parse_qs(url.query)
                with sink._lock:
                    sink.fail_status = int(query.get("status", ["503"])[0])
                    sink.fail_count = int(query.get("count", ["-1"])[0])
                self._send(204)
                return
            status = sink.failing()
            if status:
                extra = {"Retry-After": "1"} if status == 429 else {}
                self._send(status, {"ok": False, "error_code": status, "description": "sink told to fail"}, extra)
                return
            sink.record(url.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if url.path.startswith("/telegram/") and url.path.endswith("/sendMessage"):
                self._send(200, {"ok": True, "result": {"message_id": len(sink.received)}})
            elif url.path.startswith("/discord/"):
                self._send(204)
            elif url.path.startswith("/slack/"):
                self._send(200, b"ok")
            else:
                self._send(200, {"received": True})

    return Handler


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, Sink]:
    sink = Sink()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(sink))
    server.daemon_threads = True
    return server, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server, _ = serve(args.port)
    print(f"local sink on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
