"""``create_app(deps_factory)``: the FastAPI application over one composition root.

The factory runs once, here, when the app is built: in a Lambda that is at import (the cold start),
so clients are created once and reused by every invocation; a factory or auth configuration that
fails stops the function from starting instead of failing each request. Tests pass a factory that
returns in-memory adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from contracts.signal import Signal
from tradeengine import __version__, logs
from tradeengine.api import (
    docs,
    errors,
    routes_book,
    routes_exchange,
    routes_ops,
    routes_signals,
    routes_trading,
    routes_webhooks,
)
from tradeengine.api.auth import check_auth_config
from tradeengine.api.guard import MAX_BODY_BYTES, Guard
from tradeengine.pipeline.deps import Deps

DESCRIPTION = """Signals in, sized orders out. Every route but /health, /ready, /live, /metrics and
/webhooks/{hook_id} (TradingView alerts: a passphrase in the body, see docs/WEBHOOKS.md) needs
`Authorization: Bearer <token>` (HS256, JWT_SECRET_KEY; mint one locally with
`tradeengine token --scope signals:write`). Scopes: signals:write, orders:read, orders:write,
account:read, admin (implies all). Every error answers `{"error": {"code", "message", "details"}}`."""


def create_app(deps_factory: Callable[[], Deps], *, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    deps = deps_factory()
    settings = deps.settings
    app = FastAPI(
        title="Petrosa Trading Engine",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by api.docs, from the package instead of a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.deps = deps
    app.state.jwt_secret = check_auth_config(settings)
    # this app's secrets join the one redactor: masked in its error bodies, and in every log line too
    logs.add_secret(
        settings.jwt_secret_key, settings.binance_api_key, settings.binance_api_secret, settings.mongodb_url
    )
    errors.install(app)
    for module in (routes_signals, routes_webhooks, routes_book, routes_exchange, routes_trading, routes_ops):
        app.include_router(module.router)
    docs.install(app)
    app.add_middleware(Guard, max_body=max_body)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, plus the Signal schema that POST /trade/signal reads by hand (see routes_signals)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            signal = Signal.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(signal.pop("$defs", {}))
            schemas["Signal"] = signal
            app.openapi_schema = doc
        return app.openapi_schema

    return build
