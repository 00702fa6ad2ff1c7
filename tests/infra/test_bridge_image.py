"""The bridge's image installs the `bridge` extra only, and the bridge needs nothing outside it.

No Docker here, so the image is checked by its parts: the Dockerfile installs exactly the locked
`bridge` extra; that set holds none of what only the Lambda functions use; and the bridge, run as the
image runs it (PYTHONPATH=/app:/app/layers/core), imports nothing from outside that set while it starts,
decodes a signal and builds its SQS client: a probe process refuses to import any package the image lacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ONLY = {"fastapi", "mangum", "python-binance", "pymongo", "aws-lambda-powertools", "pyjwt", "starlette"}

_PROBE = """
import importlib.abc, importlib.metadata, json, re, sys
from datetime import UTC, datetime

ALLOWED = set(json.loads(sys.argv[1]))
LOCAL = {"contracts", "tradeengine", "functions"}
OWNERS = importlib.metadata.packages_distributions()


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class OnlyTheImage(importlib.abc.MetaPathFinder):
    # What the image does not install cannot be imported here either (optional imports then fall back).
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top.startswith("_") or top in LOCAL or top == "cython_runtime":
            return None
        if not {norm(d) for d in OWNERS.get(top, [top])} & ALLOWED:
            raise ModuleNotFoundError(f"not in the bridge image: {top}", name=name)
        return None


sys.meta_path.insert(0, OnlyTheImage())
import functions.bridge.__main__
from functions.bridge.decode import Entry, decode
from functions.bridge.settings import BridgeSettings
from functions.bridge.sqs import SqsSender

signal = {"strategy_id": "s", "symbol": "BTCUSDT", "action": "buy", "price": 1, "quantity": 0, "confidence": 0.9,
          "timestamp": datetime.now(UTC).isoformat(), "signal_id": "probe-1"}
assert isinstance(decode(json.dumps(signal).encode(), datetime.now(UTC), 65536), Entry)
SqsSender(BridgeSettings(signals_queue_url="http://127.0.0.1:9/000000000000/signals.fifo"))
print("bridge started within its image's packages")
"""


def _locked_bridge_set() -> set[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    text = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--extra",
            "bridge",
            "--no-emit-project",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {re.sub(r"[-_.]+", "-", m.group(1)).lower() for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", text, re.M)}


def test_the_image_installs_the_locked_bridge_extra() -> None:
    dockerfile = (ROOT / "functions" / "bridge" / "Dockerfile").read_text()
    assert "uv export --frozen --no-dev --extra bridge --no-emit-project" in dockerfile
    assert "--extra runtime" not in dockerfile


def test_the_bridge_set_leaves_out_what_only_the_functions_use() -> None:
    locked = _locked_bridge_set()
    assert {"boto3", "nats-py", "prometheus-client", "pydantic-settings"} <= locked
    assert not locked & LAMBDA_ONLY


def test_the_bridge_starts_with_only_its_set_importable() -> None:
    """The dev environment holds every package; the probe refuses to import any the image lacks."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    allowed = json.dumps(sorted(_locked_bridge_set()))
    done = subprocess.run([sys.executable, "-c", _PROBE, allowed], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "bridge started within its image's packages" in done.stdout

    no_nats = json.dumps(sorted(_locked_bridge_set() - {"nats-py"}))  # the probe must be able to fail
    without_nats = subprocess.run(
        [sys.executable, "-c", _PROBE, no_nats], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert without_nats.returncode != 0 and "not in the bridge image: nats" in without_nats.stderr
