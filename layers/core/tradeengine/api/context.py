"""The composition root as a FastAPI dependency (built once per process by ``create_app``)."""

from __future__ import annotations

from fastapi import Request

from tradeengine.pipeline.deps import Deps


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps
