"""Metrics: Prometheus text that parses, cumulative histograms, EMF lines, and every name defined once."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tradeengine import metrics as m

from tests.support.memory import MemoryCounters

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counters() -> m.EmittingCounters:
    """The functions' wiring (build_deps): EMF in front of the shared store, here the in-memory one."""
    return m.EmittingCounters(MemoryCounters())


@pytest.fixture
def emf_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family: Any, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for s in family.samples if s.name == name]


def observe_latency(counters: m.EmittingCounters, seconds: float) -> None:
    counters.observe(m.LATENCY, {}, seconds, m.LATENCY_BUCKETS)


def test_prometheus_text_parses_with_the_seed_names_and_values(counters: m.EmittingCounters) -> None:
    counters.incr(m.TRADES, {"status": "FILLED", "type": "market"})
    counters.incr(m.TRADES, {"status": "FILLED", "type": "market"})
    counters.incr(m.TRADES, {"status": "REJECTED", "type": "limit"})
    counters.incr(m.ERRORS, {"type": "audit_write"})
    observe_latency(counters, 0.2)

    text = m.render_prometheus(counters.snapshot())
    parsed = families(text)

    assert "# TYPE tradeengine_trades_total counter" in text
    assert "# HELP tradeengine_trades_total Trades by status and order type." in text
    trades = sorted(samples(parsed["tradeengine_trades"], "tradeengine_trades_total"), key=lambda s: s[0]["status"])
    assert trades == [({"status": "FILLED", "type": "market"}, 2.0), ({"status": "REJECTED", "type": "limit"}, 1.0)]
    assert samples(parsed["tradeengine_errors"], "tradeengine_errors_total") == [({"type": "audit_write"}, 1.0)]
    assert parsed["tradeengine_latency_seconds"].type == "histogram"


def test_histogram_buckets_are_ordered_cumulative_and_end_at_the_count(counters: m.EmittingCounters) -> None:
    for seconds in (0.003, 0.2, 0.2, 3.0, 100.0):
        observe_latency(counters, seconds)

    hist = families(m.render_prometheus(counters.snapshot()))["tradeengine_latency_seconds"]
    buckets = samples(hist, "tradeengine_latency_seconds_bucket")
    bounds = [float(labels["le"]) for labels, _ in buckets]
    values = [value for _, value in buckets]

    assert bounds == [*m.LATENCY_BUCKETS, float("inf")]  # every bound, ascending, +Inf last
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


def test_bounds_never_reached_are_zero_not_missing(counters: m.EmittingCounters) -> None:
    observe_latency(counters, 7.0)  # the store only has keys for 10, 30, 60 and +Inf

    hist = families(m.render_prometheus(counters.snapshot()))["tradeengine_latency_seconds"]
    by_le = {labels["le"]: value for labels, value in samples(hist, "tradeengine_latency_seconds_bucket")}
    assert by_le["0.005"] == 0 and by_le["5.0"] == 0
    assert by_le["10.0"] == 1 and by_le["+Inf"] == 1


def test_an_empty_store_still_exposes_the_seed_metrics() -> None:
    parsed = families(m.render_prometheus({}))
    assert {"tradeengine_trades", "tradeengine_errors"} <= set(parsed)
    hist = parsed["tradeengine_latency_seconds"]
    assert samples(hist, "tradeengine_latency_seconds_count") == [({}, 0.0)]
    # the bridge counts NATS messages on its own /metrics (tests/integration/bridge/test_bridge.py): the
    # API's would only ever show that family empty
    assert "tradeengine_nats_messages_processed" not in parsed


