"""Logger and metrics: the one module that creates the observability objects.

- ``logger`` is powertools' JSON Logger for service ``tradeengine``. That is also the package's name,
  so every module's plain ``logging.getLogger(__name__)`` (``tradeengine.pipeline.recorder`` ...) flows
  through the same handler, JSON and redacted alike.
- Secrets never reach a log line: the formatter masks, in the final text, the value of every secret
  setting (``SecretStr`` fields: JWT key, Binance key/secret, MongoDB URL and its password), any value
  added with ``add_secret`` (e.g. keys loaded from Secrets Manager), and the password of any
  ``scheme://user:password@`` URL.
- ``record_trade`` / ``record_error`` / ``record_latency`` / ``record_nats`` state one fact twice: as a
  CloudWatch EMF metric (printed at once with its own dimensions, so a crash later in the invocation
  loses nothing) and in the shared ``Counters`` port (DynamoDB in the functions, ``use_counters``), from
  which ``/metrics`` renders Prometheus text, identical whichever Lambda instance answers. A counter
  store that fails is logged, never raised: metrics must not fail a trade.
- EMF dimensions: ``service`` plus the Prometheus labels (``status``, ``type``). Handlers add the
  cold-start metric with ``@metrics.log_metrics(capture_cold_start_metric=True)``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import SecretStr

from tradeengine.pipeline.memory import MemoryCounters
from tradeengine.pipeline.ports import Counters

if TYPE_CHECKING:
    from tradeengine.config import Settings

SERVICE = "tradeengine"
NAMESPACE = "Petrosa/TradeEngine"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # prometheus_client.CONTENT_TYPE_LATEST

TRADES = "tradeengine_trades_total"
ERRORS = "tradeengine_errors_total"
LATENCY = "tradeengine_latency_seconds"
NATS = "tradeengine_nats_messages_processed_total"
# signal -> terminal state spans queues and an exchange round trip: from milliseconds to a minute
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HELP: dict[str, str] = {
    TRADES: "Trades by status and order type.",
    ERRORS: "Errors by type.",
    LATENCY: "Time from a signal's receipt to its outcome, in seconds.",
    NATS: "NATS messages processed by the bridge, by status.",
    "tradeengine_position_quantity": "Base quantity each strategy holds of a symbol, by the book.",
    "tradeengine_realized_pnl": "Realized PnL after fees per strategy, in the quote asset, by the book.",
}
GAUGES = frozenset({"tradeengine_position_quantity", "tradeengine_realized_pnl"})  # levels, read at scrape
HISTOGRAMS: dict[str, tuple[float, ...]] = {LATENCY: LATENCY_BUCKETS}
_SEED_COUNTERS = (TRADES, ERRORS, NATS)

Snapshot = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]

# --------------------------------------------------------------------------------------------- secrets

REDACTED = "***"
_MIN_SECRET_LEN = 4  # masking "a" or "x1" everywhere would destroy logs and protect nothing
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@")


class SecretRedactor:
    """Masks known secret values (raw and JSON-escaped) and URL passwords in a piece of text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self.settings_loaded = False

    def add(self, *values: str | SecretStr | None) -> None:
        with self._lock:
            for value in values:
                raw = value.get_secret_value() if isinstance(value, SecretStr) else value
                if not raw or len(raw) < _MIN_SECRET_LEN:
                    continue
                self._values.add(raw)
                self._values.add(json.dumps(raw)[1:-1])  # as it appears inside a JSON log line
                if match := _URL_PASSWORD.search(raw):  # the password alone may show up elsewhere
                    password = raw[match.end("head") : match.end() - 1]
                    if len(password) >= _MIN_SECRET_LEN:
                        self._values.add(password)

    def add_settings(self, settings: Settings) -> None:
        self.add(*(v for v in vars(settings).values() if isinstance(v, SecretStr)))
        self.settings_loaded = True

    def values(self) -> tuple[str, ...]:
        """Every secret value known so far, longest first (the API's error redactor masks these too)."""
        with self._lock:
            return tuple(sorted(self._values, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):  # longest first: a URL before its password
            if value in text:
                text = text.replace(value, REDACTED)
        return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)


redactor = SecretRedactor()


def add_secret(*values: str | SecretStr | None) -> None:
    """Mask these values in every log line from now on (secrets loaded at run time)."""
    redactor.add(*values)


