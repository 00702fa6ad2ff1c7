"""How Binance reads a request: parameters from the query string and the body, HMAC signature, timing.

Binance's rules (rest-api.md, "General Information on Endpoints", "SIGNED Endpoint security", "Timing
security"): a parameter sent both in the query string and in the body takes the query string's value;
the signature is HMAC-SHA256 of the query string followed by the body, hex, not case-sensitive;
``timestamp`` is in milliseconds or microseconds; ``recvWindow`` is in milliseconds with up to three
decimals, at most 60000, default 5000.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal

from local.exchange.params import ApiError, mandatory

MAX_RECV_WINDOW = Decimal(60000)
DEFAULT_RECV_WINDOW = Decimal(5000)
_RECV_WINDOW = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,3})?$")
_MICROSECONDS_FROM = 10**14  # a millisecond timestamp has 13 digits until the year 5138; microseconds 16


def parse_params(query: str, body: str) -> dict[str, str]:
    """The request's parameters; a repeated name in one part is -1101, the query string wins over the body."""
    params: dict[str, str] = {}
    for part in (body, query):  # the query string last, so its value is the one kept
        seen: set[str] = set()
        for name, value in urllib.parse.parse_qsl(part, keep_blank_values=True):
            if name in seen:
                raise ApiError(-1101, "Duplicate values for a parameter detected.")
            seen.add(name)
            params[name] = value
    return params


def to_ms(value: int) -> Decimal:
    """A timestamp parameter in milliseconds, whether it was sent in milliseconds or microseconds."""
    return Decimal(value) / 1000 if value >= _MICROSECONDS_FROM else Decimal(value)


def timestamp_ms(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 20:
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return to_ms(int(raw))


def _unsigned(part: str) -> str:
    """The query string or body without its ``signature`` parameter, bytes otherwise as sent."""
    return "&".join(p for p in part.split("&") if p and not p.startswith("signature="))


class Signer:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._secret = api_secret.encode()

    def sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def check(self, api_key: str | None, query: str, body: str, params: Mapping[str, str], now_ms: int) -> None:
        """-2014 / -2015 for the key, -1022 for the signature, -1021 / -1131 for the timing."""
        if not api_key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(api_key, self.api_key):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        signature = params.get("signature")
        if not signature:
            raise mandatory("signature")
        payload = _unsigned(query) + _unsigned(body)
        given = signature.lower()
        candidates = {payload, urllib.parse.unquote_plus(payload)}
        if not any(hmac.compare_digest(self.sign(c), given) for c in candidates):
            raise ApiError(-1022, "Signature for this request is not valid.")
        check_timing(params, now_ms)


def recv_window(params: Mapping[str, str]) -> Decimal:
    raw = params.get("recvWindow")
    if raw in (None, ""):
        return DEFAULT_RECV_WINDOW
    if not _RECV_WINDOW.match(raw):
        raise ApiError(
            -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}(\\.[0-9]{1,3})?$'."
        )
    window = Decimal(raw)
    if window > MAX_RECV_WINDOW:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    return window


def check_timing(params: Mapping[str, str], now_ms: int) -> None:
    """Binance's check: timestamp < serverTime + 1 s and serverTime - timestamp <= recvWindow."""
    timestamp = timestamp_ms(params, "timestamp")
    if timestamp is None:
        raise mandatory("timestamp")
    window = recv_window(params)
    if timestamp >= now_ms + 1000:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
