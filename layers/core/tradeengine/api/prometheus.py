"""Prometheus text (exposition format 0.0.4) from a ``Counters.snapshot()``, written by prometheus_client.

The counters live in a shared store, so every API instance renders the same figures. Histograms come
from ``*_bucket``/``*_sum``/``*_count`` series (``observability.HISTOGRAMS`` are always present, as are
the seed's counters, so a dashboard finds every family from the first scrape). Imported only by the API
(through ``observability.render_prometheus``), on the first /metrics: prometheus_client costs a cold
start about 20 ms that the queue functions never need.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tradeengine.observability import _SEED_COUNTERS, GAUGES, HELP, HISTOGRAMS, Snapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def _go_float(value: float) -> str:
    """A bucket bound as Prometheus writes it (``1.0``, ``0.005``), so ``le`` labels match the client's."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def _le_key(le: str) -> float:
    return float("inf") if le == "+Inf" else float(le)


def _canonical_le(le: str) -> str:
    return "+Inf" if le == "+Inf" else _go_float(float(le))


class _SnapshotCollector(Collector):
    """Turns a Counters snapshot into metric families, so prometheus_client writes the text."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        histograms = set(HISTOGRAMS) | {
            name[: -len("_bucket")] for name, _ in self.snapshot if name.endswith("_bucket")
        }
        hist_series: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = defaultdict(dict)
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
        for name in _SEED_COUNTERS:
            plain.setdefault(name, {})

        families: list[Metric] = [self._histogram(name, series) for name, series in hist_series.items()]
        families += [self._plain(name, series) for name, series in plain.items()]
        return sorted(families, key=lambda m: m.name)

    @staticmethod
    def _histogram(name: str, series: Mapping[tuple[tuple[str, str], ...], Mapping[str, Any]]) -> Metric:
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

    @staticmethod
    def _plain(name: str, series: Mapping[tuple[tuple[str, str], ...], float]) -> Metric:
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


def render(snapshot: Snapshot) -> str:
    """Prometheus text exposition (version 0.0.4) of a Counters snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry).decode("utf-8")
