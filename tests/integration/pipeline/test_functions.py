"""The four functions' real handlers, fed real event shapes, against real local servers.

API Gateway v2 event → api handler → signals.fifo (MiniStack) → SQS event → sizing handler →
orders.fifo → SQS event → execution handler (powertools idempotency on DynamoDB) → paper exchange
(prices from the local Binance-compatible exchange) → state in DynamoDB, audit in SecantusDB.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from pymongo import MongoClient

from local.exchange.prices import DEFAULT_PRICES
from tests.integration.local_exchange.conftest import admin
from tests.integration.pipeline.conftest import ROOT, FakeContext, load_function, sqs_event

pytestmark = pytest.mark.integration

API_EVENT = json.loads((ROOT / "local" / "events" / "apigw-post-signal.json").read_text())


def api_event(body: dict, token: str) -> dict:
    event = copy.deepcopy(API_EVENT)
    event["body"] = json.dumps(body)
    event["headers"]["authorization"] = f"Bearer {token}"
    event["headers"]["content-length"] = str(len(event["body"]))
    return event


def signal(**overrides) -> dict:
    """A market buy priced at the local exchange's BTCUSDT price (further than 5 % off is PRICE_OUT_OF_BAND)."""
    body = {
        "strategy_id": "momentum_v1",
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": DEFAULT_PRICES["BTCUSDT"],
        "quantity": 0.0,
        "confidence": 0.85,
        "timestamp": datetime.now(UTC).isoformat(),
        "meta": {"order_type": "market"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def functions(stack):
    from tradeengine.api.tokens import mint

    fns = {name: load_function(name) for name in ("api", "sizing", "execution", "monitor")}
    token = mint(stack.env["JWT_SECRET_KEY"], "integration", ["signals:write", "orders:read"])
    return fns, token


def post(fns, token, body):
    reply = fns["api"].handler(api_event(body, token), FakeContext())
    return reply["statusCode"], json.loads(reply["body"])


def drain(fns, stack, queue, name, rounds=3):
    """Run one function over what its queue holds, like the event source mapping does."""
    results = []
    for _ in range(rounds):
        event = sqs_event(stack.sqs, queue)
        if not event["Records"]:
            break
        results.append(fns[name].handler(event, FakeContext()))
        for record in event["Records"]:
            stack.sqs.delete_message(QueueUrl=queue, ReceiptHandle=record["receiptHandle"])
    return results


def test_signal_from_http_to_filled_order_with_audit(stack, functions, mongo_url):
    fns, token = functions
    status, body = post(fns, token, signal(signal_id="it-market-1"))
    assert status == 202 and body["signal_id"] == "it-market-1" and body["duplicate"] is False
    assert drain(fns, stack, stack.queues.signals, "sizing") == [{"batchItemFailures": []}]
    assert drain(fns, stack, stack.queues.orders, "execution") == [{"batchItemFailures": []}]

    from tradeengine.pipeline.deps import build_deps

    deps = build_deps()
    record = deps.store.get("it-market-1")
    assert record.state.value == "FILLED"
    assert record.execution["entry"]["status"] == "FILLED"
    events = list(
        MongoClient(mongo_url)[stack.env["MONGODB_DATABASE"]]["audit_events"].find(
            {"signal_id": "it-market-1"}, sort=[("seq", 1)]
        )
    )
    assert [e["state"] for e in events] == ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"]
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_trades_total", (("status", "filled"), ("type", "market")))] == 1


def test_same_signal_five_times_and_redelivered_places_one_order(stack, functions):
    fns, token = functions
    body = signal(signal_id="it-dup-1")  # the same signal each time (a new timestamp would be another: a 409)
    replies = [post(fns, token, body) for _ in range(5)]
    assert [r[1]["duplicate"] for r in replies] == [False, True, True, True, True]
    drain(fns, stack, stack.queues.signals, "sizing")
    event = sqs_event(stack.sqs, stack.queues.orders)
    assert len(event["Records"]) == 1
    for _ in range(4):  # the event source mapping delivers the same plan again and again
        assert fns["execution"].handler(event, FakeContext()) == {"batchItemFailures": []}
    from tradeengine.pipeline.deps import build_deps

    deps = build_deps()
    assert deps.store.get("it-dup-1").state.value == "FILLED"
    assert len(deps.exchange.recent_fills("BTCUSDT", 100)) == 1


def test_unreadable_messages_reach_the_dlq_with_their_reason(stack, functions):
    fns, _ = functions
    stack.sqs.send_message(
        QueueUrl=stack.queues.signals, MessageBody="{not json", MessageGroupId="x", MessageDeduplicationId="bad-1"
    )
    assert drain(fns, stack, stack.queues.signals, "sizing") == [{"batchItemFailures": []}]
    dead = stack.sqs.receive_message(
        QueueUrl=stack.queues.signals_dlq, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert dead[0]["Body"] == "{not json"
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"].startswith("not JSON")


def test_rejected_signal_is_recorded_and_sends_nothing(stack, functions):
    fns, token = functions
    post(fns, token, signal(signal_id="it-low-1", confidence=0.1))
    drain(fns, stack, stack.queues.signals, "sizing")
    from tradeengine.pipeline.deps import build_deps

    record = build_deps().store.get("it-low-1")
    assert record.state.value == "REJECTED" and record.code == "CONFIDENCE_TOO_LOW"
    assert sqs_event(stack.sqs, stack.queues.orders)["Records"] == []


def test_limit_order_rests_and_the_monitor_follows_it(stack, functions, exchange_url):
    """A buy limit 2 % under the market rests OPEN; the monitor follows it, and once the price comes down
    through it records the fill and books it."""
    from decimal import Decimal

    from tradeengine.pipeline.deps import build_deps

    fns, token = functions
    start = Decimal(admin(exchange_url, "state")["prices"]["BTCUSDT"])
    limit = (start * Decimal("0.98")).quantize(Decimal("0.01"))
    body = signal(signal_id="it-limit-1", price=float(limit), quantity=0.001, meta={"order_type": "limit"})
    assert post(fns, token, body)[0] == 202
    drain(fns, stack, stack.queues.signals, "sizing")
    drain(fns, stack, stack.queues.orders, "execution")
    deps = build_deps()
    record = deps.store.get("it-limit-1")
    assert record.state.value == "OPEN", (record.code, record.reason)
    assert fns["monitor"].handler({"source": "aws.events"}, FakeContext())["checked"] >= 1
    assert deps.store.get("it-limit-1").state.value == "OPEN"  # the market has not come down yet
    try:
        admin(exchange_url, "price", {"symbol": "BTCUSDT", "price": str(limit - 1)})
        fns["monitor"].handler({"source": "aws.events"}, FakeContext())
    finally:
        admin(exchange_url, "price", {"symbol": "BTCUSDT", "price": str(start)})
    filled = deps.store.get("it-limit-1")
    assert filled.state.value == "FILLED", filled.execution
    cid = filled.execution["entry"]["client_order_id"]
    booked = [f for f in deps.ledger.fills(filled.strategy_id, "BTCUSDT") if f.client_order_id == cid]
    assert sum(f.qty for f in booked) == Decimal(filled.execution["entry"]["executed_qty"]) > 0


def test_exits_after_a_fill_are_followed_until_the_take_profit_closes_the_position(stack, functions, exchange_url):
    from decimal import Decimal

    from tradeengine.pipeline.deps import build_deps

    from contracts.money import plain

    fns, token = functions
    start = admin(exchange_url, "state")["prices"]["ETHUSDT"]
    try:
        body = signal(
            signal_id="it-exits-1",
            symbol="ETHUSDT",
            price=float(start),
            quantity=0.01,
            meta={"order_type": "market", "stop_loss_pct": 2, "take_profit_pct": 3},
        )
        assert post(fns, token, body)[0] == 202
        drain(fns, stack, stack.queues.signals, "sizing")
        drain(fns, stack, stack.queues.orders, "execution")
        deps = build_deps()
        filled = deps.store.get("it-exits-1")
        assert filled.state.value == "FILLED" and filled.execution["exits"]["result"] == "accepted", filled
        assert filled.watching_exits  # FILLED, and in the sparse index's EXITING group for the monitor

        assert "it-exits-1" not in fns["monitor"].handler({"source": "aws.events"}, FakeContext())["changed"]
        admin(exchange_url, "price", {"symbol": "ETHUSDT", "price": plain(Decimal(start) * Decimal("1.05"))})
        changed: dict = {}
        for _ in range(3):  # the walk may need a run to come round to it
            changed.update(fns["monitor"].handler({"source": "aws.events"}, FakeContext())["changed"])
        assert changed.get("it-exits-1") == "EXITED"
        closed = deps.store.get("it-exits-1")
        assert closed.execution["exit_result"]["closed_by"] == "take_profit" and not closed.watching_exits
        assert closed.history[-1].stage == "monitor"
        audit = deps.audit.events("it-exits-1")
        assert [e.seq for e in audit] == list(range(1, len(closed.history) + 1))  # the exit is in the audit too
    finally:
        admin(exchange_url, "price", {"symbol": "ETHUSDT", "price": start})
