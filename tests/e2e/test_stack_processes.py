"""The stack's process handling, offline: a PID is signalled only while it still runs what we started."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from local.stack import procs


def test_stop_signals_only_the_process_it_started(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep
    pid = procs.spawn([sleep, "30"], tmp_path / "sleep.log", dict(os.environ), cwd=tmp_path)
    try:
        assert procs.alive(pid, "sleep")
        assert not procs.alive(pid, "ministack"), "a PID running something else is not ours"
        assert procs.stop(pid, "ministack") is False
        assert procs.alive(pid, "sleep"), "stop must not signal a process whose command line does not match"
        assert procs.stop(pid, "sleep", grace=2) is True
        assert not procs.alive(pid)
    finally:
        procs.stop(pid, "sleep", grace=1)


def test_a_free_port_is_free_on_loopback() -> None:
    port = procs.free_port()
    assert not procs.port_open(port)
