"""Hostile and careless input on the in-process API: every refusal is a 4xx JSON body naming the field and
the rule, nothing of it is queued, and nothing a client sends can make a later read fail."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import signal_dict
from tests.unit.api_support import bearer, client

ADMIN = {**bearer("admin"), "content-type": "application/json"}


def post_raw(c: Any, content: str | bytes) -> Any:
    return c.post("/trade/signal", content=content, headers=ADMIN)


def post(c: Any, body: dict[str, Any]) -> Any:
    return post_raw(c, json.dumps(body))


def refused(response: Any, field: str, rule: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and any(d["field"] == field and d["rule"] == rule for d in error["details"]), error
    return dict(error)


HUGE = ["1e999999", "1e99999999", "1e999999999", "1e99999999999999999999", "-1e25", "123456789012345678901"]
TINY = ["1e-999999", "0.0000000000000000000000000000001"]
MONEY_FIELDS = [
    ("price", lambda v: {"price": v}),
    ("quantity", lambda v: {"quantity": v}),
    ("confidence", lambda v: {"confidence": v}),
    ("meta.stop_price", lambda v: {"meta": {"order_type": "stop", "stop_price": v}}),
    ("meta.stop_loss", lambda v: {"meta": {"stop_loss": v}}),
    ("meta.take_profit", lambda v: {"meta": {"take_profit": v}}),
    ("meta.take_profit_pct", lambda v: {"meta": {"take_profit_pct": v}}),
    ("meta.quote_quantity", lambda v: {"meta": {"quote_quantity": v}}),
    ("meta.position_size_pct", lambda v: {"meta": {"position_size_pct": v}}),
]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(("field", "body"), MONEY_FIELDS, ids=[f for f, _ in MONEY_FIELDS])
def test_a_money_field_with_a_huge_exponent_is_a_422_naming_the_field_not_a_1mb_record(field: str, body: Any,
                                                                                       value: str) -> None:  # fmt: skip
    c, deps = client()
    started = time.perf_counter()
    response = post(c, signal_dict(signal_id="huge-1", **body(value)))
    assert time.perf_counter() - started < 1
    error = refused(response, field, "number_too_large")
    assert "20 digits" in error["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    # The refusal is recorded under the client's id (INVALID_SIGNAL) and reads back small.
    record = c.get("/signals/huge-1", headers=ADMIN)
    assert record.status_code == 200 and record.json()["code"] == "INVALID_SIGNAL" and len(record.content) < 4096


@pytest.mark.parametrize("value", TINY)
def test_a_money_field_too_finely_divided_is_refused(value: str) -> None:
    c, _ = client()
    refused(post(c, signal_dict(quantity=value)), "quantity", "too_many_decimal_places")


def test_a_money_string_longer_than_64_characters_is_refused() -> None:
    c, _ = client()
    refused(post(c, signal_dict(price="4" + "0" * 70)), "price", "number_too_long")


def test_money_written_with_many_trailing_zeros_is_accepted_not_a_503() -> None:
    c, _ = client()  # round() in Decimal's 28-digit context raised on these: a 503 "send it again"
    response = post(c, signal_dict(price="45000." + "0" * 58, quantity="0.001" + "0" * 59))
    assert response.status_code == 202, response.text


def test_a_float_a_strategy_computed_is_still_accepted() -> None:
    c, _ = client()
    assert post(c, signal_dict(quantity=10 / 45000)).status_code == 202  # 0.00022222222222222223


def test_deep_meta_is_a_4xx_not_a_503() -> None:
    c, deps = client()
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(256):
        cursor["a"] = {}
        cursor = cursor["a"]
    response = post(c, signal_dict(meta={"tags": {"deep": deep}}))
    error = refused(response, "meta.tags.deep.a.a.a.a.a.a", "too_deep")
    assert "8 levels" in error["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_meta_larger_than_8_kib_is_refused() -> None:
    c, _ = client()
    refused(post(c, signal_dict(meta={"tags": {"note": "é" * 2000}})), "meta", "too_large")  # 12 KB once escaped


def test_an_infinite_number_inside_meta_is_refused() -> None:
    c, _ = client()
    body = json.dumps(signal_dict()).replace('"simulate": true', '"tags": {"x": 1e999}')
    refused(post_raw(c, body), "meta.tags.x", "finite_number")


@pytest.mark.parametrize(
    ("field", "rule", "body"),
    [
        ("meta.tags.note", "lone_surrogate", signal_dict(signal_id="sur-1", meta={"tags": {"note": "rocket \ud83d"}})),
        ("meta.tags[1]", "lone_surrogate", signal_dict(signal_id="sur-1", meta={"tags": ["ok", "\udc00"]})),
        ("meta.tags", "invalid_key", signal_dict(signal_id="sur-1", meta={"tags": {"k\ud83d": 1}})),
        ("strategy_id", "string_unicode", signal_dict(signal_id="sur-1", strategy_id="moon \ud83d")),
        ("symbol", "string_unicode", signal_dict(signal_id="sur-1", symbol="BTC\ud83d")),
    ],
)
def test_a_lone_surrogate_is_refused_and_the_signal_reads_back(field: str, rule: str, body: dict[str, Any]) -> None:
    c, deps = client()
    refused(post(c, body), field, rule)
    assert deps.signals.messages == []  # type: ignore[attr-defined]
    again = c.get("/signals/sur-1", headers=ADMIN)
    assert again.status_code == 200 and again.json()["state"] == "REJECTED", again.text


def test_duplicate_json_keys_are_refused() -> None:
    c, deps = client()
    text = json.dumps(signal_dict())[:-1] + ', "action": "sell"}'
    error = refused(post_raw(c, text), "action", "duplicate_key")
    assert "twice" in error["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_valid_json_nested_too_deep_says_so() -> None:
    c, _ = client()
    error = refused(post_raw(c, "[" * 30_000 + "]" * 30_000), "(body)", "too_deep")
    assert "not valid JSON" not in error["message"]


def test_a_5000_digit_integer_says_what_it_is() -> None:
    c, _ = client()
    error = refused(post_raw(c, json.dumps(signal_dict())[:-1] + ', "x": ' + "7" * 5000 + "}"), "(body)",
                    "number_too_long")  # fmt: skip
    assert "5000 digits" in error["message"]


def test_broken_json_is_still_a_400_with_where() -> None:
    c, _ = client()
    response = post_raw(c, '{"price": ')
    assert response.status_code == 400 and "line 1" in response.json()["error"]["message"]


@pytest.mark.parametrize("signal_id", [".", "..", "...", "-", ":x", ".hidden"])
def test_a_signal_id_that_a_path_would_normalise_away_is_refused(signal_id: str) -> None:
    c, deps = client()
    refused(post(c, signal_dict(signal_id=signal_id)), "signal_id", "string_pattern_mismatch")
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_ordinary_signal_ids_still_work() -> None:
    c, _ = client()
    for sid in ("strat-42", "a", "_x", "2026-11-25T12:00:00.v1", "A.B:C-D_E"):
        assert post(c, signal_dict(signal_id=sid)).status_code == 202, sid


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_order_on_an_unknown_symbol_names_the_symbol(method: str) -> None:
    c, _ = client()
    response = c.request(method, "/order/ZZZZ/1", headers=ADMIN)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "unknown_symbol" and "ZZZZ" in error["message"] and "order 1" not in error["message"]
