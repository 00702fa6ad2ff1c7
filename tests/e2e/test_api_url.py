"""The HTTP API where the seed's users look for it: http://127.0.0.1:${API_PORT:-8000}, no Host header.

The session's stack serves it on a free port (API_PORT=0, see conftest) so a `make run` on 8000 is left
alone; the README's block is run with that one substitution, and with this stack's key file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess  # nosec B404 - runs the README's own shell block
import urllib.request
from pathlib import Path

import pytest

from local.stack import services, stack
from local.stack.state import stack_dir

ROOT = Path(__file__).resolve().parents[2]
README_URL = f"http://127.0.0.1:{services.DEFAULT_API_PORT}"


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.status, reply.headers.get("content-type", ""), reply.read().decode()


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Send a signal", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "README's 'Send a signal' section has no bash block"
    return match.group(1)


def test_the_api_answers_on_loopback_with_docs_metrics_and_its_own_health(local_stack: stack.Endpoints) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", local_stack.api), local_stack.api
    status, kind, body = _get(f"{local_stack.api}/health")
    assert status == 200
    assert json.loads(body)["mode"] == "simulation", "the API's /health, not the emulator's"
    status, kind, body = _get(f"{local_stack.api}/docs")
    assert (status, kind.split(";")[0]) == (200, "text/html") and "swagger" in body.lower()
    status, kind, body = _get(f"{local_stack.api}/openapi.json")  # what /docs loads, from the same origin
    assert status == 200 and "/trade/signal" in json.loads(body)["paths"]
    status, kind, body = _get(f"{local_stack.api}/metrics")
    assert status == 200 and "# TYPE tradeengine_" in body


def test_the_readme_curl_example_is_accepted_through_that_url(local_stack: stack.Endpoints) -> None:
    curl = shutil.which("curl") or pytest.skip("curl is not installed")
    block = _readme_block()
    assert f"{README_URL}/trade/signal" in block, "the README sends to the URL the stack serves by default"
    key_file = os.path.relpath(stack_dir() / "jwt-secret", ROOT)
    script = block.replace(README_URL, local_stack.api).replace(".local-stack/jwt-secret", key_file)
    script = script.replace("curl -s ", f"{curl} -s -w '\\n%{{http_code}}' ", 1)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    body, code = done.stdout.rsplit("\n", 1)
    assert code == "202", done.stdout
    reply = json.loads(body)
    assert reply["status"] == "QUEUED" and reply["signal_id"].startswith("sig-")
    assert reply["status_url"] == f"/signals/{reply['signal_id']}"
