"""Binance error classification: definitive vs retryable vs unknown (pure, no network)."""

from __future__ import annotations

import email.utils

import pytest
from tradeengine.exchange.base import Rejected, Unknown
from tradeengine.exchange.errors import (
    DEFAULT_RETRY_AFTER_S,
    classify_response,
    classify_transport,
    is_not_found,
    retry_after_seconds,
    scrub,
    used_weight,
)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, -1013, "Filter failure: LOT_SIZE"),
        (400, -2010, "Duplicate order sent."),
        (400, -2010, "Account has insufficient balance for requested action."),
        (401, -1022, "Signature for this request is not valid."),
        (400, -2011, "Unknown order sent."),
        (400, -2013, "Order does not exist."),
        (400, -1121, "Invalid symbol."),
        (403, 0, "WAF"),
    ],
)
def test_definitive_rejections(status: int, code: int, message: str) -> None:
    outcome = classify_response(status, code, message)
    assert outcome == Rejected(code=code, message=message, http_status=status, retryable=False, retry_after_s=None)


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limits_are_retryable_and_honour_retry_after(status: int) -> None:
    outcome = classify_response(status, -1003, "Too many requests.", {"retry-after": "7"})
    assert isinstance(outcome, Rejected)
    assert (outcome.code, outcome.retryable, outcome.retry_after_s, outcome.http_status) == (-1003, True, 7.0, status)


def test_rate_limit_without_header_or_code_still_waits() -> None:
    outcome = classify_response(429, None, "")
    assert isinstance(outcome, Rejected)
    assert outcome.retryable and outcome.retry_after_s == DEFAULT_RETRY_AFTER_S and outcome.code == -1003


def test_timestamp_and_order_rate_codes_are_retryable() -> None:
    for code in (-1021, -1015, -1003):
        outcome = classify_response(400, code, "x")
        assert isinstance(outcome, Rejected) and outcome.retryable, code


@pytest.mark.parametrize(
    ("status", "code"), [(500, 0), (502, None), (503, -1001), (504, 0), (400, -1007), (408, -1006)]
)
def test_server_errors_and_unknown_execution_status_are_unknown(status: int, code: int | None) -> None:
    outcome = classify_response(status, code, "Internal error", client_order_id="sig-1")
    assert isinstance(outcome, Unknown)
    assert outcome.client_order_id == "sig-1" and str(status) in outcome.reason


def test_transport_failures_are_unknown_and_carry_no_query_string() -> None:
    outcome = classify_transport(
        "timeout", "Read timed out: /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=abcdef", client_order_id="c-1"
    )
    assert isinstance(outcome, Unknown) and outcome.client_order_id == "c-1"
    assert "abcdef" not in outcome.reason and "timeout" in outcome.reason


def test_scrub_hides_signatures_and_keys() -> None:
    text = scrub("bad request signature=deadbeef&apiKey=KEY123 X-MBX-APIKEY=KEY123")
    assert "deadbeef" not in text and "KEY123" not in text


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds({"Retry-After": when}, now=1_000_000) == pytest.approx(30)
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "-5"}) == 0.0


def test_used_weight_header() -> None:
    assert used_weight({"x-mbx-used-weight-1m": "42"}) == 42
    assert used_weight({"X-MBX-USED-WEIGHT-1M": "n/a"}) is None
    assert used_weight(None) is None


def test_not_found_codes() -> None:
    assert is_not_found(-2013) and is_not_found(-2011)
    assert not is_not_found(-1013) and not is_not_found(None)
