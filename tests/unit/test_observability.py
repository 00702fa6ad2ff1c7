"""Observability: Prometheus text that parses, cumulative histograms, EMF lines, secrets kept out of logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from tradeengine import observability as obs
from tradeengine.config import Settings
from tradeengine.pipeline.memory import MemoryCounters


@pytest.fixture
def counters() -> Iterator[MemoryCounters]:
    fresh = MemoryCounters()
    previous = obs.use_counters(fresh)
    yield fresh
    obs.use_counters(previous)


@pytest.fixture
def emf_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family: Any, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for s in family.samples if s.name == name]


def test_prometheus_text_parses_with_the_seed_names_and_values(counters: MemoryCounters) -> None:
    obs.record_trade("FILLED", "market")
    obs.record_trade("FILLED", "market")
    obs.record_trade("REJECTED", "limit")
    obs.record_error("audit_write")
    obs.record_nats("success")
    obs.record_latency(0.2)

    text = obs.render_prometheus(counters.snapshot())
    parsed = families(text)

    assert "# TYPE tradeengine_trades_total counter" in text
    assert "# HELP tradeengine_trades_total" in text
    trades = sorted(samples(parsed["tradeengine_trades"], "tradeengine_trades_total"), key=lambda s: s[0]["status"])
    assert trades == [({"status": "FILLED", "type": "market"}, 2.0), ({"status": "REJECTED", "type": "limit"}, 1.0)]
    assert samples(parsed["tradeengine_errors"], "tradeengine_errors_total") == [({"type": "audit_write"}, 1.0)]
    nats = parsed["tradeengine_nats_messages_processed"]
    assert samples(nats, "tradeengine_nats_messages_processed_total") == [({"status": "success"}, 1.0)]
    assert parsed["tradeengine_latency_seconds"].type == "histogram"


def test_histogram_buckets_are_ordered_cumulative_and_end_at_the_count(counters: MemoryCounters) -> None:
    for seconds in (0.003, 0.2, 0.2, 3.0, 100.0):
        obs.record_latency(seconds)

    hist = families(obs.render_prometheus(counters.snapshot()))["tradeengine_latency_seconds"]
    buckets = samples(hist, "tradeengine_latency_seconds_bucket")
    bounds = [float(labels["le"]) for labels, _ in buckets]
    values = [value for _, value in buckets]

    assert bounds == [*obs.LATENCY_BUCKETS, float("inf")]  # every bound, ascending, +Inf last
    assert values == sorted(values)  # cumulative: never decreases
    by_le = {labels["le"]: value for labels, value in buckets}
    assert (by_le["0.005"], by_le["0.25"], by_le["2.5"], by_le["5.0"], by_le["60.0"], by_le["+Inf"]) == (
        1,
        3,
        3,
        4,
        4,
        5,
    )
    assert samples(hist, "tradeengine_latency_seconds_count") == [({}, 5.0)]
    assert samples(hist, "tradeengine_latency_seconds_sum")[0][1] == pytest.approx(103.403)


def test_bounds_never_reached_are_zero_not_missing(counters: MemoryCounters) -> None:
    obs.record_latency(7.0)  # the store only has keys for 10, 30, 60 and +Inf

    hist = families(obs.render_prometheus(counters.snapshot()))["tradeengine_latency_seconds"]
    by_le = {labels["le"]: value for labels, value in samples(hist, "tradeengine_latency_seconds_bucket")}
    assert by_le["0.005"] == 0 and by_le["5.0"] == 0
    assert by_le["10.0"] == 1 and by_le["+Inf"] == 1


def test_an_empty_store_still_exposes_the_seed_metrics() -> None:
    parsed = families(obs.render_prometheus({}))
    assert {"tradeengine_trades", "tradeengine_errors", "tradeengine_nats_messages_processed"} <= set(parsed)
    hist = parsed["tradeengine_latency_seconds"]
    assert samples(hist, "tradeengine_latency_seconds_count") == [({}, 0.0)]


def test_foreign_snapshot_keys_render_by_suffix() -> None:
    snapshot: Mapping[tuple[str, tuple[tuple[str, str], ...]], float] = {
        ("tradeengine_fills_total", (("side", "BUY"),)): 3,
        ("tradeengine_open_orders", ()): 2,
        ("tradeengine_wait_seconds_bucket", (("le", "1.0"),)): 1,
        ("tradeengine_wait_seconds_bucket", (("le", "+Inf"),)): 2,
        ("tradeengine_wait_seconds_sum", ()): 4.5,
        ("tradeengine_wait_seconds_count", ()): 2,
    }
    parsed = families(obs.render_prometheus(snapshot))
    assert parsed["tradeengine_fills"].type == "counter"
    assert parsed["tradeengine_open_orders"].type == "unknown"
    wait = parsed["tradeengine_wait_seconds"]
    assert wait.type == "histogram"
    assert [v for _, v in samples(wait, "tradeengine_wait_seconds_bucket")] == [1, 2]


def test_emf_lines_carry_the_metric_names_and_dimensions(
    counters: MemoryCounters, emf_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    obs.record_trade("FILLED", "market")
    obs.record_error("exchange_timeout")
    obs.record_latency(0.42)
    obs.record_nats("success")

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_name = {m["Name"]: blob for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert set(by_name) == {obs.TRADES, obs.ERRORS, obs.LATENCY, obs.NATS}
    trade = by_name[obs.TRADES]
    assert trade["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Petrosa/TradeEngine"
    assert sorted(trade["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["service", "status", "type"]
    assert (trade["status"], trade["type"], trade[obs.TRADES]) == ("FILLED", "market", [1.0])
    assert by_name[obs.LATENCY][obs.LATENCY] == [0.42]
    assert by_name[obs.ERRORS]["type"] == "exchange_timeout"


def test_a_failing_counter_store_does_not_fail_the_caller(
    emf_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class Down(MemoryCounters):
        def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
            raise ConnectionError("dynamodb unreachable")

    previous = obs.use_counters(Down())
    try:
        obs.record_trade("FILLED", "market")  # no exception
    finally:
        obs.use_counters(previous)
    assert obs.TRADES in capsys.readouterr().out  # CloudWatch still got the fact


def test_secret_settings_never_reach_the_logs(log_output: io.StringIO) -> None:
    jwt, api_secret, mongo_password = 'jwt-"quoted"-s3cret', "binance-secret-0123456789", "m0ngo-pa55"
    mongo_url = f"mongodb://auditor:{mongo_password}@db.example:27017/petrosa"
    settings = Settings(jwt_secret_key=jwt, binance_api_secret=api_secret, mongodb_url=mongo_url)
    obs.configure(settings)

    obs.logger.info("token key is %s", jwt)
    obs.logger.info("signing", extra={"secret": api_secret, "url": mongo_url})
    logging.getLogger("tradeengine.pipeline.recorder").warning("connecting with password %s", mongo_password)
    try:
        raise RuntimeError(f"auth failed for {mongo_url}")
    except RuntimeError:
        obs.logger.exception("audit store down")
    obs.logger.info("unrelated url redis://user:hunter2-pw@cache:6379/0")

    text = log_output.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5  # module loggers under `tradeengine` go through the same JSON handler
    for secret in (jwt, json.dumps(jwt)[1:-1], api_secret, mongo_password, "hunter2-pw"):
        assert secret not in text
    assert obs.REDACTED in lines[0]["message"]
    assert lines[1]["secret"] == obs.REDACTED
    assert lines[1]["url"] == obs.REDACTED  # MONGODB_URL is a secret setting as a whole
    assert "redis://user:***@cache:6379/0" in text  # any URL's password; the user name helps the operator
    assert lines[3]["exception_name"] == "RuntimeError"


def test_redacting_filter_masks_plain_handlers_too() -> None:
    obs.add_secret(SecretStr("plain-handler-secret"))
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(obs.RedactingFilter())
    plain = logging.getLogger("test.observability.plain")
    plain.propagate = False
    plain.addHandler(handler)
    try:
        plain.warning("value=%s", "plain-handler-secret")
        try:
            raise ValueError("plain-handler-secret")
        except ValueError:
            plain.exception("failed")
    finally:
        plain.removeHandler(handler)
    assert "plain-handler-secret" not in buffer.getvalue()
    assert buffer.getvalue().count(obs.REDACTED) >= 2  # the message and the exception (and its source line)
