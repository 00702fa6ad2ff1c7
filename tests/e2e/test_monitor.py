"""`make monitor` on the session's stack: a filled signal shows in its counts, its fills and its queues."""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs the monitor as `make monitor` does
import sys
import uuid
from pathlib import Path

from rich.console import Console

from local.stack import demo, monitor, stack
from local.stack.demo import Api

ROOT = Path(__file__).resolve().parents[2]


def test_the_monitor_shows_a_filled_signal_its_fill_and_every_queue(local_stack: stack.Endpoints, api: Api) -> None:
    [result] = demo.send(api, local_stack, demo.EXAMPLES[:1], tag=f"mon-{uuid.uuid4().hex[:6]}")[:1]
    demo.wait(api, [result])
    assert result.state == "FILLED", result.record

    target = monitor.laptop_target()
    assert target.api == local_stack.api
    snap = monitor.snapshot(target)
    assert snap.problems == []
    assert snap.states_source.startswith("GET /signals")
    assert snap.states["FILLED"] >= 1
    assert result.signal_id in {f["signal_id"] for f in snap.fills}, snap.fills_note
    assert set(snap.queues) == {"signals", "orders", "signals DLQ", "orders DLQ"}
    assert all(isinstance(depth, dict) for depth in snap.queues.values()), snap.queues

    console = Console(record=True, width=80)
    console.print(monitor.render(snap, target))
    text = console.export_text()
    for line in ("Signals by state", "Queues", "signals DLQ", "Recent fills", "Errors"):
        assert line in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_monitor_once_prints_one_snapshot_and_exits(local_stack: stack.Endpoints) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local.stack.monitor", "--once"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert local_stack.api in done.stdout and "orders DLQ" in done.stdout
