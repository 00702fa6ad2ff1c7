"""One JSON error body for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``.

Client input never produces a 5xx: malformed JSON, wrong content types, huge bodies, unknown routes and
wrong methods all end here as 4xx. Every message and detail passes through ``redact`` (the one redactor of
``tradeengine.logs``, with its own mask) so a configured secret (JWT key, Binance key/secret, MongoDB
URL) can never be echoed back, whatever an adapter put in an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradeengine import logs

REDACTED = "[redacted]"


class ApiError(Exception):
    """Raised by handlers and dependencies; rendered as the JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def redact(value: Any) -> Any:
    """``value`` (text, or a JSON-like body) with every secret the log redactor knows masked as ``[redacted]``:
    the settings' own and every secret learned since (keys read from Secrets Manager when the exchange was
    built, for instance), and any URL's password."""
    return logs.redactor.deep(value, mask=REDACTED)


def error_body(code: str, message: str, details: Sequence[Any] = (), **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details), **extra}}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


def install(app: FastAPI) -> None:
    def respond(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(redact(body), status_code=status, headers=dict(headers or {}))

    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return respond(exc.status, error_body(exc.code, exc.message, exc.details, **exc.extra), exc.headers)

    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())) or "(request)",
                "rule": str(err.get("type", "invalid")),
                "message": str(err.get("msg", "")),
            }
            for err in exc.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "the request is not valid"
        return respond(422, error_body("validation_failed", message, details))

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return respond(exc.status_code, error_body(code, message), exc.headers)

    # Starlette types handlers as taking Exception; each of these is registered for its own class only.
    app.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
