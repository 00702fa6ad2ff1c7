"""Security over the real handlers and servers (what tests/unit/test_api_security.py cannot see in-process):

- the Binance key and secret, the JWT key and a MongoDB password never reach the functions' logs, the
  audit documents in MongoDB, the signal records in DynamoDB or the queues' messages, even when the
  exchange refuses the signature;
- an order reaches the exchange only with SIMULATION_ENABLED=false *and* credentials; simulation with
  credentials set never signs a request, and live without credentials places nothing;
- /health names the live mode through the deployed handler, with and without credentials.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
from pymongo import MongoClient

from tests.chaos.harness import (
    JWT_SECRET,
    FakeContext,
    Stack,
    api_event,
    exchange_orders,
    functions,
    post,
    run_pipeline,
    signal,
    token,
)
from tests.chaos.servers import EXCHANGE_KEY, EXCHANGE_SECRET, Servers

pytestmark = pytest.mark.integration


def _fresh(servers: Servers, **env: str) -> Stack:
    servers.faults()
    servers.admin("reset", {})
    return Stack.create(servers, LOG_LEVEL="DEBUG", **env)


def _everything_stored(stack: Stack, signal_ids: list[str]) -> str:
    """Audit documents, signal records and what is left on the queues, as text."""
    parts = []
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url, serverSelectionTimeoutMS=3000)
    for doc in mongo[stack.env["MONGODB_DATABASE"]]["audit_events"].find({}, {"_id": 0}):
        parts.append(repr(doc))
    mongo.close()
    for page in stack.ddb.get_paginator("scan").paginate(TableName=stack.env["SIGNALS_TABLE"]):
        parts += [json.dumps(item) for item in page["Items"]]
    for url in (stack.signals_url, stack.orders_url, stack.signals_dlq, stack.orders_dlq):
        got = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        parts += [m["Body"] for m in got.get("Messages", [])]
    assert any(sid in "".join(parts) for sid in signal_ids), "nothing was stored: the check would prove nothing"
    return "\n".join(parts)


@pytest.mark.parametrize("secret_ok", [True, False], ids=["signed", "refused-signature"])
def test_secrets_never_reach_logs_audit_records_or_queues(
    chaos_servers: Servers, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, secret_ok: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    mongo_password = "m0ngo-pa55word-xyz"  # an unused user in the URL: the driver must not quote it
    api_secret = EXCHANGE_SECRET if secret_ok else "a-wrong-secret-the-exchange-refuses-123"
    stack = _fresh(chaos_servers, BINANCE_API_SECRET=api_secret)
    secrets = [EXCHANGE_KEY, api_secret, JWT_SECRET, mongo_password]
    fns = functions(stack)
    ids = [f"sec-{secret_ok}-{i}-{stack.env['SIGNALS_TABLE'][-8:]}" for i in range(3)]
    for i, sid in enumerate(ids):
        assert post(fns["api"], signal(sid, i, strategy_id="secrets"), token())[0] == 202
    run_pipeline(stack, fns, ids, timeout_s=30)
    deps = stack.deps()
    states = {deps.store.get(sid).state.value for sid in ids}
    assert states == {"FILLED"} if secret_ok else states <= {"FAILED", "REJECTED"}, states
    for path in ("/health", "/account", "/signals/" + ids[0]):
        fns["api"].handler(_get(path, bearer=token()), FakeContext())
    # a MongoDB URL with a password in it (the audit store may refuse it): whatever happens, never quoted
    mongo_url = f"mongodb://engine:{mongo_password}@127.0.0.1:{chaos_servers.mongo.port}"
    post(functions(_fresh(chaos_servers, MONGODB_URL=mongo_url), ("api",))["api"], signal(ids[0] + "-m"), token())

    out, err = capfd.readouterr()
    text = out + err + caplog.text + _everything_stored(stack, ids)
    for secret in secrets:
        assert secret not in text, f"a secret leaked ({secret[:4]}...)"


def test_only_live_mode_with_credentials_places_orders_on_the_exchange(chaos_servers: Servers) -> None:
    outcomes = {}
    cases = {
        "simulation, credentials set": {"SIMULATION_ENABLED": "true"},
        "live, no credentials": {"SIMULATION_ENABLED": "false", "BINANCE_API_KEY": "", "BINANCE_API_SECRET": ""},
        "live, credentials": {"SIMULATION_ENABLED": "false"},
    }
    for name, env in cases.items():
        stack = _fresh(chaos_servers, **env)
        for key in [k for k, v in env.items() if v == ""]:  # unset, not empty
            stack.env.pop(key)
            os.environ.pop(key, None)
        fns = functions(stack)
        sid = f"mode-{stack.env['SIGNALS_TABLE'][-8:]}"
        assert post(fns["api"], signal(sid), token())[0] == 202
        run_pipeline(stack, fns, [sid], timeout_s=30)
        record = stack.deps().store.get(sid)
        health = fns["api"].handler(_get("/health", bearer=token()), FakeContext())  # the detail needs a token
        outcomes[name] = (record.state.value, sum(exchange_orders(chaos_servers).values()), json.loads(health["body"]))
    state, orders, health = outcomes["simulation, credentials set"]
    assert (state, orders, health["mode"], health["live_trading"]) == ("FILLED", 0, "simulation", False)
    assert health["dependencies"]["exchange"]["venue"] == "paper"
    state, orders, health = outcomes["live, no credentials"]
    assert state in ("FAILED", "REJECTED") and orders == 0
    assert (health["mode"], health["live_trading"], health["exchange_credentials"]) == ("testnet", True, False)
    state, orders, health = outcomes["live, credentials"]
    assert (state, orders, health["exchange_credentials"]) == ("FILLED", 1, True)
    assert health["dependencies"]["exchange"]["venue"] == "binance-local"


def _get(path: str, bearer: str | None = None) -> dict[str, Any]:
    event = api_event("", bearer or "")
    event.pop("body", None)
    if bearer is None:
        event["headers"].pop("authorization", None)
    event["headers"].pop("content-length", None)
    event["rawPath"] = path
    event["routeKey"] = f"GET {path}"
    event["requestContext"]["http"]["method"] = "GET"
    event["requestContext"]["http"]["path"] = path
    return event
