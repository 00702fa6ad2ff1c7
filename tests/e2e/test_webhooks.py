"""TradingView webhooks end to end on the laptop stack: a hook made with ``tradeengine hook create``, an
alert posted as TradingView posts it (text/plain, no bearer token), read back only through public faces."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.stack.demo import Api
from local.stack.stack import Endpoints

pytestmark = pytest.mark.e2e


def _tradeengine(*args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tradeengine")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def hook(local_stack: Endpoints, api: Api) -> dict[str, Any]:
    # The API function's first request is its cold start (~10 s in MiniStack, which spawns a worker and
    # imports the layer); TradingView's 3 s are measured on a warm function, as it runs when alerts flow.
    started = time.monotonic()
    assert api.call("GET", "/health")[0] == 200
    print(f"\nAPI function cold start (first request): {time.monotonic() - started:.1f}s")
    made = _tradeengine("hook", "create", "--strategy", "tv_e2e", "--api", local_stack.api, "--json")
    assert made.returncode == 0, made.stderr
    return dict(json.loads(made.stdout))


def post_alert(url: str, text: str) -> tuple[int, Any, float]:
    """POST as TradingView does: the message as text/plain, no Authorization header."""
    request = urllib.request.Request(url, data=text.encode(), method="POST", headers={"content-type": "text/plain"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw), time.monotonic() - started


def alert_text(passphrase: str, price: str = "45000") -> str:
    # TradingView's message after it filled {{exchange}}:{{ticker}}, {{strategy.order.action}}, ... in
    return json.dumps({"passphrase": passphrase, "symbol": "BINANCE:BTCUSDT", "action": "buy",
                       "quantity": "0", "price": price})  # fmt: skip


def wait_state(api: Api, signal_id: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = api.signal(signal_id)
        if record and record["state"] in states:
            return record
        time.sleep(0.25)
    raise AssertionError(f"{signal_id} did not reach {states}: {record}")


def _metric(api: Api, name: str, **labels: str) -> float:
    status, text = api.call("GET", "/metrics")
    assert status == 200
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_tradingview_alert_as_text_plain_fills_and_its_retry_places_no_second_order(
    api: Api, hook: dict[str, Any]
) -> None:
    text = alert_text(hook["passphrase"], price="45000.5")
    status, first, seconds = post_alert(hook["url"], text)
    assert status == 202 and first["duplicate"] is False, first
    assert seconds < 3, f"answered in {seconds:.2f}s; TradingView gives up after about 3 s"
    print(f"\nwebhook answered 202 in {seconds * 1000:.0f} ms")
    retry_status, retry, _ = post_alert(hook["url"], text)  # TradingView retrying
    assert retry_status == 202 and retry["duplicate"] is True and retry["signal_id"] == first["signal_id"], retry
    record = wait_state(api, first["signal_id"], {"FILLED", "REJECTED", "FAILED"})
    assert record["state"] == "FILLED", record
    assert record["source"] == "webhook" and record["strategy_id"] == "tv_e2e"
    assert hook["passphrase"] not in json.dumps(record)
    assert len([h for h in record["history"] if h["state"] == "SUBMITTED"]) == 1
    again_status, again, _ = post_alert(hook["url"], text)  # after the fill: still the same signal
    assert again_status == 202 and again["duplicate"] is True and again["status"] == "FILLED"


def test_a_wrong_passphrase_is_refused_with_no_detail_and_counted(api: Api, hook: dict[str, Any]) -> None:
    before = _metric(api, "tradeengine_webhook_requests_total", result="unauthorized")
    status, body, _ = post_alert(hook["url"], alert_text(hook["passphrase"] + "x"))
    assert status == 401 and body == {"error": {"code": "unauthorized", "message": "unauthorized", "details": []}}
    assert _metric(api, "tradeengine_webhook_requests_total", result="unauthorized") == before + 1


def test_a_perpetual_ticker_is_refused_by_name(hook: dict[str, Any]) -> None:
    text = alert_text(hook["passphrase"]).replace("BINANCE:BTCUSDT", "BINANCE:BTCUSDT.P")
    status, body, _ = post_alert(hook["url"], text)
    assert status == 422 and body["error"]["details"][0]["rule"] == "perpetual_not_supported", body
