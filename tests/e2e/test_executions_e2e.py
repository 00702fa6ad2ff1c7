"""Execution events on the laptop stack: a signal posted to the deployed HTTP API fills, and a JetStream
subscriber on executions.> (the stack's nats-server) receives its events in order — the deployed functions
publish to the ExecutionEventsTopic (MiniStack SNS FIFO), the queue subscribed to it feeds the bridge,
the bridge publishes on executions.<strategy>.<symbol> with Nats-Msg-Id = the event id."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import nats
import pytest

from local.stack.demo import Api
from local.stack.stack import Endpoints

pytestmark = pytest.mark.e2e

STEPS = ["RECEIVED", "QUEUED", "SIZED", "SUBMITTED", "FILLED"]


async def _events_of(nats_url: str, signal_id: str, started: asyncio.Event, timeout_s: float) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    deadline = time.monotonic() + timeout_s
    while True:  # the bridge creates the stream EXECUTIONS when it starts
        try:
            await js.stream_info("EXECUTIONS")
            break
        except nats.js.errors.NotFoundError:
            assert time.monotonic() < deadline, "the bridge made no EXECUTIONS stream"
            await asyncio.sleep(0.2)
    sub = await js.subscribe("executions.>", stream="EXECUTIONS", ordered_consumer=True)
    started.set()
    got: list[dict[str, Any]] = []
    try:
        while time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=max(0.1, deadline - time.monotonic()))
            except nats.errors.TimeoutError:
                break
            body = json.loads(msg.data)
            if body.get("signal_id") == signal_id:
                got.append({"subject": msg.subject, "msg_id": (msg.headers or {}).get("Nats-Msg-Id"), **body})
                states = [g["state"] for g in got if g["kind"] == "signal.state"]
                if states[-1:] in (["REJECTED"], ["FAILED"]) or (
                    states == STEPS and any(g["kind"] == "fill" for g in got)
                ):
                    break
    finally:
        await nc.close()
    return got


def test_a_signals_events_reach_a_nats_subscriber_in_order(local_stack: Endpoints, api: Api) -> None:
    signal_id = f"e2e-events-{uuid.uuid4().hex[:10]}"
    body = {
        "signal_id": signal_id,
        "strategy_id": "momentum_v1",
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": 45000.0,  # the laptop stack's BTCUSDT price (local.stack.services.EXCHANGE_PRICES)
        "quantity": 0.0,
        "confidence": 0.9,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "meta": {"order_type": "market"},
    }

    async def run() -> list[dict[str, Any]]:
        started = asyncio.Event()
        task = asyncio.create_task(_events_of(local_stack.nats, signal_id, started, 90))
        await started.wait()
        status, answer = await asyncio.to_thread(api.call, "POST", "/trade/signal", body)
        assert status in (200, 202), answer
        return await task

    started = time.monotonic()
    got = asyncio.run(run())
    seconds = time.monotonic() - started
    steps = [g for g in got if g["kind"] == "signal.state"]
    assert [g["state"] for g in steps] == STEPS, [(g["state"], g["code"], g["reason"]) for g in steps]
    assert [g["seq"] for g in steps] == [1, 2, 3, 4, 5]  # in order, each once
    assert all(g["msg_id"] == g["event_id"] for g in got)  # JetStream's dedup id
    assert {g["subject"] for g in steps} == {"executions.momentum_v1.BTCUSDT"}
    (fill,) = [g for g in got if g["kind"] == "fill"]
    assert isinstance(fill["detail"]["fill"]["price"], str)
    print(f"\nsignal posted to its FILLED event on NATS: {seconds:.1f}s")
