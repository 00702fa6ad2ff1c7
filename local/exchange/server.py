"""The local Binance-compatible spot REST server (stdlib ThreadingHTTPServer, 127.0.0.1 only).

Signed endpoints check the API key header (-2014/-2015), the HMAC-SHA256 signature over the query
string plus the body (-1022) and timestamp/recvWindow (-1021), as Binance does. Answers carry
X-MBX-USED-WEIGHT-1M. Faults and prices are set over /admin (see docs/EXCHANGE.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.exchange.faults import Faults
from local.exchange.params import ApiError, mandatory
from local.exchange.venue import Params, Venue

Handler = Callable[[Venue, Params, int], Any]
# (method, path) -> (handler, signed, weight, places an order)
ROUTES: dict[tuple[str, str], tuple[Handler, bool, int, bool]] = {
    ("GET", "/api/v3/ping"): (lambda v, p, now: {}, False, 1, False),
    ("GET", "/api/v3/time"): (lambda v, p, now: {"serverTime": now}, False, 1, False),
    ("GET", "/api/v3/exchangeInfo"): (lambda v, p, now: v.exchange_info(p, now), False, 20, False),
    ("GET", "/api/v3/ticker/price"): (lambda v, p, now: v.ticker_price(p), False, 2, False),
    ("GET", "/api/v3/avgPrice"): (lambda v, p, now: v.avg_price(p, now), False, 2, False),
    ("GET", "/api/v3/account"): (lambda v, p, now: v.account(now), True, 20, False),
    ("POST", "/api/v3/order"): (lambda v, p, now: v.new_order(p, now), True, 1, True),
    ("POST", "/api/v3/order/test"): (lambda v, p, now: v.new_order(p, now, test=True), True, 1, False),
    ("GET", "/api/v3/order"): (lambda v, p, now: v.get_order(p), True, 4, False),
    ("DELETE", "/api/v3/order"): (lambda v, p, now: v.cancel_order(p, now), True, 1, False),
    ("GET", "/api/v3/openOrders"): (lambda v, p, now: v.open_orders(p), True, 6, False),
    ("GET", "/api/v3/myTrades"): (lambda v, p, now: v.my_trades(p), True, 20, False),
    ("POST", "/api/v3/orderList/oco"): (lambda v, p, now: v.oco(p, now), True, 1, True),
    ("POST", "/api/v3/orderList/otoco"): (lambda v, p, now: v.otoco(p, now), True, 1, True),
    ("GET", "/api/v3/orderList"): (lambda v, p, now: v.get_order_list(p), True, 4, False),
}
_SIGNATURE = re.compile(r"&?signature=[^&]*")
MAX_RECV_WINDOW = 60000


class LocalExchange:
    """The server's shared state: venue, credentials, faults, request weights."""

    def __init__(self, venue: Venue, api_key: str, api_secret: str) -> None:
        self.venue = venue
        self.api_key = api_key
        self.api_secret = api_secret
        self.faults = Faults()
        self._weights: deque[tuple[float, int]] = deque()
        self._faults_lock = threading.Lock()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    def used_weight(self, add: int) -> int:
        with self._faults_lock:
            now = time.monotonic()
            self._weights.append((now, add))
            while self._weights and self._weights[0][0] < now - 60:
                self._weights.popleft()
            return sum(w for _, w in self._weights)

    def take(self, name: str) -> bool:
        """Consume one unit of a counted fault (fail_next, rate_limit_next, ban_next)."""
        with self._faults_lock:
            left = int(getattr(self.faults, name))
            if left <= 0:
                return False
            setattr(self.faults, name, left - 1)
            return True

    def check_signed(self, headers: Any, query: str, body: str, params: Params) -> None:
        key = headers.get("X-MBX-APIKEY")
        if not key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key, self.api_key):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        signature = params.get("signature")
        if not signature:
            raise mandatory("signature")
        payload = _SIGNATURE.sub("", query) + _SIGNATURE.sub("", body)
        candidates = {payload, urllib.parse.unquote_plus(payload)}
        if not any(hmac.compare_digest(self._sign(c), signature) for c in candidates):
            raise ApiError(-1022, "Signature for this request is not valid.")
        timestamp = params.get("timestamp")
        if not timestamp or not timestamp.isdigit():
            raise mandatory("timestamp")
        window = int(params.get("recvWindow") or 5000)
        if window > MAX_RECV_WINDOW:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if int(timestamp) > now + 1000 or now - int(timestamp) > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _sign(self, payload: str) -> str:
        return hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class RequestHandler(BaseHTTPRequestHandler):
    server_version = "local-binance/1"
    exchange: LocalExchange  # set on the subclass made by make_server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet by default: tests start many requests

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        try:
            if url.path.startswith("/admin/"):
                self._send(200, self._admin(method, url.path, body))
                return
            self._api(method, url.path, url.query, body)
        except ApiError as exc:
            self._send(exc.status, {"code": exc.code, "msg": exc.msg}, exc.headers)

    def _api(self, method: str, path: str, query: str, body: str) -> None:
        ex = self.exchange
        route = ROUTES.get((method, path))
        if route is None:
            raise ApiError(-1000, f"Unknown endpoint {method} {path}.", 404)
        handler, signed, weight, places = route
        used = {"X-MBX-USED-WEIGHT-1M": str(ex.used_weight(weight))}
        if ex.faults.latency_ms:
            time.sleep(ex.faults.latency_ms / 1000)
        retry = {"Retry-After": str(ex.faults.retry_after_s), **used}
        if ex.take("ban_next"):
            raise ApiError(-1003, "Way too many requests; IP(127.0.0.1) banned until later.", 418, retry)
        if ex.take("rate_limit_next"):
            msg = "Too many requests; current limit of IP(127.0.0.1) request weight per 1 minute is 6000."
            raise ApiError(-1003, msg, 429, retry)
        params: dict[str, str] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
        try:
            if signed:
                ex.check_signed(self.headers, query, body, params)
            with ex.venue.lock:
                now = ex.now_ms()
                ex.venue.tick(now)
                answer = handler(ex.venue, params, now)
        except ApiError as exc:
            exc.headers.update(used)
            raise
        if places and ex.take("fail_next"):  # the order is in the book; the client hears an error
            raise ApiError(
                -1001, "Internal error; unable to process your request. Please try again.", ex.faults.fail_status, used
            )
        self._send(200, answer, used)

    def _admin(self, method: str, path: str, body: str) -> Any:
        ex = self.exchange
        try:
            raw = json.loads(body) if body else {}
        except ValueError as exc:
            raise ApiError(-1100, f"admin body is not JSON: {exc}") from exc
        with ex.venue.lock:
            if (method, path) == ("GET", "/admin/state"):
                return {**ex.venue.state(), "faults": ex.faults.to_json(), "serverTime": ex.now_ms()}
            if (method, path) == ("POST", "/admin/faults"):
                try:
                    ex.faults = Faults.from_json(raw)
                except (ValueError, TypeError) as exc:
                    raise ApiError(-1100, str(exc)) from exc
                return ex.faults.to_json()
            if (method, path) == ("POST", "/admin/price"):
                try:
                    price = Decimal(str(raw["price"]))
                except (KeyError, InvalidOperation) as exc:
                    raise ApiError(-1102, 'send {"symbol": "BTCUSDT", "price": "51000"}') from exc
                applied = ex.venue.set_price(str(raw.get("symbol", "")), price, ex.now_ms())
                return {"symbol": raw.get("symbol"), "price": format(applied, "f")}
            if (method, path) == ("POST", "/admin/reset"):
                ex.venue.reset()
                ex.faults = Faults()
                return {"reset": True}
        raise ApiError(-1000, f"Unknown admin endpoint {method} {path}.", 404)

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
