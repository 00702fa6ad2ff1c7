"""The bridge against a real nats-server (JetStream) and MiniStack SQS, as a process it can lose."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import urlparse

import nats
import pytest

from tests.integration.bridge.conftest import Names, TcpCut, drain_queue, signal_body

pytestmark = pytest.mark.integration


async def _publish(url: str, subject: str, payloads: list[tuple[bytes, str | None]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for data, msg_id in payloads:
        await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id} if msg_id else None, timeout=5)
    await nc.close()


def publish(url: str, subject: str, payloads: list[tuple[bytes, str | None]]) -> None:
    asyncio.run(_publish(url, subject, payloads))


def consumer_state(url: str, names: Names) -> dict[str, int]:
    async def run() -> dict[str, int]:
        nc = await nats.connect(url)
        info = await nc.jetstream().consumer_info(names.stream, names.durable)
        await nc.close()
        return {
            "ack_floor": info.ack_floor.stream_seq if info.ack_floor else 0,
            "pending": info.num_pending or 0,
            "ack_pending": info.num_ack_pending or 0,
        }

    return asyncio.run(run())


def test_every_signal_lands_in_sqs_exactly_once(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    bridge = start_bridge()
    bridge.wait_status("/readyz", 200)
    payloads: list[tuple[bytes, str | None]] = [(signal_body(i), f"sig-{i:05d}") for i in range(40)]
    payloads += [(signal_body(i), f"sig-{i:05d}") for i in range(5)]  # same Nats-Msg-Id: the stream drops them
    payloads += [(signal_body(i), f"again-{i}") for i in range(5, 10)]  # new msg id, same signal: SQS dedup drops them
    publish(nats_url, names.subject, payloads)

    bodies = drain_queue(sqs, queue_url, expect=40)

    counts = Counter(b["signal_id"] for b in bodies)
    assert set(counts) == {f"sig-{i:05d}" for i in range(40)}
    assert max(counts.values()) == 1, [sid for sid, n in counts.items() if n > 1]
    first = next(b for b in bodies if b["signal_id"] == "sig-00001")
    assert first["source"] == "nats"
    assert first["signal"]["symbol"] == "ETHUSDT" and first["signal"]["price"] == "45000.1"
    state = consumer_state(nats_url, names)
    assert state["pending"] == 0 and state["ack_pending"] == 0  # everything SQS took was acked
    _, text = bridge.probe("/metrics")
    assert 'tradeengine_nats_messages_processed_total{status="accepted"} 45.0' in str(text)
    assert "tradeengine_bridge_sqs_send_seconds_bucket" in str(text)


def test_request_reply_answers_with_the_ingest_result(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    bridge = start_bridge()
    bridge.wait_status("/readyz", 200)

    async def ask() -> list[dict[str, Any]]:
        nc = await nats.connect(nats_url)
        good = await nc.request(names.request_subject, signal_body(7), timeout=10)
        bad = await nc.request(
            names.request_subject, json.dumps({"symbol": "BTCUSDT", "signal_id": "x-1"}).encode(), timeout=10
        )
        await nc.close()
        return [json.loads(good.data), json.loads(bad.data)]

    good, bad = asyncio.run(ask())
    assert good == {"signal_id": "sig-00007", "state": "QUEUED", "duplicate": False, "errors": []}
    assert bad["signal_id"] == "x-1" and bad["state"] is None
    assert {e["field"] for e in bad["errors"]} >= {"strategy_id", "action", "price"}
    assert [b["signal_id"] for b in drain_queue(sqs, queue_url, expect=1)] == ["sig-00007"]


def test_sigkill_mid_batch_then_restart_loses_nothing(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    total = 300
    # One entry per call, one call at a time: slow enough to be caught in the middle.
    bridge = start_bridge(BRIDGE_SQS_BATCH="1", BRIDGE_MAX_IN_FLIGHT="1", BRIDGE_FETCH_BATCH="50")
    bridge.wait_status("/readyz", 200)
    publish(nats_url, names.subject, [(signal_body(i), f"sig-{i:05d}") for i in range(total)])
    deadline = time.monotonic() + 20
    while consumer_state(nats_url, names)["ack_floor"] < 20:
        assert time.monotonic() < deadline, bridge.log()
        time.sleep(0.02)
    bridge.kill()
    killed_at = consumer_state(nats_url, names)
    assert 0 < killed_at["ack_floor"] < total, killed_at  # really mid-stream
    assert killed_at["ack_pending"] > 0, killed_at  # and with delivered, un-acked messages

    start_bridge().wait_status("/readyz", 200)
    bodies = drain_queue(sqs, queue_url, expect=total, timeout=40)

    counts = Counter(b["signal_id"] for b in bodies)
    assert len(counts) == total  # nothing lost
    assert max(counts.values()) == 1  # redeliveries of what SQS already had were dropped by the dedup id


def test_sqs_outage_leaves_messages_unacked_and_they_flow_after(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str, ministack_endpoint: str
) -> None:
    link = TcpCut(int(urlparse(ministack_endpoint).port or 0))
    link.up()
    bridge = start_bridge(AWS_ENDPOINT_URL=link.url)
    bridge.wait_status("/readyz", 200)

    link.down()
    bridge.wait_status("/readyz", 503)  # readiness follows SQS
    _, body = bridge.probe("/readyz")
    assert "SQS unreachable" in body["problems"]
    publish(nats_url, names.subject, [(signal_body(i), f"sig-{i:05d}") for i in range(20)])
    time.sleep(3)
    assert (
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )
    during = consumer_state(nats_url, names)
    assert during["ack_floor"] == 0 and during["pending"] + during["ack_pending"] == 20, during
    assert bridge.probe("/livez")[0] == 200  # alive, just not ready

    link.up()
    bodies = drain_queue(sqs, queue_url, expect=20, timeout=30)
    counts = Counter(b["signal_id"] for b in bodies)
    assert len(counts) == 20 and max(counts.values()) == 1
    bridge.wait_status("/readyz", 200)
    link.down()


def test_malformed_payloads_are_dead_lettered_with_a_reason(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    bridge = start_bridge(BRIDGE_MAX_PAYLOAD_BYTES="4096")
    bridge.wait_status("/readyz", 200)
    bad = {
        "binary": b"\xff\xfe\x00\x01binary",
        "huge": signal_body(900, meta={"order_type": "market", "note": "x" * 8000}),
        "wrong types": json.dumps({**json.loads(signal_body(901)), "price": "a lot", "confidence": [1]}).encode(),
        "missing fields": json.dumps({"symbol": "BTCUSDT", "signal_id": "sig-00902"}).encode(),
        "not an object": b"[1, 2, 3]",
    }
    stale = signal_body(1, timestamp="2019-01-01T00:00:00Z")  # valid: sizing rejects it as STALE_SIGNAL

    async def run() -> list[dict[str, Any]]:
        nc = await nats.connect(nats_url)
        dead = await nc.subscribe(names.dead_subject)
        js = nc.jetstream()
        for data in bad.values():
            await js.publish(names.subject, data)
        await js.publish(names.subject, stale)
        await js.publish(names.subject, signal_body(2))
        letters = []
        for _ in bad:
            msg = await dead.next_msg(timeout=15)
            assert msg.headers and msg.headers.get("Petrosa-Reason")
            letters.append(json.loads(msg.data))
        await nc.close()
        return letters

    letters = asyncio.run(run())
    reasons = [letter["reason"] for letter in letters]
    assert any("not UTF-8" in r for r in reasons), reasons
    assert any("too large" in r for r in reasons), reasons
    assert any("price" in r and "confidence" in r for r in reasons), reasons
    assert any("strategy_id: Field required" in r for r in reasons), reasons
    assert any("not an object" in r for r in reasons), reasons
    assert all(letter["subject"] == names.subject and letter["stream_sequence"] for letter in letters)
    # the bridge kept running: the stale and the good signal after the bad ones both reached SQS
    assert {b["signal_id"] for b in drain_queue(sqs, queue_url, expect=2)} == {"sig-00001", "sig-00002"}
    assert bridge.probe("/readyz")[0] == 200
    state = consumer_state(nats_url, names)
    assert state["pending"] == 0 and state["ack_pending"] == 0  # terminated, not waiting for redelivery
    # each outcome counted where docs/BRIDGE.md says, the bridge's own /metrics (the API's has no such family)
    _, text = bridge.probe("/metrics")
    assert 'tradeengine_nats_messages_processed_total{status="invalid"} 5.0' in str(text)
    assert 'tradeengine_nats_messages_processed_total{status="accepted"} 2.0' in str(text)


def test_readiness_is_false_while_nats_is_unreachable(start_bridge: Any) -> None:
    from tests.integration.bridge.conftest import free_port

    bridge = start_bridge(NATS_SERVERS=f"nats://127.0.0.1:{free_port()}")
    bridge.wait_status("/livez", 200)
    status, body = bridge.probe("/readyz")
    assert status == 503 and "NATS unreachable" in body["problems"]


def test_sigterm_drains_and_exits_cleanly(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    bridge = start_bridge(BRIDGE_SQS_BATCH="2", BRIDGE_MAX_IN_FLIGHT="1")
    bridge.wait_status("/readyz", 200)
    publish(nats_url, names.subject, [(signal_body(i), f"sig-{i:05d}") for i in range(60)])
    deadline = time.monotonic() + 20
    while consumer_state(nats_url, names)["ack_floor"] < 5:
        assert time.monotonic() < deadline, bridge.log()
        time.sleep(0.02)
    assert bridge.stop() == 0
    assert "drained" in bridge.log()
    state = consumer_state(nats_url, names)
    assert state["ack_pending"] == 0, state  # every in-flight send settled before exit: nothing left hanging
