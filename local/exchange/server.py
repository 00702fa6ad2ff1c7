"""The local Binance-compatible spot REST server (stdlib ThreadingHTTPServer, 127.0.0.1 only).

One request, in Binance's order: the route (an unknown path or method is a JSON 404, never a dropped
connection), the parameters (query string over body), the IP's request weight and raw request count
(429 / 418 when enforced, see ``limits``), injected faults, the key, signature and timing of a signed
endpoint, the account's order count for an order, then the venue. Any failure inside still answers
JSON (-1000, 500). Faults, prices and limits are set over /admin (see ``admin`` and docs/EXCHANGE.md).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.exchange import wire
from local.exchange.admin import admin
from local.exchange.auth import Signer, parse_params
from local.exchange.faults import Faults
from local.exchange.limits import LimitSettings, RateLimiter
from local.exchange.params import ApiError
from local.exchange.routes import ROUTES, Route
from local.exchange.venue import Venue

_TIME_UNITS = {"MILLISECOND": False, "millisecond": False, "MICROSECOND": True, "microsecond": True}


class LocalExchange:
    """The server's shared state: venue, credentials, faults, rate limits."""

    venue: Venue
    signer: Signer
    faults: Faults
    limiter: RateLimiter

    def __init__(self, venue: Venue, api_key: str, api_secret: str, limits: LimitSettings | None = None) -> None:
        self.venue = venue
        self.signer = Signer(api_key, api_secret)
        self.faults = Faults()
        self.limiter = RateLimiter(list(venue.info.get("rateLimits", [])), limits)
        self._faults_lock = threading.Lock()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    def take(self, name: str) -> bool:
        """Consume one unit of a counted fault (fail_next, rate_limit_next, ban_next)."""
        with self._faults_lock:
            left = int(getattr(self.faults, name))
            if left <= 0:
                return False
            setattr(self.faults, name, left - 1)
            return True


class RequestHandler(BaseHTTPRequestHandler):
    server_version = "local-binance/1"
    exchange: LocalExchange  # set on the subclass made by make_server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet by default: tests start many requests

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length > 0 else ""
            if url.path.startswith("/admin/"):
                self._send(200, admin(self.exchange, method, url.path, body))
                return
            self._api(method, url.path, url.query, body)
        except ApiError as exc:
            self._send(exc.status, {"code": exc.code, "msg": exc.msg}, exc.headers)
        except Exception:  # a bug here must still answer, never drop the connection
            self._send(500, {"code": -1000, "msg": "An unknown error occurred while processing the request."})

    def _api(self, method: str, path: str, query: str, body: str) -> None:
        ex = self.exchange
        route = ROUTES.get((method, path))
        if route is None:
            raise ApiError(-1000, f"Unknown endpoint {method} {path}.", 404)
        micros = _TIME_UNITS.get(self.headers.get("X-MBX-TIME-UNIT") or "MILLISECOND")
        unreadable: ApiError | None = None
        try:
            params = parse_params(query, body)
        except ApiError as exc:
            params, unreadable = {}, exc
        used = ex.limiter.admit(self.client_address[0], route.weight(params), ex.now_ms())
        lists = route.orders > 1  # an order list: OCO, OTOCO
        try:
            self._faults()
            if unreadable is not None:
                raise unreadable
            if lists and ex.take("reject_next_lists"):
                raise ApiError(-2010, "Order would immediately trigger.", 400)
            if micros is None:
                raise ApiError(-1194, "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.")
            answer, counted = self._call(route, query, body, params)
        except ApiError as exc:
            exc.headers = {**used, **exc.headers}
            raise
        headers = {**used, **counted}
        if route.orders and (ex.take("fail_next") or (lists and ex.take("fail_next_lists"))):
            # the order is in the book; the client hears an error
            msg = "Internal error; unable to process your request. Please try again."
            raise ApiError(-1001, msg, ex.faults.fail_status, headers)
        self._send(200, wire.in_microseconds(answer) if micros else answer, headers)

    def _faults(self) -> None:
        ex = self.exchange
        if ex.faults.latency_ms:
            time.sleep(ex.faults.latency_ms / 1000)
        retry = {"Retry-After": str(ex.faults.retry_after_s)}
        if ex.take("ban_next"):
            raise ApiError(-1003, "Way too many requests; IP(127.0.0.1) banned until later.", 418, retry)
        if ex.take("rate_limit_next"):
            msg = "Too many requests; current limit of IP(127.0.0.1) request weight per 1 minute is 6000."
            raise ApiError(-1003, msg, 429, retry)

    def _call(self, route: Route, query: str, body: str, params: dict[str, str]) -> tuple[Any, dict[str, str]]:
        """The venue's answer and, for an order placed, the X-MBX-ORDER-COUNT headers."""
        ex = self.exchange
        if route.signed:
            ex.signer.check(self.headers.get("X-MBX-APIKEY"), query, body, params, ex.now_ms())
        counted = ex.limiter.place(ex.signer.api_key, route.orders, ex.now_ms()) if route.orders else {}
        try:
            with ex.venue.lock:
                now = ex.now_ms()
                ex.venue.tick(now)
                answer = route.handler(ex, params, now)
        except ApiError:
            if route.orders:
                ex.limiter.release(ex.signer.api_key, route.orders, ex.now_ms())
            raise
        return answer, counted

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def make_server(exchange: LocalExchange, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the local exchange binds to the loopback interface only")
    handler = type("BoundHandler", (RequestHandler,), {"exchange": exchange})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
