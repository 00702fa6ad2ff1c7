"""Malformed NATS payloads, mixed into a stream of valid signals, against the real bridge process.

Random bytes, huge bodies, JSON of the wrong shape, wrong types and missing fields (seeded, so a
failure replays) must each end on the dead-letter subject with a reason (body and ``Petrosa-Reason``
header) and never in SQS; every valid signal must reach SQS exactly once; and the bridge must move the
valid ones at a rate close to a clean run's (the bad ones cost a dead-letter publish each, not a stall).
An old timestamp is a valid signal (docs/BRIDGE.md): it reaches SQS and sizing rejects it STALE_SIGNAL.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import nats
import pytest

from tests.integration.bridge.conftest import Names, signal_body

pytestmark = pytest.mark.integration

FULL = int(os.environ.get("FUZZ_EXAMPLES", "15")) >= 80
VALID = 1000 if FULL else 200
BAD = 300 if FULL else 60
MIN_RATE_RATIO = 0.5  # with bad messages mixed in, the valid ones still flow at >= half the clean rate


def malformed(rng: random.Random, i: int) -> bytes:
    good = json.loads(signal_body(100_000 + i))
    kind = i % 6
    if kind == 0:  # random bytes, mostly not UTF-8
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) + b"\xff"
    if kind == 1:  # larger than BRIDGE_MAX_PAYLOAD_BYTES (64 KiB)
        return json.dumps(
            {**good, "meta": {"order_type": "market", "pad": "x" * (70_000 + rng.randint(0, 9000))}}
        ).encode()
    if kind == 2:  # wrong types
        field = rng.choice(["price", "confidence", "quantity", "action", "timestamp"])
        value = rng.choice([[1, 2], {"a": 1}, "lots"])
        return json.dumps({**good, field: value}).encode()
    if kind == 3:  # missing fields
        keep = rng.sample(sorted(good), rng.randint(0, 3))
        return json.dumps({k: good[k] for k in keep if k != "symbol"} | {"signal_id": good["signal_id"]}).encode()
    if kind == 4:  # JSON, but not an object
        return json.dumps(rng.choice([[good], "signal", 42, None, 1.5])).encode()
    return (json.dumps(good)[: rng.randint(1, 80)]).encode()  # truncated JSON


async def _run(nats_url: str, names: Names, payloads: list[bytes], expect_dead: int, timeout: float) -> list[Any]:
    nc = await nats.connect(nats_url)
    dead = await nc.subscribe(names.dead_subject)
    js = nc.jetstream()
    acks = [await js.publish_async(names.subject, p) for p in payloads]
    await asyncio.gather(*acks)
    letters = []
    deadline = time.monotonic() + timeout
    while len(letters) < expect_dead and time.monotonic() < deadline:
        try:
            letters.append(await dead.next_msg(timeout=1))
        except nats.errors.TimeoutError:
            continue
    await nc.close()
    return letters


def _drain(sqs: Any, url: str, expect: int, timeout: float) -> tuple[list[dict[str, Any]], float]:
    started, bodies = time.monotonic(), []
    deadline = started + timeout
    done_at = deadline
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120).get("Messages", [])
        if got:
            bodies += [json.loads(m["Body"]) for m in got]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(got)]
            )
            if len(bodies) >= expect:
                done_at = time.monotonic()
                time.sleep(1.0)  # anything beyond the expected would be a duplicate or a leaked bad one
                expect = 10**9
            continue
        if expect == 10**9:
            break
        time.sleep(0.05)
    return bodies, done_at - started


def test_malformed_payloads_are_dead_lettered_with_reasons_and_the_valid_keep_flowing(
    start_bridge: Any, nats_url: str, names: Names, sqs: Any, queue_url: str
) -> None:
    bridge = start_bridge(BRIDGE_ACK_WAIT_SECONDS="30")
    bridge.wait_status("/readyz", 200)
    rng = random.Random(7)

    clean = [signal_body(i) for i in range(VALID)]
    asyncio.run(_run(nats_url, names, clean, 0, 0))
    clean_bodies, clean_s = _drain(sqs, queue_url, VALID, 60)
    assert len(clean_bodies) == VALID

    valid = [signal_body(VALID + i, timestamp="2019-01-01T00:00:00Z" if i % 50 == 0 else "2026-11-25T12:00:00Z")
             for i in range(VALID)]  # fmt: skip
    bad = [malformed(rng, i) for i in range(BAD)]
    mixed = valid + bad
    rng.shuffle(mixed)
    started = time.monotonic()
    letters = asyncio.run(_run(nats_url, names, mixed, BAD, 60))
    bodies, mixed_s = _drain(sqs, queue_url, VALID, 60)
    mixed_s = max(mixed_s, time.monotonic() - started - 1.0) if len(letters) < BAD else mixed_s

    ids = [b["signal_id"] for b in bodies]
    assert len(ids) == len(set(ids)) == VALID, f"{len(ids)} bodies, {len(set(ids))} distinct, {VALID} valid sent"
    assert len(letters) == BAD, f"{len(letters)} dead letters for {BAD} malformed payloads"
    for msg in letters:
        letter = json.loads(msg.data)
        assert letter["reason"] and msg.headers and msg.headers.get("Petrosa-Reason"), letter
        assert letter["payload_bytes"] > 0 and letter["stream_sequence"]
    reasons = {json.loads(m.data)["reason"].split(":")[0] for m in letters}
    assert {"payload too large", "payload is not JSON", "invalid signal"} <= reasons, reasons
    clean_rate, mixed_rate = VALID / clean_s, VALID / mixed_s
    print(f"bridge: clean {clean_rate:.0f} valid msg/s, with {BAD} malformed mixed in {mixed_rate:.0f} valid msg/s")
    assert mixed_rate >= MIN_RATE_RATIO * clean_rate, (clean_rate, mixed_rate)
