"""The notifier's HTTP client (``pipeline.notify.Sender``): one POST, a short timeout, no redirects.

The standard library's urllib, not a client library: the notifier makes one small POST per channel, and
its cold start should not pay for more. Redirects are not followed: a webhook that moved answers 3xx,
which is reported (a permanent failure to fix), and a token or a signed body is never replayed to
another host. The answer's body is read (bounded) only for Telegram's and Discord's ``retry_after``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

from tradeengine.notifications import HttpRequest
from tradeengine.pipeline.notify import Delivery

TIMEOUT_S = 5.0
_READ_LIMIT = 4096


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx


class UrllibSender:
    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self._timeout = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects)

    def post(self, request: HttpRequest) -> Delivery:
        req = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")  # noqa: S310 - https, or http to this machine only (notifications.check_url)
        try:
            with self._opener.open(req, timeout=self._timeout) as answer:
                answer.read(_READ_LIMIT)
                return Delivery(answer.status)
        except urllib.error.HTTPError as exc:
            body = exc.read(_READ_LIMIT) if exc.fp is not None else b""
            return Delivery(exc.code, retry_after(exc.headers, body))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Delivery(0, error=type(reason).__name__ if isinstance(reason, BaseException) else str(reason)[:80])


def retry_after(headers: Message | None, body: bytes) -> float | None:
    """Seconds to wait: the ``Retry-After`` header, else Telegram's ``parameters.retry_after`` or Discord's
    ``retry_after`` in the JSON body."""
    if headers is not None and headers.get("Retry-After"):
        try:
            return max(float(str(headers.get("Retry-After"))), 0.0)
        except ValueError:
            pass
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    params = payload.get("parameters")
    value = params.get("retry_after") if isinstance(params, dict) else payload.get("retry_after")
    return float(value) if isinstance(value, int | float) and value >= 0 else None
