"""The engine's metrics: their names and HELP text (defined here only), EMF, and Prometheus text.

- A stage counts through its ``Counters`` port (``deps.counters.incr(TRADES, ...)``). In the functions
  that port is ``EmittingCounters`` around the DynamoDB store: each fact is printed at once as a
  CloudWatch EMF metric with its own dimensions (``service`` plus the labels), so a crash later in the
  invocation loses nothing, and written to the store that the API's ``/metrics`` renders, identical
  whichever Lambda instance answers. Handlers add the cold-start metric with
  ``@metrics.log_metrics(capture_cold_start_metric=True)``.
- ``render_prometheus`` writes a ``Counters.snapshot()`` as Prometheus text (exposition format 0.0.4)
  through prometheus_client, imported on the first call only: it costs a cold start about 20 ms that the
  queue functions never need. Histograms come from ``*_bucket``/``*_sum``/``*_count`` series; the
  ``HISTOGRAMS`` and the seed's counters are always present, so a dashboard finds every family from the
  first scrape.
- The NATS bridge is another process with its own prometheus_client registry and its own ``/metrics``
  (``functions/bridge/metrics.py``, ``tradeengine_nats_messages_processed_total`` among them): these
  are the Lambda functions' metrics only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from tradeengine.logs import SERVICE, logger

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from tradeengine.pipeline.ports import Counters

NAMESPACE = "Petrosa/TradeEngine"

TRADES = "tradeengine_trades_total"
ERRORS = "tradeengine_errors_total"
LATENCY = "tradeengine_latency_seconds"
SIGNALS = "tradeengine_signals_total"
WEBHOOK_REQUESTS = "tradeengine_webhook_requests_total"
PROTECTIONS = "tradeengine_protections_total"
EVENTS_PUBLISHED = "tradeengine_events_published_total"
TRADING_STATE_CHANGES = "tradeengine_trading_state_changes_total"
POSITION_QUANTITY = "tradeengine_position_quantity"
REALIZED_PNL = "tradeengine_realized_pnl"
BUILD_INFO = "tradeengine_build_info"
NOTIFICATIONS = "tradeengine_notifications_total"
# signal -> terminal state spans queues and an exchange round trip: from milliseconds to a minute
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HELP: dict[str, str] = {
    TRADES: "Trades by status and order type.",
    ERRORS: "Errors by type.",
    LATENCY: "Time from a signal's receipt to its outcome, in seconds.",
    SIGNALS: "Signals offered to ingest, by source and result.",
    WEBHOOK_REQUESTS: "TradingView webhook requests, by result.",
    PROTECTIONS: "Entries a protection refused, by protection.",
    EVENTS_PUBLISHED: "Execution events published, by path (direct or through the outbox).",
    TRADING_STATE_CHANGES: "Trading state changes by an operator, by the new state.",
    POSITION_QUANTITY: "Base quantity each strategy holds of a symbol, by the book.",
    REALIZED_PNL: "Realized PnL after fees per strategy, in the quote asset, by the book.",
    BUILD_INFO: "The answering API's version and trading mode.",
    NOTIFICATIONS: "Notifications to operators' channels, by status and channel type.",
}
GAUGES = frozenset({POSITION_QUANTITY, REALIZED_PNL, BUILD_INFO})  # levels, read at scrape
HISTOGRAMS: dict[str, tuple[float, ...]] = {LATENCY: LATENCY_BUCKETS}
SEEDED = (TRADES, ERRORS)  # the seed's counters: rendered even before the first count

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # prometheus_client.CONTENT_TYPE_LATEST
Snapshot = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]

metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# ------------------------------------------------------------------------------------------------ EMF


def _emf(name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str]) -> None:
    try:
        with single_metric(
            name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
        ) as metric:
            for key, dim in dimensions.items():
                metric.add_dimension(name=key, value=dim)
    except Exception as exc:  # a bad dimension value must not fail a trade
        logger.warning("EMF metric not emitted", extra={"metric": name, "error": type(exc).__name__})


def emit_gauge(name: str, value: float, dimensions: Mapping[str, str]) -> None:
    """A level (a position's quantity, a strategy's realized PnL) as a CloudWatch EMF metric. Prometheus
    reads the same levels from their store at scrape time (the API's /metrics), not from counters."""
    _emf(name, MetricUnit.NoUnit, value, dimensions)


class EmittingCounters:
    """The Counters port that also prints each fact as a CloudWatch EMF metric.

    The pipeline counts through its ``Counters`` port; wrapping the shared store in this adapter makes
    every function emit the same facts to CloudWatch (EMF) as it writes to the store behind /metrics.
    """

    def __init__(self, inner: Counters) -> None:
        self._inner = inner
        self.store_failures = 0  # writes the shared store refused (CloudWatch still has each fact, as EMF)

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
        _emf(name, MetricUnit.Count, by, labels)
        self._guarded("incr", lambda: self._inner.incr(name, labels, by))

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        _emf(name, MetricUnit.Seconds if name.endswith("_seconds") else MetricUnit.NoUnit, value, labels)
        self._guarded("observe", lambda: self._inner.observe(name, labels, value, buckets))

    def snapshot(self) -> Snapshot:
        return self._inner.snapshot()

    def flush(self) -> None:
        self._guarded("flush", self._inner.flush)

    def _guarded(self, what: str, write: Callable[[], None]) -> None:
        """A counter store that fails (throttled, down) is logged, never raised: a metric must not fail a
        trade, a 202 or a batch (whose redelivery would only do the work again). The EMF line is out."""
        try:
            write()
        except Exception as exc:
            self.store_failures += 1
            logger.warning("counter store %s failed: %s (the EMF metric was written)", what, type(exc).__name__)


# ----------------------------------------------------------------------------------------- Prometheus

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")
Series = dict[tuple[tuple[str, str], ...], dict[str, Any]]


def render_prometheus(snapshot: Snapshot) -> str:
    """Prometheus text exposition (version 0.0.4) of a Counters snapshot."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))  # a collector is anything with collect()
    return generate_latest(registry).decode("utf-8")


def _go_float(value: float) -> str:
    """A bucket bound as Prometheus writes it (``1.0``, ``0.005``), so ``le`` labels match the client's."""
    from prometheus_client.utils import floatToGoString

    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def _le_key(le: str) -> float:
    return float("inf") if le == "+Inf" else float(le)


def _canonical_le(le: str) -> str:
    return "+Inf" if le == "+Inf" else _go_float(float(le))


class _SnapshotCollector:
    """Turns a Counters snapshot into metric families, so prometheus_client writes the text."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        histograms = set(HISTOGRAMS) | {
            name[: -len("_bucket")] for name, _ in self.snapshot if name.endswith("_bucket")
        }
        hist_series: dict[str, Series] = defaultdict(dict)
        plain: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for (name, labels), value in self.snapshot.items():
            base = next((name[: -len(s)] for s in _HIST_SUFFIXES if name.endswith(s)), None)
            if base is not None and base in histograms:
                key = tuple((k, v) for k, v in labels if k != "le")
                series = hist_series[base].setdefault(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
                if name.endswith("_bucket"):
                    le = _canonical_le(dict(labels).get("le", "+Inf"))
                    series["buckets"][le] = series["buckets"].get(le, 0.0) + value
                else:
                    series[name[len(base) + 1 :]] += value
            else:
                plain[name][labels] = plain[name].get(labels, 0.0) + value
        for name in HISTOGRAMS:
            hist_series[name].setdefault((), {"buckets": {}, "sum": 0.0, "count": 0.0})
        for name in SEEDED:
            plain.setdefault(name, {})

        families = [_histogram(name, series) for name, series in hist_series.items()]
        families += [_plain(name, series) for name, series in plain.items()]
        return sorted(families, key=lambda m: m.name)


def _histogram(name: str, series: Series) -> Metric:
    from prometheus_client.metrics_core import Metric

    family = Metric(_INVALID_NAME.sub("_", name), HELP.get(name, name), "histogram")
    known = [_go_float(b) for b in HISTOGRAMS.get(name, ())]
    for labels in sorted(series):
        data = series[labels]
        stored: dict[str, float] = data["buckets"]
        bounds = sorted({*known, *stored} - {"+Inf"}, key=_le_key)
        running = 0.0
        for le in bounds:
            # Counters keep buckets cumulative; a bound never reached has no key (it is 0), and the
            # running max keeps the line monotonic even if the store was read mid-update
            running = max(running, stored.get(le, running))
            family.add_sample(family.name + "_bucket", {**dict(labels), "le": le}, running)
        total = max(running, stored.get("+Inf", 0.0), float(data["count"]))
        family.add_sample(family.name + "_bucket", {**dict(labels), "le": "+Inf"}, total)
        family.add_sample(family.name + "_count", dict(labels), total)
        family.add_sample(family.name + "_sum", dict(labels), float(data["sum"]))
    return family


def _plain(name: str, series: Mapping[tuple[tuple[str, str], ...], float]) -> Metric:
    from prometheus_client.metrics_core import Metric

    clean = _INVALID_NAME.sub("_", name)
    if name in GAUGES:
        family = Metric(clean, HELP.get(name, name), "gauge")
    elif clean.endswith("_total"):
        family = Metric(clean[: -len("_total")], HELP.get(name, name), "counter")
    else:
        family = Metric(clean, HELP.get(name, name), "untyped")
    for labels in sorted(series):
        family.add_sample(clean, dict(labels), series[labels])
    return family
