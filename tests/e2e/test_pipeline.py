"""End to end on the deployed laptop stack, through its public faces only: the HTTP API, NATS, and what a
user reads back (GET /signals, the MongoDB audit trail, /metrics, the exchange's own book)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from pymongo import MongoClient

from local.stack import demo
from local.stack.demo import EXAMPLES, Api, Result
from local.stack.stack import Endpoints

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def examples(local_stack: Endpoints, api: Api) -> list[Result]:
    """The seed's examples, each sent once through the HTTP API and once through NATS, waited for."""
    results = demo.send(api, local_stack)
    demo.wait(api, results, timeout=120)
    return results


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(api: Api) -> str:
    status, body = api.call("GET", "/metrics")
    assert status == 200, body
    return str(body)


def test_every_example_reaches_its_expected_state_through_both_paths(examples: list[Result]) -> None:
    table = [(r.example.label, r.path, r.state, r.example.expect) for r in examples]
    assert {r.path for r in examples} == {"http", "nats"}
    assert len(examples) == 2 * len(EXAMPLES)
    assert all(r.ok for r in examples), table


def test_the_engines_share_of_each_latency_and_ministacks_dispatch_beside_it(
    local_stack: Endpoints, examples: list[Result]
) -> None:
    """make demo's latency column: each stage's own time (took_ms) from the deployed functions' records, and
    MiniStack's dispatch of an empty batch, measured beside, so the engine's share is visible."""
    for r in examples:
        if r.example.expect != "FILLED":
            continue
        stages = {step["stage"] for step in r.record["history"] if step.get("took_ms") is not None}
        # a NATS signal's first stage is sizing (it records it); an HTTP one's is the API's ingest
        wanted = {"ingest", "sizing", "execution"} if r.path == "http" else {"sizing", "execution"}
        assert wanted <= stages, r.record["history"]
        own = demo.engine_ms(r.record)
        assert own is not None and 0 <= own < (r.seen_at - r.sent_at) * 1000, (own, r.seen_at, r.sent_at)  # type: ignore[operator]
    dispatch = demo.dispatch_ms(local_stack, runs=3)
    assert set(dispatch) == {"SizingFunction", "ExecutionFunction"} and all(ms > 0 for ms in dispatch.values())
    assert "median of" in demo.dispatch_line(dispatch)


def test_market_examples_are_sized_to_the_dynamic_minimum_and_filled_with_fees(examples: list[Result]) -> None:
    for r in examples:
        if r.example.expect != "FILLED":
            continue
        order = r.record["plan"]["order"]
        entry = r.record["execution"]["entry"]
        assert order["type"] == "MARKET" and order["side"] == "BUY", order
        notional = float(order["quantity"]) * float(r.example.fields["price"])
        assert 5 <= notional <= 20, f"{r.example.label}: {order['quantity']} is not a minimum-sized order"
        assert entry["status"] == "FILLED" and float(entry["executed_qty"]) == float(order["quantity"])
        assert entry["avg_price"] and entry["commission"], entry


def test_limit_with_brackets_rests_open_with_its_stop_loss_and_take_profit(examples: list[Result]) -> None:
    limits = [r for r in examples if r.example.expect == "OPEN"]
    assert limits
    for r in limits:
        plan = r.record["plan"]
        assert plan["order"]["type"] == "LIMIT"
        brackets = plan["brackets"]
        stop_loss, take_profit = brackets["stop_loss"], brackets["take_profit"]
        assert float(stop_loss["stop_price"] or stop_loss["price"]) < 44900 < float(take_profit["price"]), brackets
        assert r.record["execution"]["entry"]["status"] == "NEW", r.record["execution"]


def test_each_signal_has_its_audit_trail_in_mongodb(local_stack: Endpoints, examples: list[Result]) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(local_stack.mongo, serverSelectionTimeoutMS=3000)
    try:
        audit = client["petrosa"]["audit_events"]
        for r in examples:
            events = list(audit.find({"signal_id": r.signal_id}).sort("seq", 1))
            states = [str(e.get("state")) for e in events]
            assert "SIZED" in states and r.state in states, (r.signal_id, states)
            assert [e["seq"] for e in events] == sorted({e["seq"] for e in events}), "one event per step"
    finally:
        client.close()


def test_counters_appear_on_metrics(api: Api, examples: list[Result]) -> None:
    text = _metrics(api)
    filled = sum(1 for r in examples if r.state == "FILLED")
    assert _metric(text, "tradeengine_trades_total", status="filled", type="market") >= filled, text[:2000]
    assert "tradeengine_latency_seconds_bucket" in text


