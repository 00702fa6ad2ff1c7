"""quantity > 0 beside meta.quote_quantity or meta.position_size_pct: refused as INVALID_SIGNAL naming both
fields, on every path (HTTP, the queue, the dry-run CLI), where the engine used to drop one silently."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from tradeengine.pipeline.size import size_message

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps
from tests.unit.api_support import bearer, client

CONFLICTS = [
    ("quote_quantity", {"quantity": "0.5", "meta": {"quote_quantity": "100"}}),
    ("position_size_pct", {"quantity": 0.5, "meta": {"position_size_pct": 10}}),
]


@pytest.mark.parametrize(("other", "fields"), CONFLICTS, ids=[o for o, _ in CONFLICTS])
def test_http_answers_422_naming_both_fields_and_records_invalid_signal(other: str, fields: dict) -> None:
    c, deps = client()
    headers = bearer("signals:write", "orders:read")
    response = c.post("/trade/signal", json=signal_dict(signal_id="both-1", **fields), headers=headers)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == f"quantity, meta.{other}" and detail["rule"] == "conflicting_fields"
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    record = c.get("/signals/both-1", headers=headers).json()
    assert record["state"] == "REJECTED" and record["code"] == "INVALID_SIGNAL" and f"meta.{other}" in record["reason"]


@pytest.mark.parametrize(("other", "fields"), CONFLICTS, ids=[o for o, _ in CONFLICTS])
def test_the_queue_path_rejects_invalid_signal_naming_both_fields(other: str, fields: dict) -> None:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "1"})
    body = signal_dict(signal_id="nats-both", timestamp=datetime.now(UTC).isoformat(), **fields)
    out = size_message({"signal_id": "nats-both", "source": "nats", "signal": body}, deps)
    record = deps.store.get("nats-both")
    assert out.code == "INVALID_SIGNAL" and record.state is SignalState.REJECTED
    assert f"quantity, meta.{other}" in record.reason
    assert deps.plans.drain() == []


def test_quantity_zero_means_not_given_so_the_meta_sizes_the_order() -> None:
    c, _ = client()
    for meta in ({"quote_quantity": "100"}, {"position_size_pct": 10}):
        response = c.post("/trade/signal", json=signal_dict(quantity=0, meta=meta), headers=bearer("admin"))
        assert response.status_code == 202, response.text


def test_the_dry_run_refuses_it_too() -> None:
    line = json.dumps({"signal": signal_dict(**CONFLICTS[0][1]), "market_price": "45000", "balances": {"USDT": "1000"}})
    proc = subprocess.run([sys.executable, "-m", "tradeengine.cli", "size", "--exchange-info", str(INFO_2021)],
                          input=line, capture_output=True, text=True, check=False)  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["code"] == "INVALID_SIGNAL" and "signal.quantity, signal.meta.quote_quantity" in result["reason"]
