"""The deployed HTTP API on a plain local URL: ``http://127.0.0.1:${API_PORT:-8000}``.

The emulator serves the API Gateway stage under its own port and a path prefix
(``http://127.0.0.1:GATEWAY/_aws/execute-api/{apiId}/$default``, MiniStack's and LocalStack's form).
This process forwards every request to that stage unchanged (method, path, query, headers, body) and
the answer back, so ``/trade/signal``, ``/docs``, ``/metrics`` and ``/health`` are where a user of the
seed looks for them. It binds 127.0.0.1 only; the laptop stack starts and stops it by PID.

    python -m local.stack.api_proxy --port 8000 --upstream 'http://127.0.0.1:4566/_aws/execute-api/abc/$default'
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Headers that describe one hop, not the request (RFC 9110 7.6.1): never forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip
TIMEOUT_S = 60.0  # above the API's longest answer (?wait= at most 20 s) plus a cold start


def make_handler(upstream: str) -> type[BaseHTTPRequestHandler]:
    target = urllib.parse.urlsplit(upstream)
    if target.scheme != "http" or not target.hostname:
        raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
    prefix = target.path.rstrip("/")

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "petrosa-api-proxy"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=TIMEOUT_S)
            try:
                conn.request(self.command, prefix + self.path, body=body, headers=headers)
                reply = conn.getresponse()
                status, reply_headers, data = reply.status, reply.getheaders(), reply.read()
            except (OSError, http.client.HTTPException) as exc:
                status, reply_headers = 502, [("content-type", "application/json")]
                data = json.dumps({"detail": f"the API Gateway stage at {upstream} did not answer: {exc}"}).encode()
            finally:
                conn.close()
            self.send_response(status)
            for key, value in reply_headers:
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else '?'}\n")

    return Forward


def serve(port: int, upstream: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(upstream))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack.api_proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the stage URL, path prefix included")
    args = parser.parse_args(argv)
    server = serve(args.port, args.upstream)
    sys.stderr.write(f"serving http://127.0.0.1:{server.server_address[1]} -> {args.upstream}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
