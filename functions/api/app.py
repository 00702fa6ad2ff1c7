"""API function: the FastAPI app behind API Gateway (HTTP API, payload v2) through Mangum.

The composition root is built once, at import (the cold start): clients are reused by every
invocation, and a configuration that cannot serve (no JWT_SECRET_KEY outside a local environment)
fails the function's init instead of answering requests. ``build_deps`` is looked up by name at
import, so a test can put its own in-memory root in its place before loading this module.
"""

from __future__ import annotations

from mangum import Mangum
from tradeengine.api.app import create_app
from tradeengine.pipeline import deps as _deps


def _build() -> _deps.Deps:
    return _deps.build_deps(function="api")


app = create_app(_build)
handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
