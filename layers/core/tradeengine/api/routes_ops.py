"""Operations, no token: /health (status, mode, version), /ready, /live, /metrics (Prometheus text).

/health tells anyone only its status, mode and version; with a valid bearer token (any scope) it adds the
detail: environment, whether credentials and the JWT key are set (never what they are), the adapters and
their probes. Nothing here echoes configuration values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials

from tradeengine import __version__
from tradeengine.api.auth import bearer_scheme, principal_or_none
from tradeengine.api.context import get_deps
from tradeengine.metrics import BUILD_INFO, PROMETHEUS_CONTENT_TYPE, Snapshot, render_prometheus
from tradeengine.pipeline.booking import book_levels
from tradeengine.pipeline.deps import Deps
from tradeengine.stores.secrets import credentials_configured

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

PROBE_ID = "health-probe"  # a signal id no strategy sends; reading it proves the store answers


def _probe(check: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a probe reports, it never fails the endpoint
        return {"status": "error", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _dependencies(deps: Deps) -> dict[str, Any]:
    return {
        "signal_store": {"adapter": type(deps.store).__name__, **_probe(lambda: deps.store.get(PROBE_ID))},
        "trading_state": {"adapter": type(deps.trading_state).__name__, **_probe(deps.trading_state.get)},
        "signal_queue": {"adapter": type(deps.signals).__name__},
        "audit": {"adapter": type(deps.audit).__name__},
        "exchange": {"venue": deps.exchange.name},
    }


@router.get("/health", summary="Status, mode (simulation / testnet / mainnet) and version; detail with a token")
async def health(
    request: Request,
    deps: Annotated[Deps, Depends(get_deps)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> JSONResponse:
    settings = deps.settings
    dependencies = await run_in_threadpool(_dependencies, deps)
    healthy = all(d.get("status", "ok") == "ok" for d in dependencies.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "mode": settings.mode, "version": __version__}
    if principal_or_none(request, credentials) is not None:
        body |= {
            "environment": settings.environment,
            "live_trading": settings.mode != "simulation",
            "exchange_credentials": credentials_configured(settings),
            "auth": "configured",
            "dependencies": dependencies,
        }
    return JSONResponse(body)


@router.get("/ready", summary="503 until the state store and trading state answer")
async def ready(deps: Annotated[Deps, Depends(get_deps)]) -> JSONResponse:
    dependencies = await run_in_threadpool(_dependencies, deps)
    failed = sorted(name for name, d in dependencies.items() if d.get("status", "ok") != "ok")
    if failed:
        return JSONResponse({"status": "not_ready", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/live", summary="The process answers")
def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus text, from the counters every function instance shares",
)
async def metrics(deps: Annotated[Deps, Depends(get_deps)]) -> PlainTextResponse:
    snapshot: Snapshot = await run_in_threadpool(deps.counters.snapshot)
    if deps.ledger is not None:  # the book's levels, read now from the positions every function shares
        try:
            snapshot = {**snapshot, **book_levels(await run_in_threadpool(deps.ledger.positions))}
        except Exception as exc:  # the counters still answer; the gauges are missing from this scrape
            log.warning("book levels unavailable for /metrics: %s", type(exc).__name__)
    snapshot = {**snapshot, (BUILD_INFO, (("mode", deps.settings.mode), ("version", __version__))): 1}
    return PlainTextResponse(render_prometheus(snapshot), media_type=PROMETHEUS_CONTENT_TYPE)
