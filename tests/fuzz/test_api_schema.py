"""schemathesis against the API's own OpenAPI, in-process (ASGI) over the in-memory composition root.

Every generated request (valid and invalid bodies, paths, query strings; with an admin token, so the
requests reach the handlers instead of stopping at auth) must answer without a server error, and every
4xx must carry the engine's JSON error body ``{"error": {"code": ..., "message": ...}}``.
``FUZZ_EXAMPLES`` sets the examples per operation: a bounded number in ``make test``, ≥ 1,000 requests in
all in ``make chaos`` (``test_enough_requests_were_sent`` counts them).

A second run fuzzes the same API through a variant of its document (``hostile_variant``): every money field
a string of digits with any exponent (``"7.5e-999999"``), the strategy id and meta.tags' keys strings
holding non-ASCII characters, so the bounds on numbers and the handling of text are fuzzed, not only the
shapes the document promises.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from tradeengine.api.app import create_app

from tests.unit.api_support import bearer, memory_deps

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
DEPS = memory_deps()
APP = create_app(lambda: DEPS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

NUMBER_TEXT = r"^-?[0-9]{1,30}(\.[0-9]{0,40})?([eE][-+]?[0-9]{1,12})?$"
NON_ASCII = "[^\\x00-\\x7F]"  # JSON Schema patterns search: at least one non-ASCII character
MONEY = {"Signal": ("price", "quantity", "confidence"),
         "SignalMeta": ("stop_price", "stop_loss", "stop_loss_pct", "take_profit", "take_profit_pct",
                        "position_size_pct", "quote_quantity")}  # fmt: skip


def hostile_variant(doc: dict[str, Any]) -> dict[str, Any]:
    """The API's document with money as exponent-bearing strings and text that is not ASCII."""
    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    for model, fields in MONEY.items():
        for name in fields:
            schemas[model]["properties"][name] = {"type": "string", "pattern": NUMBER_TEXT}
    schemas["Signal"]["properties"]["strategy_id"] = {"type": "string", "maxLength": 40, "pattern": NON_ASCII}
    text = {"type": "string", "maxLength": 40, "pattern": NON_ASCII}
    schemas["SignalMeta"]["properties"]["tags"] = {"type": "object", "additionalProperties": text}
    return doc


hostile = schemathesis.openapi.from_dict(hostile_variant(APP.openapi())).include(path="/trade/signal")
hostile.app = APP
hostile.location = "/openapi.json"
SENT: Counter[str] = Counter()
OUTCOMES: Counter[int] = Counter()  # statuses of the hostile run, printed by test_enough_requests_were_sent
APP_CLIENT = TestClient(APP, raise_server_exceptions=False)
AUTH = bearer("admin", ttl=3600)


def json_error_body(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A 4xx names what was wrong in JSON: {"error": {"code", "message"}}."""
    if 400 <= response.status_code < 500:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise AssertionError(f"{response.status_code} without a JSON body: {response.content[:200]!r}") from None
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict) and error.get("code") and error.get("message"), body
    return None


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors_and_json_4xx(case: schemathesis.Case) -> None:
    if case.query and "wait" in case.query:
        case.query["wait"] = "0"  # ?wait blocks up to 20 s for a terminal state: keep the run bounded
    response = case.call(headers={**(case.headers or {}), **AUTH})
    SENT[case.operation.label] += 1
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.content[:300])
    json_error_body(None, response, case)


@hostile.parametrize()
@settings(max_examples=EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_string_money_and_non_ascii_text_cause_no_server_error(case: schemathesis.Case) -> None:
    if case.query and "wait" in case.query:
        case.query["wait"] = "0"
    response = case.call(headers={**(case.headers or {}), **AUTH})
    SENT["hostile " + case.operation.label] += 1
    OUTCOMES[response.status_code] += 1
    assert response.status_code < 500, (case.body, response.status_code, response.content[:300])
    json_error_body(None, response, case)
    if response.status_code == 202:  # what was accepted reads back, small
        sid = response.json()["signal_id"]
        record = APP_CLIENT.get(f"/signals/{sid}", headers=AUTH)
        assert record.status_code == 200 and len(record.content) < 16_384, (sid, record.status_code)


def test_enough_requests_were_sent() -> None:
    total = sum(SENT.values())
    print(f"fuzz: {total} requests over {len(SENT)} operations; hostile run statuses {dict(OUTCOMES)}")
    assert total >= min(200, EXAMPLES * 10), SENT
    if EXAMPLES >= 80:
        assert total >= 1000, SENT


def test_a_timestamp_that_overflows_in_utc_is_a_422_not_a_503() -> None:
    """schemathesis found it: 0001-01-01T00:00+00:01 is before year 1 in UTC (an OverflowError became a 503)."""
    from fastapi.testclient import TestClient

    from tests.conftest import signal_dict

    body = signal_dict(timestamp="0001-01-01T00:00:00+00:01")
    response = TestClient(APP).post("/trade/signal", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["code"], response.text
