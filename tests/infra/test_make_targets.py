"""The seed's make targets are all there, listed by `make help`, and the Docker ones say plainly what they need.

Runs make itself (dry runs and the no-Docker refusals start nothing)."""

from __future__ import annotations

import re
import shutil
import subprocess  # nosec B404 - runs make in this checkout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The original engine's targets, as its README named them, plus this project's two commands.
SEED_TARGETS = (
    "setup", "install", "install-dev", "lint", "test", "pipeline", "build", "run", "run-docker",
    "container", "deploy", "k8s-status", "k8s-logs", "monitor",
)  # fmt: skip

MAKE = shutil.which("make") or pytest.skip("make is not installed", allow_module_level=True)


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _listed() -> list[str]:
    done = _make("help")
    assert done.returncode == 0, done.stderr
    return re.findall(r"^make ([a-z0-9][a-z0-9-]*)", done.stdout, re.M)


def test_make_help_lists_every_seed_target() -> None:
    listed = _listed()
    assert [t for t in SEED_TARGETS if t not in listed] == []
    assert len(listed) == len(set(listed)), "each target is listed once"


def test_every_listed_target_exists() -> None:
    missing = [t for t in _listed() if _make("-n", t).returncode != 0]
    assert missing == [], f"make help lists targets make cannot run: {missing}"


@pytest.mark.parametrize("target", ["container", "run-docker"])
def test_docker_targets_say_plainly_that_docker_is_missing(target: str, tmp_path: Path) -> None:
    done = _make(target, f"DOCKER={tmp_path / 'docker'}")
    assert done.returncode == 2
    assert f"make {target} needs Docker" in done.stderr and "Without Docker:" in done.stderr


def test_ci_runs_make_test_and_nothing_else() -> None:
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines()[1:] if ln and not ln.startswith("#")]
    assert lines == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', "make test"]
