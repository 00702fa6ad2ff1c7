"""`make bench-bridge`: 10,000 signals NATS → bridge → SQS FIFO against local servers, beside raw SendMessageBatch.

Both figures come from the same run, the same MiniStack, the same client settings and the same number of
calls in flight from one process: ``sqs_raw_msgs_per_s`` is what SendMessageBatch alone achieves,
``bridge_msgs_per_s`` is what the bridge moves (fetch, validate, send, ack) from a pre-filled stream.
Every message is then read back from SQS to count the lost and the duplicated, by signal id.
Loopback only; bounded in time (BENCH_BRIDGE_TIMEOUT seconds for the bridge phase).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

COUNT = int(os.environ.get("BENCH_BRIDGE_COUNT", "10000"))
TIMEOUT_S = float(os.environ.get("BENCH_BRIDGE_TIMEOUT", "180"))
IN_FLIGHT = 8
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT")
MINISTACK = "ministack==1.5.33"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench-bridge: {what} did not come up in {timeout:.0f}s")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ministack_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_ministack/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes], group: bool = False) -> None:
    if proc.poll() is not None:
        return
    if group:
        os.killpg(proc.pid, 15)
    else:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, 9)
        else:
            proc.kill()
        proc.wait(timeout=10)


def _body(i: int, run: str) -> bytes:
    return json.dumps(
        {
            "strategy_id": "bench",
            "symbol": SYMBOLS[i % len(SYMBOLS)],
            "action": "buy",
            "price": "45000.1",
            "confidence": "0.9",
            "timestamp": "2026-11-25T12:00:00Z",
            "signal_id": f"{run}-{i:06d}",
        }
    ).encode()


def raw_baseline(sqs: Any, url: str, run: str) -> float:
    """SendMessageBatch alone: the same bodies the bridge would send, IN_FLIGHT calls at once."""
    batches = [
        [
            {
                "Id": str(j),
                "MessageBody": _body(i, run).decode(),
                "MessageGroupId": SYMBOLS[i % len(SYMBOLS)],
                "MessageDeduplicationId": f"{run}-{i:06d}",
            }
            for j, i in enumerate(range(start, min(start + 10, COUNT)))
        ]
        for start in range(0, COUNT, 10)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        failed = sum(
            len(r.get("Failed", []))
            for r in pool.map(lambda e: sqs.send_message_batch(QueueUrl=url, Entries=e), batches)
        )
    elapsed = time.perf_counter() - started
    if failed:
        raise SystemExit(f"bench-bridge: raw baseline had {failed} failed entries")
    return COUNT / elapsed


def read_back(sqs: Any, url: str, expect: int, timeout: float) -> Counter[str]:
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + timeout

    def one(_: int) -> int:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120).get("Messages", [])
        for m in got:
            seen[json.loads(m["Body"])["signal_id"]] += 1
        if got:
            entries = [{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return len(got)

    empty_rounds = 0
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        while time.monotonic() < deadline and empty_rounds < 3:
            got = sum(pool.map(one, range(IN_FLIGHT)))
            empty_rounds = empty_rounds + 1 if got == 0 and len(seen) >= expect else 0
            if got == 0:
                time.sleep(0.2)
    return seen


async def bridge_run(nats_url: str, queue_url: str, run: str) -> float:
    import nats

    from functions.bridge.service import Bridge
    from functions.bridge.settings import BridgeSettings

    settings = BridgeSettings(
        nats_servers=nats_url,
        nats_signal_subject=f"bench.{run}",
        nats_stream=f"BENCH_{run}",
        nats_durable=f"bench-{run}",
        nats_dead_letter_subject=f"bench.{run}.dead",
        nats_dead_letter_stream=f"BENCH_DEAD_{run}",
        signals_queue_url=queue_url,
        bridge_max_in_flight=IN_FLIGHT,
        bridge_max_ack_pending=COUNT,
    )
    # The bridge creates its stream; start it once idle to do so, then fill the stream, then time the drain.
    bridge = Bridge(settings)
    task = asyncio.create_task(bridge.run())
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    while True:
        try:
            await js.stream_info(settings.nats_stream)
            break
        except Exception:
            await asyncio.sleep(0.05)
    bridge.stop()
    await task
    acks = [await js.publish_async(settings.nats_signal_subject, _body(i, run)) for i in range(COUNT)]
    await asyncio.gather(*acks)

    bridge = Bridge(settings)
    started = time.perf_counter()
    task = asyncio.create_task(bridge.run())
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        info = await js.consumer_info(settings.nats_stream, settings.nats_durable)
        if info.ack_floor and info.ack_floor.stream_seq >= COUNT:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    bridge.stop()
    await task
    await nc.close()
    return COUNT / elapsed


def main() -> None:
    os.environ.update(AWS_ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    nats_bin = Path(sys.executable).parent / "nats-server"
    nats_port, aws_port = _port(), _port()
    nats_proc = subprocess.Popen(
        [str(nats_bin) if nats_bin.exists() else "nats-server", "-js", "-a", "127.0.0.1", "-p", str(nats_port),
         "-sd", str(work / "js")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    uvx = [shutil.which("uvx") or "uvx"]
    env = {**os.environ, "GATEWAY_PORT": str(aws_port), "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
           "TMPDIR": str(work)}  # fmt: skip
    aws_proc = subprocess.Popen(
        [*uvx, "--from", MINISTACK, "ministack"],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # uv and the server it spawns stop together
    )
    aws_url = f"http://127.0.0.1:{aws_port}"
    try:
        _wait(lambda: _listening(nats_port), "nats-server", 20)
        _wait(lambda: _ministack_up(aws_url), "MiniStack")
        os.environ["AWS_ENDPOINT_URL"] = aws_url
        import boto3
        from botocore.config import Config

        sqs = boto3.client("sqs", config=Config(max_pool_connections=IN_FLIGHT + 2))
        run = uuid.uuid4().hex[:8]
        raw_q = sqs.create_queue(QueueName=f"raw-{run}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        bridge_q = sqs.create_queue(QueueName=f"bridge-{run}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

        raw = raw_baseline(sqs, raw_q, run)
        rate = asyncio.run(bridge_run(f"nats://127.0.0.1:{nats_port}", bridge_q, run))
        seen = read_back(sqs, bridge_q, COUNT, timeout=120)
        expected = {f"{run}-{i:06d}" for i in range(COUNT)}
        lost = len(expected - set(seen))
        duplicates = sum(n - 1 for n in seen.values() if n > 1)
        print(f"BENCH bridge_msgs_per_s={rate:.0f} bridge_lost={lost} bridge_duplicates={duplicates}")
        print(f"BENCH sqs_raw_msgs_per_s={raw:.0f}")
        print(f"BENCH bridge_vs_raw_pct={100 * rate / raw:.0f}")
    finally:
        _stop(nats_proc)
        _stop(aws_proc, group=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
