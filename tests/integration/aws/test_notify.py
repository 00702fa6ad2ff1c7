"""The notifier over real parts: its channels and delivered marks in DynamoDB (MiniStack), its requests
over HTTP to the local sink (local/sink.py, as Telegram, Discord, Slack and a signed webhook), a sink that
fails, and ``tradeengine notify`` as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tradeengine.notifications import Channel, verify_signature
from tradeengine.pipeline.notify import NotifyDeps, notify_message
from tradeengine.pipeline.size import RetryLater
from tradeengine.stores.channels import DynamoDBChannels, DynamoDBDelivered
from tradeengine.stores.http_out import UrllibSender

from contracts.events import EventKind, ExecutionEvent
from local.sink import serve
from tests.support import tables
from tests.support.memory import MemoryCounters

pytestmark = pytest.mark.integration
TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
SECRET = "whsec_0123456789abcdef0123"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sink() -> Iterator[str]:
    server, _ = serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def received(sink: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{sink}/received", timeout=5) as reply:
        return list(json.loads(reply.read()))


def fail_next(sink: str, status: int, count: int) -> None:
    req = urllib.request.Request(f"{sink}/_fail?status={status}&count={count}", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=5).close()


def fill_event() -> ExecutionEvent:
    fill = {"side": "BUY", "role": "entry", "price": "45000", "qty": "0.001", "quote_qty": "45", "signal_id": "s1"}
    return ExecutionEvent(
        event_id="fill:momentum_v1:BTCUSDT:paper#1#1:0",
        kind=EventKind.FILL,
        strategy_id="momentum_v1",
        symbol="BTCUSDT",
        signal_id="s1",
        seq=0,
        state="FILLED",
        at=datetime.now(UTC),
        mode="simulation",
        detail={"fill": fill},
    )


@pytest.fixture
def stores(ddb: Any, table_name: str) -> tuple[DynamoDBChannels, DynamoDBDelivered]:
    tables.control(ddb, f"{table_name}-control")
    tables.counters(ddb, f"{table_name}-counters")
    return (
        DynamoDBChannels(f"{table_name}-control", ddb_client=ddb),
        DynamoDBDelivered(f"{table_name}-counters", ddb_client=ddb),
    )


def every_type(sink: str) -> list[Channel]:
    topics = frozenset({"fills"})
    return [
        Channel("ch_tg", "telegram", "momentum_v1", topics, "-1001234567890", TOKEN),
        Channel("ch_dc", "discord", "*", topics, f"{sink}/discord/1/abc"),
        Channel("ch_sl", "slack", "momentum_v1", topics, f"{sink}/slack/T/B/x"),
        Channel("ch_wh", "webhook", "momentum_v1", topics, f"{sink}/mine", SECRET),
    ]


def test_one_fill_reaches_every_channel_type_over_http_once(sink: str, stores: Any) -> None:
    channels, delivered = stores
    for c in every_type(sink):
        assert channels.put(c, new=True)
    assert not channels.put(every_type(sink)[0], new=True)  # ids are never reused
    deps = NotifyDeps(channels, delivered, UrllibSender(), MemoryCounters(), telegram_api=f"{sink}/telegram")
    body = json.loads(fill_event().wire())
    assert set(notify_message(body, deps).sent) == {"ch_tg", "ch_dc", "ch_sl", "ch_wh"}
    assert set(notify_message(body, deps).already) == {"ch_tg", "ch_dc", "ch_sl", "ch_wh"}  # redelivered: nothing again
    got = {r["path"]: r for r in received(sink)}
    assert len(received(sink)) == 4
    assert got[f"/telegram/bot{TOKEN}/sendMessage"]["json"]["chat_id"] == "-1001234567890"
    assert "FILL BUY 0.001 @ 45000" in got["/discord/1/abc"]["json"]["content"]
    assert "FILL BUY 0.001 @ 45000" in got["/slack/T/B/x"]["json"]["text"]
    mine = got["/mine"]
    stamp, sig = mine["headers"]["x-petrosa-timestamp"], mine["headers"]["x-petrosa-signature"]
    assert verify_signature(SECRET, stamp, mine["body"].encode(), sig, datetime.now(UTC))


def test_a_sink_that_fails_or_is_gone_is_retried_and_one_that_refuses_is_told(sink: str, stores: Any) -> None:
    channels, delivered = stores
    channels.put(Channel("ch_wh", "webhook", "momentum_v1", frozenset({"fills"}), f"{sink}/mine", SECRET))
    deps = NotifyDeps(channels, delivered, UrllibSender(timeout_s=2), MemoryCounters(), retry_seconds=5)
    body = json.loads(fill_event().wire())
    fail_next(sink, 429, 1)
    with pytest.raises(RetryLater) as caught:
        notify_message(body, deps)
    assert caught.value.delay_s == 5  # Retry-After: 1 is shorter than the backoff
    fail_next(sink, 503, 1)
    with pytest.raises(RetryLater, match="HTTP 503"):
        notify_message(body, deps, receive_count=2)
    assert notify_message(body, deps, receive_count=3).sent == ("ch_wh",)
    gone = Channel("ch_gone", "webhook", "momentum_v1", frozenset({"fills"}), "http://127.0.0.1:9/x", SECRET)
    with pytest.raises(RetryLater, match=r"ch_gone \((no answer|\w*Error)\)"):
        notify_message(body, NotifyDeps(MemoryChannelsOf(gone), delivered, UrllibSender(1), MemoryCounters()))


class MemoryChannelsOf:
    def __init__(self, *channels: Channel) -> None:
        self._channels = list(channels)

    def active(self) -> list[Channel]:
        return self._channels


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tradeengine")  # the console script users run
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def test_the_notify_commands_add_list_test_and_remove_a_channel(
    sink: str, ddb: Any, table_name: str, stores: Any
) -> None:
    env = {
        **os.environ,
        "CONTROL_TABLE": f"{table_name}-control",
        "AWS_ENDPOINT_URL": ddb.meta.endpoint_url,
        "PYTHONPATH": f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}",
    }
    added = cli("notify", "add", "--strategy", "momentum_v1", "--type", "webhook", "--url", f"{sink}/mine",
                "--topics", "fills,exits", "--id", "wh_cli", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    secret = next(line.split()[-1] for line in added.stdout.splitlines() if "signing secret" in line)
    assert secret.startswith("whsec_")
    listed = cli("notify", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["channel_id"] for r in rows] == ["wh_cli"] and secret not in listed.stdout
    assert rows[0]["target"].endswith("/…") and "/mine" not in listed.stdout
    tested = cli("notify", "test", "wh_cli", env=env)
    assert tested.returncode == 0, tested.stderr + tested.stdout
    (mine,) = [r for r in received(sink) if r["path"] == "/mine"]
    assert verify_signature(secret, mine["headers"]["x-petrosa-timestamp"], mine["body"].encode(),
                            mine["headers"]["x-petrosa-signature"], datetime.now(UTC))  # fmt: skip
    bad = cli("notify", "add", "--strategy", "s", "--type", "slack", "--url", "http://example.com/x", env=env)
    assert bad.returncode == 2 and "https://" in bad.stderr
    assert cli("notify", "remove", "wh_cli", env=env).returncode == 0
    as_module = subprocess.run(  # `python -m tradeengine.cli` says the same sentence, no traceback
        [sys.executable, "-m", "tradeengine.cli", "notify", "remove", "wh_cli"], capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert as_module.returncode == 2 and "no channel 'wh_cli'" in as_module.stderr, as_module.stderr
    assert json.loads(cli("notify", "list", "--json", env=env).stdout) == []
