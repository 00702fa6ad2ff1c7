"""No request makes one record (or one queue message) large: the worst signals the contracts let through,
and the worst refused one, measured as the DynamoDB item and the SQS bodies the engine writes for them.

The bounds the README states: a signal's record stays under 64 KiB (DynamoDB allows 400 KB), a queue
message under 32 KiB (SQS allows 256 KiB). What makes them hold: money is at most 64 characters, a
strategy_id 128, a signal_id 128, meta's open part 8 KiB as stored (escaped JSON), the request body
64 KiB, and an invalid signal's errors name fields in at most 200 characters and say why in 500.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.ports import SignalRecord
from tradeengine.pipeline.size import size_message
from tradeengine.stores.signal_state import _dumps, _iso, _transition_item

from contracts.signal import MAX_META_BYTES
from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps

RECORD_BOUND = 64 * 1024
MESSAGE_BOUND = 32 * 1024


def item_bytes(record: SignalRecord) -> int:
    """The record as the DynamoDB store writes it (every attribute, the whole history), in DynamoDB's JSON:
    an upper bound of DynamoDB's own item size (which counts no type tags, quotes or braces)."""
    item: dict[str, Any] = {
        "pk": {"S": record.signal_id},
        "state": {"S": record.state.value},
        "version": {"N": str(record.version)},
        "symbol": {"S": record.symbol},
        "strategy_id": {"S": record.strategy_id},
        "source": {"S": record.source},
        "created_at": {"S": _iso(record.created_at)},
        "updated_at": {"S": _iso(record.updated_at)},
        "signal": {"S": _dumps(dict(record.signal))},
        "history": {"L": [_transition_item(step) for step in record.history]},
        "code": {"S": record.code or ""},
        "reason": {"S": record.reason or ""},
        "plan": {"S": _dumps(dict(record.plan or {}))},
        "execution": {"S": _dumps(dict(record.execution or {}))},
    }
    return len(json.dumps(item, ensure_ascii=False).encode("utf-8"))


def largest_meta() -> dict[str, Any]:
    """meta as large as it may be: every known field at 64 characters, its free-form tags just under 8 KiB of
    emoji (12 bytes each once escaped, as the store writes them)."""
    meta: dict[str, Any] = {"order_type": "limit", "time_in_force": "GTC", "stop_loss": "44000." + "0" * 58,
                            "take_profit": "46000." + "0" * 58, "stop_price": "44900." + "0" * 58, "simulate": False,
                            "tags": {"note": "🚀" * ((MAX_META_BYTES - 200) // 12)}}  # fmt: skip
    return meta


def test_the_largest_accepted_signal_keeps_its_record_and_messages_small() -> None:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "0"})
    raw = signal_dict(
        signal_id="W" * 128,
        strategy_id="🚀" * 128,
        price="45000." + "0" * 58,
        quantity="0.001" + "0" * 59,
        confidence="0.9" + "0" * 61,
        timestamp=datetime.now(UTC).isoformat(),
        meta=largest_meta(),
    )
    result = ingest(raw, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert result.accepted, result.errors
    queued = deps.signals.drain()
    signal_bytes = max(len(json.dumps(m).encode()) for m in queued)
    assert signal_bytes < MESSAGE_BOUND
    for body in queued:
        size_message(body, deps)
    plans = deps.plans.drain()
    plan_bytes = max(len(json.dumps(m).encode()) for m in plans) if plans else MESSAGE_BOUND
    assert plan_bytes < MESSAGE_BOUND
    for body in plans:
        execute_message(body, deps)
    record = deps.store.get("W" * 128)
    assert record.state in (SignalState.OPEN, SignalState.FILLED), (record.state, record.reason)
    size = item_bytes(record)
    print(f"largest accepted signal: record {size} bytes, signal message {signal_bytes}, plan message {plan_bytes}")
    assert size < RECORD_BOUND


def test_one_byte_more_meta_is_refused() -> None:
    from contracts.signal import SignalMeta

    meta = largest_meta()
    meta["tags"]["note"] += "🚀" * 20
    try:
        SignalMeta.model_validate(meta)
    except ValueError as exc:
        assert "too_large" in str(exc) or "at most 8192" in str(exc)
    else:
        raise AssertionError("meta over 8 KiB was accepted")


def test_the_worst_refused_signal_keeps_its_record_small() -> None:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"})
    junk = "🚀" * 500  # 2,000 bytes of UTF-8 in the body, 6,000 once escaped as the store would
    raw = {
        "signal_id": "worst-invalid",
        "strategy_id": junk,
        "symbol": junk,
        "action": junk,
        "price": "9" * 64,
        "quantity": [junk] * 10,
        "confidence": {junk: junk},
        "timestamp": junk,
        "meta": {name: junk for name in ("order_type", "time_in_force", "stop_price", "stop_loss", "stop_loss_pct",
                                          "take_profit", "take_profit_pct", "position_size_pct", "quote_quantity")},
    }  # fmt: skip
    body = json.dumps(raw, ensure_ascii=False)
    assert 40 * 1024 < len(body.encode()) < 64 * 1024  # nearly all the API's body limit
    result = ingest(raw, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert result.errors and len(result.errors) >= 10
    record = deps.store.get("worst-invalid")
    assert record.state is SignalState.REJECTED and record.code == "INVALID_SIGNAL"
    size = item_bytes(record)
    print(f"worst refused signal: record {size} bytes")
    assert size < RECORD_BOUND
