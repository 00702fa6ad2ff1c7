"""POST /trade/signal (ingest, optionally wait for the outcome) and GET /signals/{signal_id}."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from contracts import wire
from contracts.execution import Execution
from contracts.money import plain
from contracts.signal import SIGNAL_ID_PATTERN
from contracts.status import TERMINAL, SignalState
from tradeengine.api.auth import forbid_other_strategies, may_act_for, require
from tradeengine.api.context import get_deps
from tradeengine.api.encode import jsonable, record_json
from tradeengine.api.errors import ApiError
from tradeengine.api.schemas import ERROR_RESPONSES, SeedResult, SignalAccepted
from tradeengine.api.tokens import Principal, Scope
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.ingest import IngestResult, ingest
from tradeengine.pipeline.ports import SignalRecord

router = APIRouter(tags=["signals"])
log = logging.getLogger(__name__)

MAX_WAIT_S = 20
# Where ?wait= stops: a final state, or the order is on the book (its fate is now the market's; the
# seed answered once the order was placed). A resting limit order would otherwise always time out.
SETTLED = TERMINAL | {SignalState.OPEN, SignalState.PARTIALLY_FILLED}
RESULT_STATUS = {
    SignalState.FILLED: "executed",
    SignalState.OPEN: "open",
    SignalState.PARTIALLY_FILLED: "partially_filled",
    SignalState.REJECTED: "rejected",
    SignalState.HELD: "hold",
    SignalState.CANCELED: "canceled",
    SignalState.EXPIRED: "expired",
    SignalState.FAILED: "failed",
}
_POLL_FIRST_S = 0.05
_POLL_MAX_S = 0.5

_SIGNAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signal"}}},
    }
}

SignalId = Annotated[str, Path(pattern=SIGNAL_ID_PATTERN, description="the signal_id answered by POST")]


def status_url(request: Request, signal_id: str) -> str:
    return f"{request.scope.get('root_path', '')}/signals/{signal_id}"


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 4xx that says what is wrong with it."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"send the body as application/json, not {media or 'nothing'}")
    try:
        return wire.load_object(await request.body())
    except wire.WireError as exc:
        code = "malformed_json" if exc.status == 400 else "validation_failed"
        detail = [{"field": exc.field, "rule": exc.rule, "message": exc.message}] if exc.status != 400 else []
        raise ApiError(exc.status, code, exc.message, detail) from exc


@router.post(
    "/trade/signal",
    status_code=202,
    response_model=SignalAccepted,
    responses={
        200: {"model": SeedResult, "description": "with ?wait=: the signal settled in time"},
        409: {"description": "the signal_id is already used by a different signal"},
        **ERROR_RESPONSES,
    },
    openapi_extra=_SIGNAL_BODY,
    summary="Accept a trading signal (the seed's body, unchanged)",
)
async def post_signal(
    request: Request,
    who: Annotated[Principal, Depends(require(Scope.SIGNALS_WRITE))],
    deps: Annotated[Deps, Depends(get_deps)],
    wait: Annotated[
        float | None,
        Query(ge=0, le=MAX_WAIT_S, description="seconds to wait for the outcome (max 20); answers in the seed's shape"),
    ] = None,
) -> JSONResponse:
    raw = await read_json_object(request)
    forbid_other_strategies(who, raw.get("strategy_id"))  # before anything is recorded under its signal_id
    result = await run_in_threadpool(_ingest, raw, deps)
    if result.errors:
        raise ApiError(
            422,
            "validation_failed",
            "; ".join(f"{e['field']}: {e['message']}" for e in result.errors),
            result.errors,
            extra={"signal_id": result.signal_id} if result.signal_id else None,
        )
    if result.conflict:
        detail = {"field": "signal_id", "rule": "idempotency_key_reused", "message": result.conflict}
        raise ApiError(409, "signal_id_conflict", result.conflict, [detail], extra={"signal_id": result.signal_id})
    sid = result.signal_id or ""  # an accepted signal always has its id
    record = result.record
    if wait:
        record = await _wait_until_settled(deps, sid, wait, record)
    url = status_url(request, sid)
    if record is not None and record.state in SETTLED and wait is not None:
        return JSONResponse(seed_result(record, result.duplicate, url), status_code=200)
    state = record.state if record is not None else result.state
    body = SignalAccepted(
        signal_id=sid, status=state.value if state else "QUEUED", status_url=url, duplicate=result.duplicate
    )
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})


def _ingest(raw: Mapping[str, Any], deps: Deps) -> IngestResult:
    try:
        with deps.recorder("ingest") as recorder:  # an invalid signal's audit is written before the answer
            return ingest(raw, source="api", recorder=recorder, queue=deps.signals)
    except Exception as exc:
        # The store or the queue is unreachable. A record whose send failed was taken back, and one left
        # QUEUED (a crash) is sent again by the retry; the queue's deduplication on signal_id makes it harmless.
        log.warning("ingest failed (%s): answering 503", type(exc).__name__)
        raise ApiError(
            503,
            "unavailable",
            "the signal could not be queued right now; send the same signal again",
            headers={"Retry-After": "1"},
        ) from exc


async def _wait_until_settled(deps: Deps, sid: str, seconds: float, last: SignalRecord | None) -> SignalRecord | None:
    deadline = time.monotonic() + seconds
    delay = _POLL_FIRST_S
    record = last
    while record is None or record.state not in SETTLED:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)
        record = await run_in_threadpool(deps.store.get, sid) or record
    return record


# The seed's names for the order types (its meta.order_type) and the top-level status of a refusal.
SEED_ORDER_TYPE = {
    "MARKET": "market", "LIMIT": "limit", "STOP_LOSS": "stop", "STOP_LOSS_LIMIT": "stop_limit",
    "TAKE_PROFIT": "take_profit", "TAKE_PROFIT_LIMIT": "take_profit_limit", "LIMIT_MAKER": "limit_maker",
}  # fmt: skip
REFUSED = {SignalState.REJECTED: "rejected", SignalState.FAILED: "failed"}
_SEED_NAMED = ("symbol", "side", "type", "time_in_force", "quantity", "price", "stop_price")


def seed_order_params(order: Mapping[str, Any], signal: Mapping[str, Any]) -> dict[str, Any]:
    """The sized order in the seed's words (lower-case side and type, its time_in_force), then the Binance
    names the seed has no word for (quote_order_qty, new_client_order_id)."""
    meta = signal.get("meta") or {}
    kind = str(order.get("type") or "")
    params: dict[str, Any] = {
        "symbol": order.get("symbol"),
        "side": str(order.get("side") or "").lower() or None,
        "type": SEED_ORDER_TYPE.get(kind, kind.lower() or None),
        "time_in_force": order.get("time_in_force") or meta.get("time_in_force") or "GTC",
        "quantity": order.get("quantity"),
        "price": order.get("price"),
        "stop_price": order.get("stop_price"),
    }
    params.update({k: v for k, v in order.items() if k not in _SEED_NAMED and v is not None})
    return jsonable(params)  # type: ignore[no-any-return]


def _reason(record: SignalRecord, params: Mapping[str, Any] | None) -> str:
    """One sentence a trader reads: what happened to the signal."""
    if record.reason and (record.state in REFUSED or not params):
        return record.reason
    if not params:
        return f"the signal is {record.state.value.lower()}"
    entry = Execution.read(record.execution).entry
    executed = plain(entry.executed_qty) if entry is not None and entry.executed_qty is not None else None
    qty = executed or params.get("quantity") or params.get("quote_order_qty") or "?"
    what = f"{params['type']} {params['side']} of {qty} {params['symbol']}"
    if record.state is SignalState.FILLED:
        avg = plain(entry.avg_price) if entry is not None and entry.avg_price is not None else None
        return f"{what} filled at {avg or params.get('price') or 'market'}"
    if record.state is SignalState.OPEN:
        return f"{what} is open on the exchange at {params.get('price') or params.get('stop_price') or 'market'}"
    if record.state is SignalState.PARTIALLY_FILLED:
        return f"{what} partially filled, {params.get('quantity')} ordered; the rest stays open"
    return record.reason or f"{what}: {record.state.value.lower()}"


def seed_result(record: SignalRecord, duplicate: bool, url: str) -> dict[str, Any]:
    """The seed's synchronous answer: ``{"status": "success", "signal": ..., "result": {...}}``.

    ``status`` is "success" when the engine acted on the signal, "rejected" when it refused it, "failed"
    when the exchange did; ``result`` carries the seed's ``status``, ``order_params``, ``confidence`` and
    ``reason``, then this engine's own detail (state, code, brackets, execution)."""
    plan = dict(record.plan or {})
    order = plan.get("order")
    params = seed_order_params(order, record.signal) if isinstance(order, Mapping) else None
    confidence = record.signal.get("confidence")
    return {
        "status": REFUSED.get(record.state, "success"),
        "signal_id": record.signal_id,
        "duplicate": duplicate,
        "signal": jsonable(record.signal),
        "result": {
            "status": RESULT_STATUS.get(record.state, record.state.value.lower()),
            "order_params": params,
            "confidence": float(confidence) if confidence is not None else None,
            "reason": _reason(record, params),
            "state": record.state.value,
            "code": record.code,
            "brackets": jsonable(plan.get("brackets")),
            "execution": jsonable(record.execution),
        },
        "status_url": url,
    }


@router.get(
    "/signals/{signal_id}",
    responses={404: {"description": "no such signal"}, **ERROR_RESPONSES},
    summary="A signal's state and history",
)
def get_signal(
    signal_id: SignalId,
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    record = deps.store.get(signal_id)
    if record is None or not may_act_for(who, record.strategy_id):  # another strategy's signal: as if absent
        raise ApiError(404, "signal_not_found", f"no signal {signal_id}")
    return JSONResponse(record_json(record))
