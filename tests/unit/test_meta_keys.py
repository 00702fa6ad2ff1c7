"""No silent drops: meta takes its documented keys and one free-form ``tags`` (plus the seed's ``indicators``);
any other key is refused as INVALID_SIGNAL naming it and the key it most resembles, on HTTP and the queue.
And the fat-finger guard: a market signal priced far from the market is PRICE_OUT_OF_BAND."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.config import Settings
from tradeengine.engine import Policy, decide
from tradeengine.pipeline.size import size_message
from tradeengine.risk import RiskLimits
from tradeengine.sizing import Market

from contracts import OrderPlan, Rejection, Signal
from contracts.status import SignalState
from tests.conftest import INFO_2021, NOW, load_info, signal_dict
from tests.support.memory import memory_deps
from tests.unit.api_support import bearer, client

TYPOS = [
    ("take_proft", "take_profit"),
    ("stoploss_pct", "stop_loss_pct"),
    ("trailing_delta", "trailing_delta_bps"),
    ("take_profit_level", "take_profit_levels"),
    ("ordertype", "order_type"),
]


@pytest.mark.parametrize(("typo", "meant"), TYPOS)
def test_a_typo_in_meta_is_a_422_naming_the_key_and_the_one_it_resembles(typo: str, meant: str) -> None:
    c, deps = client()
    headers = bearer("signals:write", "orders:read")
    response = c.post("/trade/signal", json=signal_dict(signal_id="typo-1", meta={typo: 2}), headers=headers)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == f"meta.{typo}" and detail["rule"] == "unknown_key"
    assert f"did you mean '{meant}'" in detail["message"] and "meta.tags" in detail["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    record = c.get("/signals/typo-1", headers=headers).json()
    assert record["state"] == "REJECTED" and record["code"] == "INVALID_SIGNAL" and f"meta.{typo}" in record["reason"]


def test_a_key_that_resembles_nothing_is_refused_without_a_guess() -> None:
    c, _ = client()
    response = c.post("/trade/signal", json=signal_dict(meta={"zzz": 1, "note": "x"}), headers=bearer("admin"))
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == "meta.zzz, meta.note" and "did you mean" not in detail["message"]


def test_the_queue_path_rejects_an_unknown_key_as_invalid_signal() -> None:
    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "1"})
    body = signal_dict(signal_id="nats-typo", timestamp=datetime.now(UTC).isoformat(), meta={"take_proft": 47000})
    out = size_message({"signal_id": "nats-typo", "source": "nats", "signal": body}, deps)
    record = deps.store.get("nats-typo")
    assert out.code == "INVALID_SIGNAL" and record.state is SignalState.REJECTED
    assert "meta.take_proft" in record.reason and "take_profit" in record.reason
    assert deps.plans.drain() == []


def test_the_strategys_own_data_in_tags_and_the_seeds_keys_are_accepted_and_kept() -> None:
    meta = {"tags": {"rsi": 28.5, "run": "a1"}, "indicators": {"macd": [1, 2]}, "simulate": True}
    signal = Signal.model_validate(signal_dict(meta=meta))
    dumped = signal.model_dump(mode="json", exclude_none=True)["meta"]
    assert dumped["tags"] == {"rsi": 28.5, "run": "a1"} and dumped["indicators"] == {"macd": [1, 2]}


NEW_FIELDS = ["trailing_delta_bps", "trailing_stop_pct", "take_profit_levels", "simulate", "tags", "indicators"]


def test_every_meta_field_is_in_the_openapi_schema_with_its_rule() -> None:
    c, _ = client()
    schemas = c.get("/openapi.json").json()["components"]["schemas"]
    meta = schemas["SignalMeta"]
    assert meta.get("additionalProperties") is False
    for name in NEW_FIELDS:
        assert meta["properties"][name].get("description"), name
    delta = next(s for s in meta["properties"]["trailing_delta_bps"]["anyOf"] if s.get("type") == "integer")
    assert delta["exclusiveMinimum"] == 0 and delta["maximum"] == 10000
    level = schemas["TakeProfitLevel"]
    assert set(level["properties"]) == {"price", "pct", "share"} and level["required"] == ["share"]


BAD = [
    ("meta.trailing_delta_bps", {"trailing_delta_bps": 0}),
    ("meta.trailing_delta_bps", {"trailing_delta_bps": 20000}),
    ("meta.trailing_delta_bps", {"trailing_delta_bps": "wide"}),
    ("meta.trailing_stop_pct", {"trailing_stop_pct": "1.255"}),
    ("meta.trailing_stop_pct", {"trailing_stop_pct": 0}),
    ("meta.trailing_delta_bps, meta.trailing_stop_pct", {"trailing_delta_bps": 100, "trailing_stop_pct": 1}),
    ("meta.trailing_delta_bps, meta.stop_loss_pct", {"trailing_delta_bps": 100, "stop_loss_pct": 2}),
    ("meta.trailing_stop_pct", {"order_type": "take_profit", "trailing_stop_pct": 1, "stop_price": 46000}),
    ("meta.take_profit_levels", {"stop_loss_pct": 2, "take_profit_levels": [{"pct": 1, "share": "0.5"}]}),
    (
        "meta.take_profit_levels",
        {"stop_loss_pct": 2, "take_profit_levels": [{"pct": 1, "share": "0.5"}, {"pct": 2, "share": "0.4"}]},
    ),
    ("meta.take_profit_levels", {"take_profit_levels": [{"pct": 1, "share": "0.5"}, {"pct": 2, "share": "0.5"}]}),
    (
        "meta.take_profit_levels.1",
        {"stop_loss_pct": 2, "take_profit_levels": [{"pct": 1, "share": "0.5"}, {"price": 1, "pct": 2, "share": 0.5}]},
    ),
    (
        "meta.take_profit_levels.0.share",
        {"stop_loss_pct": 2, "take_profit_levels": [{"pct": 1, "share": "1.5"}, {"pct": 2, "share": "-0.5"}]},
    ),
    (
        "meta.take_profit_levels.0.size",
        {"stop_loss_pct": 2, "take_profit_levels": [{"pct": 1, "size": "0.5"}, {"pct": 2, "share": "0.5"}]},
    ),
    ("meta.simulate", {"simulate": "perhaps"}),
    ("meta.tags", {"tags": "not an object"}),
]


@pytest.mark.parametrize(("field", "meta"), BAD, ids=[f"{f}={m}" for f, m in BAD])
def test_a_bad_value_of_a_new_field_is_a_422_naming_it(field: str, meta: dict[str, Any]) -> None:
    c, _ = client()
    response = c.post("/trade/signal", json=signal_dict(meta=meta), headers=bearer("admin"))
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert field in fields, fields


def test_simulate_true_is_refused_on_mainnet_and_traded_elsewhere(rules_2021: Any) -> None:
    signal = Signal.model_validate(signal_dict(meta={"simulate": True}))
    mainnet = Settings(simulation_enabled=False, binance_testnet=False).policy()
    refused = decide(signal, rules_2021, Market(Decimal(45000)), NOW, policy=mainnet)
    assert isinstance(refused, Rejection) and refused.code == "SIMULATION_ONLY"
    for settings in (Settings(), Settings(simulation_enabled=False, binance_testnet=True)):
        assert isinstance(decide(signal, rules_2021, Market(Decimal(45000)), NOW, policy=settings.policy()), OrderPlan)
    quiet = Signal.model_validate(signal_dict(meta={"simulate": False}))
    assert isinstance(decide(quiet, rules_2021, Market(Decimal(45000)), NOW, policy=mainnet), OrderPlan)


@pytest.mark.parametrize(
    ("price", "accepted"),
    [("45000", True), ("47250", True), ("42750", True), ("47251", False), ("42749", False), ("450", False)],
)
def test_a_market_signal_priced_far_from_the_market_is_refused(rules_2021: Any, price: str, accepted: bool) -> None:
    signal = Signal.model_validate(signal_dict(price=price))
    out = decide(signal, rules_2021, Market(Decimal(45000)), NOW)
    if accepted:
        assert isinstance(out, OrderPlan), out
    else:
        assert isinstance(out, Rejection) and out.code == "PRICE_OUT_OF_BAND", out
        assert "MAX_SIGNAL_PRICE_DEVIATION_PCT" in out.reason and "45000" in out.reason


def test_the_guard_is_a_setting_and_spares_limits_and_closes(rules_2021: Any) -> None:
    market = Market(Decimal(45000))
    wide = Policy(limits=RiskLimits(max_signal_price_deviation_pct=Decimal(0)))
    far = Signal.model_validate(signal_dict(price="450000"))
    assert isinstance(decide(far, rules_2021, market, NOW, policy=wide), OrderPlan)
    assert Settings(max_signal_price_deviation_pct="2").policy().limits.max_signal_price_deviation_pct == 2
    assert Settings().policy().limits.max_signal_price_deviation_pct == 5
    limit = Signal.model_validate(signal_dict(price="40000", meta={"order_type": "limit"}))
    out = decide(limit, rules_2021, market, NOW)
    assert not (isinstance(out, Rejection) and out.code == "PRICE_OUT_OF_BAND"), out
    close = Signal.model_validate(signal_dict(action="close", price="1"))
    out = decide(close, rules_2021, market, NOW, balances={"BTC": Decimal(1), "USDT": Decimal(0)})
    assert isinstance(out, OrderPlan), out
