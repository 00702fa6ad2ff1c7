"""The API function as Lambda runs it: Mangum over a real API Gateway HTTP API (payload v2) event."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tradeengine.pipeline import deps as deps_module
from tradeengine.pipeline.deps import Deps

from tests.unit.api_support import memory_deps, token

ROOT = Path(__file__).parents[2]
EVENT = json.loads((ROOT / "local" / "events" / "apigw-post-signal.json").read_text())


class Context:
    function_name = "tradeengine-api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tradeengine-api"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Deps]:
    """functions/api/app.py loaded as the Lambda runtime loads it, with an in-memory root in build_deps' place."""
    deps = memory_deps()
    monkeypatch.setattr(deps_module, "build_deps", lambda **_wiring: deps, raising=False)
    spec = importlib.util.spec_from_file_location("api_function_app", ROOT / "functions" / "api" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, deps


def invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = module.handler(event, Context())
    return reply


def with_token(event: dict[str, Any], *scopes: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["headers"]["authorization"] = f"Bearer {token(*scopes)}"
    return event


def test_the_handler_answers_the_http_api_event_with_202(function: tuple[ModuleType, Deps]) -> None:
    module, deps = function
    reply = invoke(module, with_token(EVENT, "signals:write"))
    assert reply["statusCode"] == 202, reply
    body = json.loads(reply["body"])
    assert body["status"] == "QUEUED" and body["status_url"] == f"/signals/{body['signal_id']}"
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]
    again = json.loads(invoke(module, with_token(EVENT, "signals:write"))["body"])
    assert again["duplicate"] is True and len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_the_event_as_shipped_is_refused_until_a_real_token_is_put_in(function: tuple[ModuleType, Deps]) -> None:
    module, deps = function
    reply = invoke(module, EVENT)
    assert reply["statusCode"] == 401 and json.loads(reply["body"])["error"]["code"] == "invalid_token"
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_a_base64_body_and_a_get_route_go_through_the_handler(function: tuple[ModuleType, Deps]) -> None:
    module, _ = function
    event = with_token(EVENT, "signals:write")
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert invoke(module, event)["statusCode"] == 202
    health = copy.deepcopy(EVENT)
    health["rawPath"] = health["requestContext"]["http"]["path"] = "/health"
    health["requestContext"]["http"]["method"] = "GET"
    health["body"] = ""
    reply = invoke(module, health)
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["mode"] == "simulation"