def test_foreign_snapshot_keys_render_by_suffix() -> None:
    snapshot: Mapping[tuple[str, tuple[tuple[str, str], ...]], float] = {
        ("tradeengine_fills_total", (("side", "BUY"),)): 3,
        ("tradeengine_open_orders", ()): 2,
        ("tradeengine_wait_seconds_bucket", (("le", "1.0"),)): 1,
        ("tradeengine_wait_seconds_bucket", (("le", "+Inf"),)): 2,
        ("tradeengine_wait_seconds_sum", ()): 4.5,
        ("tradeengine_wait_seconds_count", ()): 2,
    }
    parsed = families(m.render_prometheus(snapshot))
    assert parsed["tradeengine_fills"].type == "counter"
    assert parsed["tradeengine_open_orders"].type == "unknown"
    wait = parsed["tradeengine_wait_seconds"]
    assert wait.type == "histogram"
    assert [v for _, v in samples(wait, "tradeengine_wait_seconds_bucket")] == [1, 2]


def emf_blobs(out: str) -> dict[str, dict[str, Any]]:
    blobs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {x["Name"]: blob for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for x in d["Metrics"]}


def test_emf_lines_carry_the_metric_names_and_dimensions(
    counters: m.EmittingCounters, emf_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    counters.incr(m.TRADES, {"status": "FILLED", "type": "market"})
    counters.incr(m.ERRORS, {"type": "exchange_timeout"})
    observe_latency(counters, 0.42)
    m.emit_gauge(m.POSITION_QUANTITY, 0.5, {"strategy": "s1", "symbol": "BTCUSDT"})

    by_name = emf_blobs(capsys.readouterr().out)
    assert set(by_name) == {m.TRADES, m.ERRORS, m.LATENCY, m.POSITION_QUANTITY}
    trade = by_name[m.TRADES]
    assert trade["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Petrosa/TradeEngine"
    assert sorted(trade["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["service", "status", "type"]
    assert (trade["status"], trade["type"], trade[m.TRADES]) == ("FILLED", "market", [1.0])
    latency = by_name[m.LATENCY]
    assert latency[m.LATENCY] == [0.42]
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Seconds"
    assert by_name[m.ERRORS]["type"] == "exchange_timeout"
    assert by_name[m.POSITION_QUANTITY]["symbol"] == "BTCUSDT"


def test_a_failing_counter_store_still_leaves_the_fact_in_cloudwatch(
    emf_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class Down(MemoryCounters):
        def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
            raise ConnectionError("dynamodb unreachable")

        def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Any) -> None:
            raise ConnectionError("dynamodb unreachable")

        def flush(self) -> None:
            raise ConnectionError("dynamodb unreachable")

    capsys.readouterr()
    counters = m.EmittingCounters(Down())
    counters.incr(m.TRADES, {"status": "FILLED", "type": "market"})  # never raised: a metric fails no trade
    counters.observe(m.LATENCY, {"status": "FILLED"}, 0.2, m.LATENCY_BUCKETS)
    counters.flush()  # nor a batch, whose redelivery would only do the work again
    assert counters.store_failures == 3
    blobs = emf_blobs(capsys.readouterr().out)
    assert m.TRADES in blobs and m.LATENCY in blobs  # CloudWatch has both facts all the same


def _metric_literals(path: Path) -> list[str]:
    """String constants in ``path`` that are exactly a metric name (docstrings and prose do not count)."""
    name = re.compile(r"tradeengine_[a-z0-9_]+")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and name.fullmatch(node.value)
    ]


def test_every_metric_name_is_defined_once_with_its_help() -> None:
    homes = {ROOT / "layers/core/tradeengine/metrics.py", ROOT / "functions/bridge/metrics.py"}
    sources = [p for d in ("layers", "functions", "local") for p in (ROOT / d).rglob("*.py") if p not in homes]
    stray = [hit for path in sources for hit in _metric_literals(path)]
    assert stray == [], "import the name from tradeengine.metrics (or functions/bridge/metrics.py for the bridge)"
    engine = [hit.rsplit(" ", 1)[1] for hit in _metric_literals(ROOT / "layers/core/tradeengine/metrics.py")]
    assert len(engine) == len(set(engine)), engine  # each name once
    assert set(engine) == set(m.HELP), "every metric the engine emits has its HELP text"
