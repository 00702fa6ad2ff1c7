"""POST /webhooks/{hook_id}: a TradingView alert (text/plain or JSON) with the hook's passphrase becomes a
signal like POST /trade/signal; retries are one signal; wrong passphrases are 401 with no detail, counted,
and rate-limited per address; the passphrase is in no record, audit event or log line."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tradeengine import hooks
from tradeengine.api.app import create_app
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.size import size_message

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info
from tests.support import memory
from tests.support.memory import memory_deps as pipeline_deps
from tests.unit.api_support import bearer, memory_deps

READ = bearer("orders:read")
T0 = datetime(2026, 11, 25, 12, 0, 10, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def webhook_client(
    deps: Deps | None = None, *, defaults: hooks.HookDefaults | None = None, limit: int = 10
) -> tuple[TestClient, Deps, str, str, Clock]:
    clock = Clock(T0)
    base = deps or memory_deps(webhook_auth_failures_per_minute=limit)
    store = memory.MemoryHookStore()
    hook, secret = hooks.create("momentum_v1", defaults or hooks.HookDefaults(), T0, hook_id="hk_test")
    store.put(hook, new=True)
    wired = dataclasses.replace(base, hooks=store, auth_failures=memory.MemoryAuthFailures(clock), clock=clock)
    return TestClient(create_app(lambda: wired), raise_server_exceptions=False), wired, hook.hook_id, secret, clock


def alert(secret: str, **over: Any) -> dict[str, Any]:
    body = {"passphrase": secret, "symbol": "BINANCE:BTCUSDT", "action": "buy", "quantity": "0", "price": "45000"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def post_text(c: TestClient, hook_id: str, body: dict[str, Any] | str, media: str = "text/plain") -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return c.post(f"/webhooks/{hook_id}", content=text, headers={"content-type": media})


def test_a_tradingview_alert_sent_as_text_plain_is_queued_for_the_hooks_strategy() -> None:
    c, deps, hook_id, secret, _ = webhook_client()
    response = post_text(c, hook_id, alert(secret))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "QUEUED" and body["duplicate"] is False and body["signal_id"].startswith("tv-")
    record = c.get(f"/signals/{body['signal_id']}", headers=READ).json()
    signal = record["signal"]
    assert signal["strategy_id"] == "momentum_v1" and signal["symbol"] == "BTCUSDT" and record["source"] == "webhook"
    assert signal["timestamp"].startswith("2026-11-25T12:00:10")  # receipt time: the alert gave none
    assert signal["meta"]["tags"]["hook_id"] == hook_id and signal["confidence"] == "1"
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_application_json_is_read_the_same_way_and_the_alerts_own_timestamp_wins() -> None:
    c, _, hook_id, secret, _ = webhook_client()
    response = post_text(c, hook_id, alert(secret, timestamp="2026-11-25T11:59:58Z"), "application/json")
    assert response.status_code == 202, response.text
    record = c.get(f"/signals/{response.json()['signal_id']}", headers=READ).json()
    assert record["signal"]["timestamp"].startswith("2026-11-25T11:59:58")


def test_the_passphrase_is_in_no_record_queue_message_audit_event_or_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c, deps, hook_id, secret, _ = webhook_client()
    sid = post_text(c, hook_id, alert(secret)).json()["signal_id"]
    post_text(c, hook_id, alert(secret + "x"))  # a wrong one is not logged either
    record = deps.store.get(sid)
    assert record is not None
    stored = json.dumps([record.signal, [dataclasses.asdict(t) for t in record.history]], default=str)
    audit = json.dumps([e.model_dump(mode="json") for e in deps.audit.events(sid)])
    queued = json.dumps(deps.signals.messages)  # type: ignore[attr-defined]
    for text in (stored, audit, queued):
        assert secret not in text and '"passphrase"' not in text
    assert "webhook refused" in caplog.text and secret not in caplog.text


def test_tradingview_retrying_the_alert_places_it_once_even_across_a_minute() -> None:
    c, deps, hook_id, secret, clock = webhook_client()
    first = post_text(c, hook_id, alert(secret)).json()
    clock.at = T0 + timedelta(seconds=2)  # same minute, another receipt time: still the same alert
    second = post_text(c, hook_id, alert(secret)).json()
    clock.at = T0 + timedelta(seconds=25)  # 12:00:35
    third = post_text(c, hook_id, alert(secret)).json()
    assert second["duplicate"] is True and third["duplicate"] is True
    assert first["signal_id"] == second["signal_id"] == third["signal_id"]
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_a_retry_just_over_the_minute_is_the_same_signal_but_a_later_alert_is_a_new_one() -> None:
    c, deps, hook_id, secret, clock = webhook_client()
    clock.at = T0.replace(second=55)
    first = post_text(c, hook_id, alert(secret)).json()
    clock.at = T0.replace(minute=1, second=5)  # 10 s later, across the minute: TradingView's retry
    retry = post_text(c, hook_id, alert(secret)).json()
    assert retry == {**first, "duplicate": True}
    clock.at = T0.replace(minute=2, second=5)  # a minute later: the alert fired again
    later = post_text(c, hook_id, alert(secret)).json()
    assert later["duplicate"] is False and later["signal_id"] != first["signal_id"]
    assert len(deps.signals.messages) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b, s: {**b, "passphrase": s + "x"},
        lambda b, s: {k: v for k, v in b.items() if k != "passphrase"},
        lambda b, s: {**b, "passphrase": 12345},
        lambda b, s: {**b, "passphrase": ""},
    ],
    ids=["wrong", "missing", "not-a-string", "empty"],
)
def test_a_wrong_or_missing_passphrase_is_401_with_no_detail_and_counted(mutate: Any) -> None:
    c, deps, hook_id, secret, _ = webhook_client()
    response = post_text(c, hook_id, mutate(alert(secret), secret))
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": "unauthorized", "details": []}}
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    counted = deps.counters.snapshot()[("tradeengine_webhook_requests_total", (("result", "unauthorized"),))]
    assert counted == 1


def test_an_unknown_or_revoked_hook_answers_exactly_as_a_wrong_passphrase() -> None:
    c, deps, hook_id, secret, _ = webhook_client()
    wrong = post_text(c, hook_id, alert(secret + "x"))
    unknown = post_text(c, "hk_nosuchhook", alert(secret))
    malformed = post_text(c, "bad$id!", alert(secret))
    hook = deps.hooks.get(hook_id)
    deps.hooks.put(dataclasses.replace(hook, revoked_at=T0))
    revoked = post_text(c, hook_id, alert(secret))
    for response in (unknown, malformed, revoked):
        assert (response.status_code, response.content) == (wrong.status_code, wrong.content)


def test_wrong_passphrases_past_the_limit_get_429_from_that_address_even_with_the_right_one() -> None:
    c, deps, hook_id, secret, clock = webhook_client(limit=3)
    statuses = [post_text(c, hook_id, alert(secret + "x")).status_code for _ in range(3)]
    blocked = post_text(c, hook_id, alert(secret))
    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    clock.at = T0 + timedelta(minutes=1)  # the next window: the right passphrase passes again
    assert post_text(c, hook_id, alert(secret)).status_code == 202


def test_rotation_accepts_both_secrets_until_the_grace_ends() -> None:
    c, deps, hook_id, old, clock = webhook_client()
    hook, new = hooks.rotated(deps.hooks.get(hook_id), T0, timedelta(minutes=10))
    deps.hooks.put(hook)
    assert post_text(c, hook_id, alert(old, price="45001")).status_code == 202
    assert post_text(c, hook_id, alert(new, price="45002")).status_code == 202
    clock.at = T0 + timedelta(minutes=11)
    assert post_text(c, hook_id, alert(old, price="45003")).status_code == 401
    assert post_text(c, hook_id, alert(new, price="45004")).status_code == 202


@pytest.mark.parametrize(
    ("over", "field", "rule"),
    [
        ({"symbol": "BINANCE:BTCUSDT.P"}, "symbol", "perpetual_not_supported"),
        ({"symbol": "BTCUSDTPERP"}, "symbol", "perpetual_not_supported"),
        ({"symbol": "COINBASE:BTCUSD"}, "symbol", "exchange_not_supported"),
        ({"symbol": None}, "symbol", "missing"),
        ({"quantitiy": "1"}, "quantitiy", "unknown_field"),
        ({"strategy_id": "other"}, "strategy_id", "bound_to_hook"),
        ({"action": "long"}, "action", "enum"),
        ({"price": "{{close}}"}, "price", "unfilled_placeholder"),
        ({"price": "abc"}, "price", "decimal_parsing"),
    ],
)
def test_an_alert_the_engine_cannot_trade_is_a_422_naming_the_field_and_the_rule(
    over: dict[str, Any], field: str, rule: str
) -> None:
    c, deps, hook_id, secret, _ = webhook_client()
    response = post_text(c, hook_id, alert(secret, **over))
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["field"] == field and rule in d["rule"] for d in details), details
    assert secret not in response.text
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_the_perpetual_refusal_says_which_spot_chart_to_use() -> None:
    c, _, hook_id, secret, _ = webhook_client()
    message = post_text(c, hook_id, alert(secret, symbol="BINANCE:ETHUSDT.P")).json()["error"]["message"]
    assert "perpetual" in message and "BINANCE:ETHUSDT" in message


@pytest.mark.parametrize(
    ("body", "media", "status"),
    [("passphrase=x", "text/plain", 400), ("[1, 2]", "text/plain", 422), ('{"a": 1}', "application/xml", 415)],
)
def test_a_body_that_is_not_one_json_object_is_a_4xx_that_quotes_nothing(body: str, media: str, status: int) -> None:
    c, _, hook_id, _, _ = webhook_client()
    response = post_text(c, hook_id, body, media)
    assert response.status_code == status, response.text
    assert response.json()["error"]["details"][0]["field"] in ("(body)", "content-type")


def test_an_engine_without_a_hook_store_says_so() -> None:
    c = TestClient(create_app(lambda: memory_deps()), raise_server_exceptions=False)
    response = c.post("/webhooks/hk_x", content="{}", headers={"content-type": "text/plain"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "webhooks_not_configured"


def test_the_hooks_sizing_default_sizes_and_keeps_the_alerts_quantity_for_the_trader() -> None:
    defaults = hooks.HookDefaults(confidence=Decimal("0.9"), sizing="quote", sizing_value=Decimal(50))
    c, deps, hook_id, secret, _ = webhook_client(defaults=defaults)
    sid = post_text(c, hook_id, alert(secret, quantity="3")).json()["signal_id"]
    record = deps.store.get(sid)
    assert record is not None
    signal = record.signal
    assert signal["quantity"] == "0" and signal["confidence"] == "0.9"
    assert signal["meta"]["quote_quantity"] == "50" and signal["meta"]["tags"]["alert_quantity"] == "3"


def test_an_alert_reaches_filled_through_the_whole_pipeline() -> None:
    base = pipeline_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    c, deps, hook_id, secret, clock = webhook_client(base)
    clock.at = datetime.now(UTC)  # sizing judges the signal's age against the real clock
    sid = post_text(c, hook_id, alert(secret)).json()["signal_id"]
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    record = deps.store.get(sid)
    assert record is not None
    assert record.state is SignalState.FILLED, (record.state, record.reason)


def test_a_derived_id_already_held_by_another_sources_signal_is_a_409_not_a_duplicate() -> None:
    from tradeengine.tradingview import alert_signal_id

    from tests.conftest import signal_dict

    c, deps, hook_id, secret, _ = webhook_client()
    body = alert(secret)
    content = {k: v for k, v in body.items() if k != "passphrase"}
    taken = alert_signal_id(hook_id, content, T0.replace(second=0))
    write = bearer("signals:write")
    assert c.post("/trade/signal", json=signal_dict(signal_id=taken), headers=write).status_code == 202
    response = post_text(c, hook_id, body)
    assert response.status_code == 409 and response.json()["error"]["code"] == "signal_id_conflict"
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]
