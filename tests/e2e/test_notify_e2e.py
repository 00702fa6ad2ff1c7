"""Notifications end to end on the laptop stack: channels made with ``tradeengine notify add``, a TradingView
alert that fills, and the stack's local sink receiving the fill notification as Telegram and as a signed
webhook — through the deployed topic, the notifications queue and NotifierFunction in MiniStack."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from tradeengine.notifications import verify_signature

from local.stack.demo import Api
from local.stack.stack import Endpoints
from tests.e2e.test_webhooks import _tradeengine, post_alert, wait_state

pytestmark = pytest.mark.e2e
TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
STRATEGY = "notify_e2e"


def received(sink: str, path: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{sink}/received?path={path}", timeout=5) as reply:
        return list(json.loads(reply.read()))


def wait_received(sink: str, path: str, needle: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in received(sink, path):
            if needle in row["body"]:
                return row
        time.sleep(0.5)
    raise AssertionError(f"nothing with {needle!r} reached {path}: {received(sink, '/')}")


def test_a_filled_alert_is_told_to_telegram_and_to_a_signed_webhook(local_stack: Endpoints, api: Api) -> None:
    assert local_stack.sink, "the laptop stack runs a local sink"
    assert api.call("GET", "/health")[0] == 200  # the API function's cold start, before TradingView's 3 s
    webhook = _tradeengine("notify", "add", "--strategy", STRATEGY, "--type", "webhook", "--topics", "fills,exits",
                           "--url", f"{local_stack.sink}/mine", "--json")  # fmt: skip
    assert webhook.returncode == 0, webhook.stderr
    secret = json.loads(webhook.stdout)["signing_secret"]
    telegram = _tradeengine("notify", "add", "--strategy", "*", "--type", "telegram", "--chat", "-1001234567890",
                            "--token", TOKEN, "--topics", "fills,refusals")  # fmt: skip
    assert telegram.returncode == 0, telegram.stderr
    made = _tradeengine("hook", "create", "--strategy", STRATEGY, "--api", local_stack.api, "--json")
    assert made.returncode == 0, made.stderr
    hook = json.loads(made.stdout)
    alert = json.dumps({"passphrase": hook["passphrase"], "symbol": "BINANCE:BTCUSDT", "action": "buy",
                        "quantity": "0", "price": "45000"})  # fmt: skip
    status, answer, _ = post_alert(hook["url"], alert)
    assert status == 202, answer
    record = wait_state(api, answer["signal_id"], {"FILLED", "REJECTED", "FAILED"})
    assert record["state"] == "FILLED", record

    mine = wait_received(local_stack.sink, "/mine", answer["signal_id"])
    headers = mine["headers"]
    assert verify_signature(secret, headers["x-petrosa-timestamp"], mine["body"].encode(),
                            headers["x-petrosa-signature"], datetime.now(UTC))  # fmt: skip
    body = json.loads(mine["body"])
    assert body["topic"] == "fills" and body["event"]["kind"] == "fill"
    assert body["event"]["strategy_id"] == STRATEGY and "FILL BUY" in body["text"] and "@ 45000" in body["text"]
    tg = wait_received(local_stack.sink, f"/telegram/bot{TOKEN}/sendMessage", f"{STRATEGY} · BTCUSDT")
    assert json.loads(tg["body"])["chat_id"] == "-1001234567890"
    time.sleep(2)  # a redelivery or a second publish would land by now: each channel got the fill once
    fills = [r for r in received(local_stack.sink, "/mine") if answer["signal_id"] in r["body"]]
    assert len(fills) == 1, fills
