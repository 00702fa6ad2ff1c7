"""The strategy book end to end on the deployed laptop stack, through its public faces: the HTTP API, the
local exchange's admin price, the deployed monitor Lambda, the MongoDB audit trail and the CLI."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal as D
from typing import Any

import pytest
from pymongo import MongoClient

from local.stack.demo import Api
from local.stack.stack import Endpoints
from tests.integration.local_exchange.conftest import admin

pytestmark = pytest.mark.e2e


def _signal(strategy: str, **fields: Any) -> dict[str, Any]:
    body = {
        "signal_id": f"e2e-book-{uuid.uuid4().hex[:12]}",
        "strategy_id": strategy,
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": 45000.0,
        "quantity": 0.0,
        "confidence": 0.9,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "meta": {"order_type": "market"},
    }
    return {**body, **fields}


def _send(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api.call("POST", "/trade/signal?wait=20", body)
    assert status in (200, 202), answer
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = api.signal(body["signal_id"])
        if record and record["state"] in ("FILLED", "REJECTED", "FAILED", "OPEN"):
            return record
        time.sleep(0.25)
    raise AssertionError(f"{body['signal_id']} did not settle: {api.signal(body['signal_id'])}")


def _get(api: Api, path: str) -> Any:
    status, body = api.call("GET", path)
    assert status == 200, body
    return body


def _monitor(ends: Endpoints, api: Api, done: Any, timeout: float = 60) -> None:
    """Invoke the deployed monitor Lambda (as its schedule would) until ``done()``."""
    from tradeengine.stores import aws

    lam = aws.client("lambda", endpoint_url=ends.aws, region="us-east-1")
    event = json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = lam.invoke(FunctionName=ends.functions["MonitorFunction"], Payload=event)
        assert "FunctionError" not in reply, reply["Payload"].read()
        if done():
            return
        time.sleep(0.5)
    raise AssertionError("the monitor did not get there in time")


def _price(ends: Endpoints, symbol: str = "BTCUSDT") -> str:
    import urllib.request

    with urllib.request.urlopen(f"{ends.exchange}/api/v3/ticker/price?symbol={symbol}", timeout=5) as reply:
        return str(json.loads(reply.read())["price"])


def _hand_pnl(trades: list[dict[str, Any]], base: str = "BTC") -> D:
    """Realized PnL from GET /trades alone: average cost; fees in USDT (a BTC fee at its fill's price)."""
    held = cost = pnl = D(0)
    for t in sorted(trades, key=lambda t: (t["time_ms"], t["trade_id"])):
        price, qty, fee = D(t["price"]), D(t["qty"]), D(t["commission"])
        in_base = t["commission_asset"] == base
        if t["side"] == "BUY":
            got = qty - (fee if in_base else 0)
            held, cost = held + got, cost + got * price
        else:
            average = cost / held
            pnl += qty * (price - average)
            held, cost = held - qty, cost - qty * average
        pnl -= fee * price if in_base else fee
    return pnl


def test_a_take_profit_closes_the_position_with_the_hand_computed_pnl_and_one_win(
    local_stack: Endpoints, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    strategy = f"A{uuid.uuid4().hex[:8]}"
    meta = {"order_type": "market", "take_profit_pct": 3, "stop_loss_pct": 2}
    entry = _send(api, _signal(strategy, quantity=0.001, meta=meta))
    assert entry["state"] == "FILLED" and entry["exits_working"], entry
    (held,) = _get(api, f"/positions?strategy_id={strategy}")["positions"]
    assert D(held["quantity"]) > 0 and len(held["protected_by"]) == 2, held

    before = _price(local_stack)
    up = str(D(entry["execution"]["entry"]["avg_price"]) * D("1.04"))  # 4 % up: past the 3 % target
    admin(local_stack.exchange, "price", {"symbol": "BTCUSDT", "price": up})
    try:
        _monitor(local_stack, api, lambda: not api.signal(entry["signal_id"])["exits_working"])
    finally:
        admin(local_stack.exchange, "price", {"symbol": "BTCUSDT", "price": before})  # as the other tests expect

    (closed,) = _get(api, f"/positions?strategy_id={strategy}")["positions"]
    trades = _get(api, f"/trades?strategy_id={strategy}")["trades"]
    assert [(t["side"], t["role"]) for t in trades] == [("BUY", "entry"), ("SELL", "exit")], trades
    assert closed["quantity"] == "0" and closed["open"] is False
    assert D(closed["realized_pnl"]) == _hand_pnl(trades) and D(closed["realized_pnl"]) > 0
    perf = _get(api, f"/strategies/{strategy}/performance")
    assert (perf["trades"], perf["wins"], perf["losses"]) == (1, 1, 0), perf
    assert perf["realized_pnl"] == closed["realized_pnl"]

    from tradeengine.cli import main

    assert main(["performance", strategy, "--api", api.base, "--token", api.token, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wins"] == 1
    assert main(["positions", "--strategy", strategy, "--api", api.base, "--token", api.token, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positions"][0]["quantity"] == "0"
    assert main(["positions", "--strategy", strategy, "--api", api.base, "--token", api.token]) == 0
    assert strategy in capsys.readouterr().out  # the rich table


def test_two_strategies_close_their_own_quantity_and_a_close_cancels_the_exits_first(
    local_stack: Endpoints, api: Api
) -> None:
    a, b = f"A{uuid.uuid4().hex[:8]}", f"B{uuid.uuid4().hex[:8]}"
    bracket = {"order_type": "market", "take_profit_pct": 5, "stop_loss_pct": 5}
    assert _send(api, _signal(a, quantity=0.002, meta=bracket))["state"] == "FILLED"
    assert _send(api, _signal(b, quantity=0.001))["state"] == "FILLED"
    qty_a = _get(api, f"/positions?strategy_id={a}")["positions"][0]["quantity"]
    qty_b = _get(api, f"/positions?strategy_id={b}")["positions"][0]["quantity"]

    close_b = _send(api, _signal(b, action="close"))
    assert close_b["state"] == "FILLED", close_b
    sold = D(close_b["plan"]["order"]["quantity"])  # its own position (to the lot step), not the account's BTC
    assert sold <= D(qty_b) and D(qty_b) - sold < D("0.00001"), (sold, qty_b)
    assert _get(api, f"/positions?strategy_id={a}")["positions"][0]["quantity"] == qty_a

    close_a = _send(api, _signal(a, action="close"))  # right after a bracketed entry: the OCO locks the BTC
    assert close_a["state"] == "FILLED", (close_a.get("code"), close_a.get("reason"))
    assert close_a["execution"]["canceled_first"], close_a["execution"]
    for strategy in (a, b):
        (position,) = _get(api, f"/positions?strategy_id={strategy}")["positions"]
        assert position["quantity"] == "0" and position["protected_by"] == [], position


def test_flatten_leaves_no_working_order_and_no_position_and_audits_every_step(
    local_stack: Endpoints, api: Api
) -> None:
    a, b = f"F{uuid.uuid4().hex[:8]}", f"G{uuid.uuid4().hex[:8]}"
    assert _send(api, _signal(a, quantity=0.001, meta={"take_profit_pct": 5, "stop_loss_pct": 5}))["exits_working"]
    assert _send(api, _signal(b, quantity=0.002))["state"] == "FILLED"
    resting = _send(api, _signal(b, price=40000.0, quantity=0.001, meta={"order_type": "limit"}))
    assert resting["state"] == "OPEN", resting

    status, answer = api.call("POST", "/positions/flatten", {"strategy_id": a, "reason": "e2e"})
    assert status == 202, answer
    status, answer_b = api.call("POST", "/positions/flatten", {"strategy_id": b, "reason": "e2e"})
    assert status == 202, answer_b
    flattened = answer["positions"] + answer_b["positions"]
    assert {p["strategy_id"] for p in flattened} == {a, b}
    records = []
    for p in flattened:
        deadline = time.monotonic() + 60
        record = api.signal(p["signal_id"])
        while time.monotonic() < deadline and (record is None or record["state"] not in ("FILLED", "REJECTED")):
            time.sleep(0.25)
            record = api.signal(p["signal_id"])
        assert record and record["state"] == "FILLED", record
        records.append(record)
    _monitor(local_stack, api, lambda: api.signal(resting["signal_id"])["state"] == "CANCELED")

    for strategy in (a, b):
        for position in _get(api, f"/positions?strategy_id={strategy}")["positions"]:
            assert position["quantity"] == "0" and position["protected_by"] == [], position
    working = [s for s in _get(api, "/signals?state=OPEN")["signals"] if s["strategy_id"] in (a, b)]
    assert working == []
    client: MongoClient[dict[str, Any]] = MongoClient(local_stack.mongo, serverSelectionTimeoutMS=3000)
    try:
        events = client["petrosa"]["audit_events"]
        for record in records:
            states = [e["state"] for e in events.find({"signal_id": record["signal_id"]}).sort("seq", 1)]
            assert states == ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"], states
        fills = events.count_documents({"stage": "book", "signal_id": {"$regex": f"^fill:{b}:"}})
        assert fills >= 2  # the entry and the flatten's sell, each its own audit event
    finally:
        client.close()
