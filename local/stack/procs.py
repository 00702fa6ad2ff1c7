"""Background servers of the laptop stack: started detached, remembered by PID, stopped by that PID only.

Each server gets its own process group (``start_new_session``) so a wrapper such as ``uvx`` and the
server it spawns stop together when the group is signalled. A PID is trusted only while the process
it names still runs the command we started (its /proc cmdline), so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess  # nosec B404 - the stack starts its own local servers and build tools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=timeout):
        return True
    return False


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str], cwd: Path) -> int:
    """Start ``argv`` in its own session, output to ``log_path``; returns its PID (also its group id)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 (argv built by local.stack.services, no shell)
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc.pid


def _cmdline(pid: int) -> str:
    # Just after exec the kernel may show an empty cmdline for a moment: look again, briefly.
    for _ in range(20):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return ""
        if raw:
            return raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.025)
    return ""


def alive(pid: int | None, marker: str = "") -> bool:
    """True when ``pid`` runs and (if given) its command line contains ``marker``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if marker and Path("/proc").is_dir():
        cmd = _cmdline(pid)
        if not cmd or marker not in cmd:
            return False
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop(pid: int | None, marker: str = "", grace: float = 5.0) -> bool:
    """SIGTERM the process group led by ``pid``, then SIGKILL after ``grace`` seconds. True if it ran."""
    if not alive(pid, marker):
        return False
    assert pid is not None
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.1)
    return True


def wait_until(ready: Callable[[], bool], timeout: float, pid: int | None = None, interval: float = 0.2) -> bool:
    """Poll ``ready`` until it holds, the deadline passes, or the process ``pid`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if pid is not None and not alive(pid):
            return False
        time.sleep(interval)
    return ready()


def tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
