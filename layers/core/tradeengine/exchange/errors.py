"""Binance error classification: pure functions from (HTTP status, error code, headers) to an outcome.

Three kinds, because the caller must act differently on each:

- definitive (``Rejected``, not retryable): the request was refused and nothing changed on the book
  (4xx: -1013 filter failure, -2010 new order rejected, -1022 bad signature, -2011/-2013 unknown order);
- retryable (``Rejected(retryable=True)``): refused for now (429/418 rate limits, -1003, -1015, -1021
  timestamp): wait ``retry_after_s`` and send again;
- unknown (``Unknown``): the order may be on the book (timeouts, connection drops, 5xx, -1006/-1007):
  look it up by client order id, never resend blindly.

No I/O, no python-binance import: the adapter extracts the facts and asks here.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

from tradeengine.exchange import codes
from tradeengine.exchange.base import Rejected, Unknown

# Binance's codes (codes.py) that mean "try later", whatever the HTTP status.
RETRYABLE_CODES = frozenset(
    {codes.TOO_MANY_REQUESTS, codes.TOO_MANY_ORDERS, codes.SERVER_BUSY, codes.INVALID_TIMESTAMP}
)

# "Execution status unknown" in Binance's own words: the order may or may not be on the book.
UNKNOWN_STATUS_CODES = frozenset({codes.UNEXPECTED_RESP, codes.TIMEOUT})

# Lookups that found nothing: the order (or list) does not exist.
NOT_FOUND_CODES = frozenset({codes.NO_SUCH_ORDER, codes.CANCEL_REJECTED})

RATE_LIMIT_STATUSES = frozenset({418, 429})

# Used when a rate-limit status arrives without a usable Retry-After header (seconds).
DEFAULT_RETRY_AFTER_S = 1.0

_QUERY = re.compile(r"\?[^\s'\"]*")
_SIGNATURE = re.compile(r"(signature|apiKey|X-MBX-APIKEY)=[^&\s'\"]*", re.IGNORECASE)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (requests' headers are, plain dicts are not)."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    raw = header(headers, "Retry-After")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def used_weight(headers: Mapping[str, str] | None) -> int | None:
    """X-MBX-USED-WEIGHT-1M: the request weight used in the current minute, by this IP."""
    raw = header(headers, "X-MBX-USED-WEIGHT-1M")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def scrub(text: str) -> str:
    """An error text safe to log: no query strings (they carry signatures), no key material."""
    return _SIGNATURE.sub(r"\1=***", _QUERY.sub("?…", text))[:500]


def classify_response(
    http_status: int,
    code: int | None,
    message: str,
    headers: Mapping[str, str] | None = None,
    client_order_id: str | None = None,
) -> Rejected | Unknown:
    """The outcome of an HTTP error answer from the exchange (status >= 400)."""
    message = scrub(message or "")
    error_code = code if code is not None else 0
    if http_status in RATE_LIMIT_STATUSES or error_code in (codes.TOO_MANY_REQUESTS, codes.TOO_MANY_ORDERS):
        retry_after = retry_after_seconds(headers)
        return Rejected(
            code=error_code or codes.TOO_MANY_REQUESTS,
            message=message or f"rate limited (HTTP {http_status})",
            http_status=http_status,
            retryable=True,
            retry_after_s=DEFAULT_RETRY_AFTER_S if retry_after is None else retry_after,
        )
    if http_status >= 500 or error_code in UNKNOWN_STATUS_CODES:
        detail = f"HTTP {http_status}" + (f" code {error_code}" if error_code else "")
        return Unknown(reason=f"{detail}: {message}".rstrip(": "), client_order_id=client_order_id)
    return Rejected(
        code=error_code,
        message=message or f"HTTP {http_status}",
        http_status=http_status,
        retryable=error_code in RETRYABLE_CODES,
        retry_after_s=retry_after_seconds(headers) if error_code in RETRYABLE_CODES else None,
    )


def classify_transport(kind: str, detail: str = "", client_order_id: str | None = None) -> Unknown:
    """A timeout, a dropped connection or an unreadable 2xx body: the request may have been executed."""
    reason = f"{kind}: {scrub(detail)}" if detail else kind
    return Unknown(reason=reason, client_order_id=client_order_id)


def is_not_found(code: int | None) -> bool:
    """-2013 / -2011: the order the lookup or cancel named is not on the book."""
    return code in NOT_FOUND_CODES
