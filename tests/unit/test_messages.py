"""The queue bodies as models (contracts/messages.py): bodies already in flight in a deployed queue, written
before the models and their ``v``, still parse and go through the stages; a new body is the old one plus ``v``;
a body of a version this release does not know, or no body of the kind at all, is dead-lettered with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.size import size_message
from tradeengine.pipeline.sqs_batch import run_record

from contracts.messages import PlanMessage, SignalMessage
from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info
from tests.support.memory import memory_deps

# As ingest wrote a signals.fifo body before contracts/messages.py (no "v"); the timestamp is set per test.
SIGNAL_BODY = {
    "signal_id": "wire-1",
    "source": "api",
    "received_at": "2026-12-01T15:37:57.696389+00:00",
    "signal": {
        "strategy_id": "momentum_v1",
        "symbol": "BTCUSDT",
        "action": "buy",
        "price": "45000",
        "quantity": "0",
        "confidence": "0.85",
        "timestamp": "2026-12-01T15:37:57.696334Z",
        "meta": {"order_type": "market", "time_in_force": "GTC", "stop_loss": "44000", "take_profit": "46000"},
        "signal_id": "wire-1",
    },
}


def _leg(kind: str, price: str | None, stop: str | None, suffix: str, tif: str | None) -> dict[str, object]:
    return {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": kind,
        "quantity": "0.000229",
        "quote_order_qty": None,
        "price": price,
        "stop_price": stop,
        "time_in_force": tif,
        "trailing_delta": None,
        "new_client_order_id": "te-a76d1c654b7ba2c3b255283e-" + suffix,
    }


# As sizing wrote an orders.fifo body before contracts/messages.py (no "v").
PLAN_BODY = {
    "signal_id": "wire-1",
    "received_at": "2026-12-01T15:37:57.696389+00:00",
    "signal": {**SIGNAL_BODY["signal"]},
    "plan": {
        "signal_id": "wire-1",
        "order": {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.00023",
            "quote_order_qty": None,
            "price": None,
            "stop_price": None,
            "time_in_force": None,
            "trailing_delta": None,
            "new_client_order_id": "te-a76d1c654b7ba2c3b255283e",
        },
        "brackets": {
            "kind": "OCO",
            "placement": "after_fill",
            "side": "SELL",
            "quantity": "0.000229",
            "stop_loss": _leg("STOP_LOSS_LIMIT", "43780", "44000", "sl", "GTC"),
            "take_profit": _leg("LIMIT_MAKER", "46000", None, "tp", None),
            "list_client_order_id": "te-a76d1c654b7ba2c3b255283e-ls",
            "share": None,
            "more": [],
        },
        "reference_price": "45000",
        "notional": "10.35",
        "min_quantity": "0.00023",
        "sizing": "dynamic_minimum",
        "notes": [],
        "cancel_first": [],
    },
}


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, body: str, reason: str) -> None:
        self.sent.append((body, reason))


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "0"})


def _fresh(body: dict[str, object]) -> dict[str, object]:
    """``body`` with a signal timestamp of now (sizing refuses a stale signal, whatever its body's shape)."""
    now = datetime.now(UTC)
    signal = {**body["signal"], "timestamp": now.isoformat()}  # type: ignore[dict-item]
    return {**body, "signal": signal, "received_at": (now - timedelta(seconds=1)).isoformat()}


def test_a_new_body_is_the_old_one_plus_its_version() -> None:
    # plus "recorded" (additive, within v1): an old body was not recorded by ingest for sizing to skip the read
    assert SignalMessage.model_validate(SIGNAL_BODY).wire() == {"v": 1, **SIGNAL_BODY, "recorded": False}
    again = PlanMessage.model_validate(PLAN_BODY).wire()
    assert again == {"v": 1, **PLAN_BODY}
    assert '"43780"' in json.dumps(again) and "E" not in again["plan"]["notional"]  # Decimal strings, as before


def test_a_signal_body_from_before_the_models_is_sized(deps) -> None:
    out = size_message(_fresh(SIGNAL_BODY), deps)
    assert out.state is SignalState.SIZED
    sent = deps.plans.drain()[0]
    assert sent["v"] == 1 and PlanMessage.model_validate(sent).plan.signal_id == "wire-1"


def test_a_plan_body_from_before_the_models_is_placed_and_booked_for_its_strategy(deps) -> None:
    size_message(_fresh(SIGNAL_BODY), deps)
    deps.plans.drain()
    out = execute_message(_fresh(PLAN_BODY), deps)
    assert out.placed and out.state is SignalState.FILLED
    assert [p.strategy_id for p in deps.ledger.positions("momentum_v1")] == ["momentum_v1"]


@pytest.mark.parametrize(
    ("body", "use_case", "why"),
    [
        ({**SIGNAL_BODY, "v": 2}, size_message, "v: "),
        ({**SIGNAL_BODY, "signal": "not an object"}, size_message, "signal: "),
        ({**PLAN_BODY, "v": 2}, execute_message, "not an order plan message"),
        ({k: v for k, v in PLAN_BODY.items() if k != "plan"}, execute_message, "not an order plan message"),
    ],
)
def test_a_body_this_release_cannot_read_goes_to_the_dlq_with_its_reason(deps, body, use_case, why) -> None:
    dead = DeadLetters()
    assert run_record(json.dumps(body), lambda b: use_case(b, deps), dead) is None
    [(text, reason)] = dead.sent
    assert json.loads(text) == body and why in reason
    assert deps.store.get("wire-1") is None and deps.plans.drain() == []