def _book_orders(local_stack: Endpoints, client_order_id: str) -> int:
    from tradeengine.stores import aws

    ddb = aws.client("dynamodb", endpoint_url=local_stack.aws, region="us-east-1")
    table = next(t for t in ddb.list_tables()["TableNames"] if "PaperBook" in t)
    total = 0
    for item in ddb.scan(TableName=table, ConsistentRead=True)["Items"]:
        import zlib

        raw = zlib.decompress(item["state_z"]["B"]).decode() if "state_z" in item else item["state"]["S"]
        total += sum(1 for o in json.loads(raw).get("orders", []) if o.get("client_order_id") == client_order_id)
    return total


def test_the_same_signal_sent_five_times_and_redelivered_places_exactly_one_order(
    local_stack: Endpoints, api: Api, examples: list[Result]
) -> None:
    before = _metric(_metrics(api), "tradeengine_trades_total", status="filled", type="market")
    sid = f"e2e-dup-{uuid.uuid4().hex[:10]}"
    body = demo.signal_body(EXAMPLES[0], sid)
    answers = [api.call("POST", "/trade/signal", body) for _ in range(5)]
    assert [status for status, _ in answers] == [202] * 5, answers
    assert [a["duplicate"] for _, a in answers] == [False, True, True, True, True]
    demo.publish_nats(local_stack.nats, [body])  # the same signal again, from the other face

    deadline = time.monotonic() + 60
    record = None
    while time.monotonic() < deadline:
        record = api.signal(sid)
        if record and record["state"] == "FILLED":
            break
        time.sleep(0.25)
    assert record and record["state"] == "FILLED", record

    # SQS redelivers a message (a new MessageDeduplicationId, as after the 5-minute window): still one order.
    from tradeengine.stores import aws

    sqs = aws.client("sqs", endpoint_url=local_stack.aws, region="us-east-1")
    queue = next(u for u in sqs.list_queues()["QueueUrls"] if u.endswith("-signals.fifo"))
    message = {"signal_id": sid, "source": "api", "received_at": record["created_at"], "signal": record["signal"]}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message), MessageGroupId="BTCUSDT",
                     MessageDeduplicationId=f"{sid}-redelivered")  # fmt: skip
    time.sleep(5)  # the sizing function's ESM polls every second; the replay must change nothing

    final = api.signal(sid)
    assert final is not None and final["state"] == "FILLED"
    submitted = [h for h in final["history"] if h["state"] == "SUBMITTED"]
    assert len(submitted) <= 1, final["history"]
    assert _book_orders(local_stack, final["execution"]["entry"]["client_order_id"]) == 1
    after = _metric(_metrics(api), "tradeengine_trades_total", status="filled", type="market")
    assert after - before == 1


def test_the_deployed_monitor_follows_exits_until_the_take_profit_closes_the_position(
    local_stack: Endpoints, api: Api, examples: list[Result]
) -> None:
    """A market buy with SL/TP fills, its exits work at the exchange, the price passes the target, and the
    monitor Lambda deployed in MiniStack (invoked as its schedule would) records which leg closed it."""
    from tradeengine.stores import aws

    from tests.integration.local_exchange.conftest import admin

    sid = f"e2e-exits-{uuid.uuid4().hex[:10]}"
    body = {**demo.signal_body(EXAMPLES[0], sid), "symbol": "ETHUSDT", "price": 3000.0, "quantity": 0.01}
    body["meta"] = {"order_type": "market", "stop_loss_pct": 2, "take_profit_pct": 3}
    status, answer = api.call("POST", "/trade/signal", body)
    assert status == 202, answer
    deadline, record = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        record = api.signal(sid)
        if record and record["state"] == "FILLED":
            break
        time.sleep(0.25)
    assert record and record["state"] == "FILLED" and record["exits_working"] is True, record
    assert record["execution"]["exits"]["result"] == "accepted"

    lam = aws.client("lambda", endpoint_url=local_stack.aws, region="us-east-1")
    monitor = local_stack.functions["MonitorFunction"]
    event = json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}).encode()
    admin(local_stack.exchange, "price", {"symbol": "ETHUSDT", "price": "3150"})  # 5 % up: past the 3 % target
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = lam.invoke(FunctionName=monitor, Payload=event)
            assert "FunctionError" not in reply, reply["Payload"].read()
            record = api.signal(sid)
            if record and not record["exits_working"]:
                break
            time.sleep(0.5)
    finally:
        admin(local_stack.exchange, "price", {"symbol": "ETHUSDT", "price": "3000"})
    assert record is not None and record["exits_working"] is False, record
    assert record["state"] == "FILLED" and record["execution"]["exit_result"]["closed_by"] == "take_profit"
    assert record["history"][-1]["stage"] == "monitor"
