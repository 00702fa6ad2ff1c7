"""POST /webhooks/{hook_id}: TradingView alerts (no bearer token: the passphrase in the body proves them).

TradingView cannot set an Authorization header, and sends the alert's message as ``application/json``
when it is valid JSON, else as ``text/plain``: both are read as one JSON object. The use-case is
``pipeline.webhook_intake.receive``; this route only reads the body, names the source address and shapes
the answer. A wrong passphrase (or an unknown or revoked hook) is 401 with nothing said about why; past
WEBHOOK_AUTH_FAILURES_PER_MINUTE of those from one address, that address gets 429 until the minute ends.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from contracts import wire
from tradeengine.api.context import get_deps
from tradeengine.api.errors import ApiError
from tradeengine.api.routes_signals import status_url
from tradeengine.api.schemas import SignalAccepted
from tradeengine.hooks import AuthFailures, HookStore
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.webhook_intake import Outcome, receive

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)

MEDIA = ("application/json", "text/plain")
_ALERT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["passphrase", "symbol", "action", "price"],
                    "properties": {
                        "passphrase": {"type": "string"},
                        "symbol": {"type": "string", "example": "BINANCE:BTCUSDT"},
                        "action": {"type": "string", "example": "buy"},
                        "quantity": {"type": "string", "example": "0.001"},
                        "price": {"type": "string", "example": "45000"},
                    },
                }
            }
            for media in MEDIA
        },
    }
}


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "unauthorized")


async def _read_alert(request: Request) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA and not media.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the alert as application/json or text/plain, not {media or 'nothing'}",
            [{"field": "content-type", "rule": "media_type", "message": "application/json or text/plain"}],
        )
    try:
        return wire.load_object(await request.body())
    except wire.WireError as exc:
        # Never echo the body: it holds the passphrase.
        code = "malformed_json" if exc.status == 400 else "validation_failed"
        message = 'the alert\'s message must be one JSON object, e.g. {"passphrase": "...", "symbol": ...}'
        detail = [{"field": exc.field, "rule": exc.rule, "message": exc.message}]
        raise ApiError(exc.status, code, f"{message}: {exc.message}", detail) from exc


@router.post(
    "/webhooks/{hook_id}",
    status_code=202,
    response_model=SignalAccepted,
    responses={
        401: {"description": "unknown hook or wrong passphrase (no detail)"},
        429: {"description": "too many wrong passphrases from this address this minute"},
    },
    openapi_extra=_ALERT_BODY,
    summary="A TradingView alert (webhook URL of a hook made by `tradeengine hook create`)",
)
async def post_webhook(hook_id: str, request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> JSONResponse:
    hooks, failures = deps.hooks, deps.auth_failures
    if hooks is None or failures is None:
        raise ApiError(404, "webhooks_not_configured", "this engine has no webhook store configured")
    body = await _read_alert(request)
    source = request.client.host if request.client else "unknown"
    outcome = await run_in_threadpool(_receive, hook_id, body, source, deps, hooks, failures)
    if outcome.result == "rate_limited":
        raise ApiError(429, "rate_limited", "too many refused webhook requests from this address; retry next minute",
                       headers={"Retry-After": "60"})  # fmt: skip
    if outcome.result == "unauthorized":
        raise _unauthorized()
    if outcome.result == "invalid":
        message = "; ".join(f"{e['field']}: {e['message']}" for e in outcome.errors)
        raise ApiError(422, "validation_failed", message, outcome.errors)
    if outcome.result == "conflict":
        detail = {"field": "signal_id", "rule": "idempotency_key_reused", "message": outcome.conflict or ""}
        raise ApiError(409, "signal_id_conflict", outcome.conflict or "", [detail])
    sid = outcome.signal_id or ""
    state = outcome.record.state.value if outcome.record is not None else "QUEUED"
    url = status_url(request, sid)
    accepted = SignalAccepted(signal_id=sid, status=state, status_url=url, duplicate=outcome.result == "duplicate")
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": url})


def _receive(
    hook_id: str, body: dict[str, Any], source: str, deps: Deps, hooks: HookStore, failures: AuthFailures
) -> Outcome:
    try:
        with deps.recorder("ingest") as recorder:  # the audit is written before the answer is sent
            return receive(
                hook_id,
                body,
                source,
                hooks=hooks,
                failures=failures,
                limit=deps.settings.webhook_auth_failures_per_minute,
                recorder=recorder,
                queue=deps.signals,
            )
    except Exception as exc:
        log.warning("webhook intake failed (%s): answering 503", type(exc).__name__)
        raise ApiError(503, "unavailable", "the alert could not be queued right now; send it again",
                       headers={"Retry-After": "1"}) from exc  # fmt: skip
