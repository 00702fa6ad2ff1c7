"""The outermost ASGI layer of the API: a request-body size limit, and the last word on any error.

The body is read here, up to ``max_body`` bytes, before any route runs: an oversized request (by its
Content-Length or by what actually arrives) answers 413 without being buffered whole. In a Lambda the
event already holds the body, so buffering costs nothing; the limit keeps a huge signal from reaching
JSON parsing at all. Anything a handler raises that no exception handler took answers a JSON 500 here
(Starlette's own server-error layer would re-raise it into Mangum), with only the exception's kind in
the log line.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradeengine.api.errors import error_body, redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a signal is well under 2 KiB


class Guard:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if body is None:
                message = f"the request body is over {self.max_body} bytes"
                await _json(send, 413, error_body("payload_too_large", message))
                return
            await self.app(scope, _replay(body, receive), tracking_send)
        except Exception as exc:  # the last word: never a bare 500 or a re-raise into the Lambda runtime
            log.error(
                "unhandled %s on %s %s: %s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                redact(str(exc))[:300],
            )
            if not started:
                await _json(send, 500, error_body("internal_error", "the engine could not answer; try again later"))

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is over the limit."""
        for name, value in scope.get("headers", []):
            # An unreadable Content-Length is ignored: the bytes that arrive are counted below anyway.
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
