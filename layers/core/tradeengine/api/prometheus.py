"""Prometheus text (exposition format 0.0.4) from a ``Counters.snapshot()``.

Used only when ``tradeengine.observability.render_prometheus`` is not there. Names ending in
``_bucket``/``_sum``/``_count`` that share a base are one histogram; ``*_total`` is a counter; the rest
are gauges. The counters live in a shared store, so every API instance renders the same figures.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any, cast

Snapshot = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def renderer() -> Callable[[Snapshot], str]:
    """The shared renderer of ``tradeengine.observability`` when it exists, else this module's."""
    try:
        module: Any = importlib.import_module("tradeengine.observability")
    except ImportError:
        return render
    found = getattr(module, "render_prometheus", None)
    return cast(Callable[[Snapshot], str], found) if callable(found) else render


def render(snapshot: Snapshot) -> str:
    families: dict[str, tuple[str, list[tuple[str, tuple[tuple[str, str], ...], float]]]] = {}
    histograms = {name[: -len("_bucket")] for (name, _) in snapshot if name.endswith("_bucket")}
    for (name, labels), value in snapshot.items():
        base, kind = _family(name, histograms)
        families.setdefault(base, (kind, []))[1].append((name, labels, value))
    lines: list[str] = []
    for base in sorted(families):
        kind, samples = families[base]
        lines.append(f"# TYPE {base} {kind}")
        for name, labels, value in sorted(samples, key=_order):
            lines.append(f"{name}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n" if lines else ""


def _family(name: str, histograms: set[str]) -> tuple[str, str]:
    for part in _HISTOGRAM_PARTS:
        if name.endswith(part) and name[: -len(part)] in histograms:
            return name[: -len(part)], "histogram"
    if name.endswith("_total"):
        return name, "counter"  # TYPE names the sample, as prometheus_client writes it
    return name, "gauge"


def _order(sample: tuple[str, tuple[tuple[str, str], ...], float]) -> tuple[str, tuple[tuple[str, str], ...], float]:
    name, labels, _ = sample
    others = tuple((k, v) for k, v in labels if k != "le")
    le = dict(labels).get("le")
    bound = math.inf if le in (None, "+Inf") else float(le or 0)
    return name, others, bound


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() else repr(float(value))
