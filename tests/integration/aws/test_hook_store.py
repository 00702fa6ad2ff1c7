"""Webhook hooks in the control table and wrong passphrases in the counters table (MiniStack), and the
``tradeengine hook`` commands a trader runs against them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradeengine import hooks
from tradeengine.risk import TradingState
from tradeengine.stores.control import DynamoDBTradingState
from tradeengine.stores.hooks import DynamoDBAuthFailures, DynamoDBHookStore

from tests.support import tables

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def control_table(ddb: Any, table_name: str) -> str:
    tables.control(ddb, table_name)
    return table_name


def test_a_hook_round_trips_and_only_its_hash_is_stored(ddb: Any, control_table: str) -> None:
    store = DynamoDBHookStore(control_table, ddb_client=ddb)
    _typed: hooks.HookStore = store
    defaults = hooks.HookDefaults(confidence=Decimal("0.8"), sizing="pct", sizing_value=Decimal(25))
    hook, secret = hooks.create("momentum_v1", defaults, NOW, hook_id="hk_round", label="btc 1h")
    assert store.put(hook, new=True) is True
    assert store.put(hook, new=True) is False  # ids are never reused
    assert store.get("hk_round") == hook and store.get("hk_other") is None
    raw = json.dumps(ddb.scan(TableName=control_table)["Items"])
    assert secret not in raw and hook.secret_hash in raw
    rotated, new_secret = hooks.rotated(hook, NOW, timedelta(minutes=5))
    store.put(rotated)
    back = store.get("hk_round")
    assert back is not None and back.accepts(secret, NOW) and back.accepts(new_secret, NOW)
    assert not back.accepts(secret, NOW + timedelta(minutes=6))


def test_hooks_share_the_control_table_without_touching_the_trading_switch(ddb: Any, control_table: str) -> None:
    switch = DynamoDBTradingState(control_table, ddb_client=ddb)
    switch.set(TradingState.HALTED, by="ops", reason="test")
    store = DynamoDBHookStore(control_table, ddb_client=ddb)
    for name in ("hk_a", "hk_b"):
        store.put(hooks.create("s", hooks.HookDefaults(), NOW, hook_id=name)[0], new=True)
    assert [h.hook_id for h in store.list()] == ["hk_a", "hk_b"]
    assert switch.get() is TradingState.HALTED


def test_failures_count_per_address_and_minute(ddb: Any, table_name: str) -> None:
    tables.counters(ddb, table_name)
    clock = [1_800_000_000.0]
    failures = DynamoDBAuthFailures(table_name, ddb_client=ddb, clock=lambda: clock[0])
    _typed: hooks.AuthFailures = failures
    assert [failures.add("203.0.113.9") for _ in range(3)] == [1, 2, 3]
    assert failures.count("203.0.113.9") == 3 and failures.count("198.51.100.1") == 0
    clock[0] += 60
    assert failures.count("203.0.113.9") == 0


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "tradeengine"), "hook", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_cli_creates_rotates_lists_and_revokes(ddb: Any, control_table: str, ministack_endpoint: str) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": ministack_endpoint, "CONTROL_TABLE": control_table,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # fmt: skip
    made = _cli("create", "--strategy", "momentum_v1", "--sizing", "quote:50", "--confidence", "0.9", "--json", env=env)
    assert made.returncode == 0, made.stderr
    shown = json.loads(made.stdout)
    assert shown["url"].endswith(f"/webhooks/{shown['hook_id']}") and shown["defaults"]["sizing_value"] == "50"
    assert shown["passphrase"] in shown["tradingview_message"]
    store = DynamoDBHookStore(control_table, ddb_client=ddb)
    assert store.get(shown["hook_id"]).accepts(shown["passphrase"], datetime.now(UTC))  # type: ignore[union-attr]
    rotated = json.loads(_cli("rotate", shown["hook_id"], "--grace-minutes", "5", "--json", env=env).stdout)
    assert rotated["status"] == "rotating" and rotated["passphrase"] != shown["passphrase"]
    listed = json.loads(_cli("list", "--json", env=env).stdout)["hooks"]
    assert [h["hook_id"] for h in listed] == [shown["hook_id"]] and "passphrase" not in listed[0]
    assert json.loads(_cli("revoke", shown["hook_id"], "--json", env=env).stdout)["status"] == "revoked"
    hook = store.get(shown["hook_id"])
    assert hook is not None and not hook.accepts(rotated["passphrase"], datetime.now(UTC))
    bad = _cli("create", "--strategy", "s", "--sizing", "pct:250", env=env)
    assert bad.returncode == 2 and "at most 100" in bad.stderr
    missing = _cli("rotate", "hk_nope", env=env)
    assert missing.returncode == 2 and "no hook 'hk_nope'" in missing.stderr