def _load_settings_secrets() -> None:
    """The secret settings, read once, lazily: logging works even before ``configure`` is called."""
    if redactor.settings_loaded:
        return
    redactor.settings_loaded = True
    try:
        from tradeengine.config import get_settings

        redactor.add_settings(get_settings())
    except Exception:  # invalid environment: the process fails at start anyway, with its own message
        return


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter whose finished line has every known secret masked."""

    def format(self, record: logging.LogRecord) -> str:
        _load_settings_secrets()
        return redactor(super().format(record))


class RedactingFilter(logging.Filter):
    """For plain logging handlers (a CLI, uvicorn): masks secrets in the message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        _load_settings_secrets()
        record.msg = redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor(record.exc_text)
        return True


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def configure(settings: Settings) -> None:
    """Apply the validated settings: log level, and the secrets to mask (called once per process)."""
    redactor.add_settings(settings)
    logger.setLevel(settings.log_level)


# --------------------------------------------------------------------------------------------- facts

_counters: Counters = MemoryCounters()  # process-local until a function plugs in the shared store


def use_counters(counters: Counters) -> Counters:
    """Send the facts to ``counters`` from now on (the DynamoDB store in the functions); returns the old."""
    global _counters
    previous, _counters = _counters, counters
    return previous


def counters() -> Counters:
    return _counters


def _emf(name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str]) -> None:
    try:
        with single_metric(
            name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
        ) as metric:
            for key, dim in dimensions.items():
                metric.add_dimension(name=key, value=dim)
    except Exception as exc:  # a bad dimension value must not fail a trade
        logger.warning("EMF metric not emitted", extra={"metric": name, "error": type(exc).__name__})


def _count(name: str, labels: Mapping[str, str], value: float = 1, buckets: Sequence[float] | None = None) -> None:
    try:
        if buckets is None:
            _counters.incr(name, labels, value)
        else:
            _counters.observe(name, labels, value, buckets)
    except Exception as exc:  # the counter store is down: CloudWatch still has the fact
        logger.warning("counter not updated", extra={"metric": name, "error": type(exc).__name__})


def emit_gauge(name: str, value: float, dimensions: Mapping[str, str]) -> None:
    """A level (a position's quantity, a strategy's realized PnL) as a CloudWatch EMF metric. Prometheus
    reads the same levels from their store at scrape time (the API's /metrics), not from counters."""
    _emf(name, MetricUnit.NoUnit, value, dimensions)


def record_trade(status: str, type: str) -> None:  # `type`: the seed's label name
    labels = {"status": status, "type": type}
    _emf(TRADES, MetricUnit.Count, 1, labels)
    _count(TRADES, labels)


def record_error(type: str) -> None:  # `type`: the seed's label name
    labels = {"type": type}
    _emf(ERRORS, MetricUnit.Count, 1, labels)
    _count(ERRORS, labels)


def record_latency(seconds: float) -> None:
    _emf(LATENCY, MetricUnit.Seconds, seconds, {})
    _count(LATENCY, {}, seconds, LATENCY_BUCKETS)


def record_nats(status: str) -> None:
    labels = {"status": status}
    _emf(NATS, MetricUnit.Count, 1, labels)
    _count(NATS, labels)


class EmittingCounters:
    """The Counters port that also prints each fact as a CloudWatch EMF metric.

    The pipeline counts through its ``Counters`` port; wrapping the shared store in this adapter makes
    every function emit the same facts to CloudWatch (EMF) as it writes to the store behind /metrics.
    """

    def __init__(self, inner: Counters) -> None:
        self._inner = inner

    def incr(self, name: str, labels: Mapping[str, str], by: float = 1) -> None:
        _emf(name, MetricUnit.Count, by, labels)
        self._inner.incr(name, labels, by)

    def observe(self, name: str, labels: Mapping[str, str], value: float, buckets: Sequence[float]) -> None:
        _emf(name, MetricUnit.Seconds if name.endswith("_seconds") else MetricUnit.NoUnit, value, labels)
        self._inner.observe(name, labels, value, buckets)

    def snapshot(self) -> Mapping[tuple[str, tuple[tuple[str, str], ...]], float]:
        return self._inner.snapshot()

    def flush(self) -> None:
        self._inner.flush()


# ------------------------------------------------------------------------------------------ prometheus


def render_prometheus(snapshot: Snapshot) -> str:
    """Prometheus text exposition (version 0.0.4) of a Counters snapshot. prometheus_client is imported
    here, on first use, not at a cold start: only the API's /metrics needs it."""
    from tradeengine.api.prometheus import render

    return render(snapshot)
