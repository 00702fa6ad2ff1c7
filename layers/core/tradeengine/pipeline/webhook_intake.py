"""Webhook intake: a hook's alert, its passphrase checked, recorded and queued like POST /trade/signal.

``receive`` only reads the hook, compares the passphrase and hands the mapped signal to ``ingest`` (one
conditional put, one queue send, one state move): it answers in tens of milliseconds, well inside the 3 s
TradingView waits. In order:

1. A source address with ``limit`` wrong passphrases in this minute is refused (``rate_limited``) before
   anything is compared, whatever it sends, until the minute ends.
2. An unknown or revoked hook, a missing or wrong passphrase: ``unauthorized``, with nothing said about
   which; counted (``tradeengine_webhook_requests_total{result="unauthorized"}``) and added to the source
   address's failures.
3. The alert is mapped (``tradingview.read_alert``); what is wrong with it is named, field by field.
4. ``ingest`` records and queues it. A TradingView retry of the alert (same content in the same minute,
   or the next minute within ``RETRY_WINDOW`` of the first) answers ``duplicate``: the id is derived from
   the content and the minute, and the receipt time the retry gives it is the only difference allowed.

The passphrase is dropped before anything is recorded; no log line here names it or the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradeengine.hooks import AuthFailures, HookStore, rejects_unknown, valid_hook_id
from tradeengine.metrics import WEBHOOK_REQUESTS
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.ports import SignalQueue, SignalRecord
from tradeengine.pipeline.recorder import Recorder
from tradeengine.tradingview import RETRY_WINDOW, read_alert

log = logging.getLogger(__name__)

SOURCE = "webhook"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # accepted | duplicate | invalid | conflict | unauthorized | rate_limited
    signal_id: str | None = None
    record: SignalRecord | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    conflict: str | None = None


def receive(
    hook_id: str,
    body: Mapping[str, Any],
    source_ip: str,
    *,
    hooks: HookStore,
    failures: AuthFailures,
    limit: int,
    recorder: Recorder,
    queue: SignalQueue,
) -> Outcome:
    counters = recorder.counters
    if failures.count(source_ip) >= limit:
        counters.incr(WEBHOOK_REQUESTS, {"result": "rate_limited"})
        return Outcome("rate_limited")
    passphrase = body.get("passphrase")
    hook = hooks.get(hook_id) if valid_hook_id(hook_id) else None
    now = recorder.clock()
    if not isinstance(passphrase, str) or not passphrase:
        accepted = False
    elif hook is None:
        accepted = rejects_unknown(passphrase)
    else:
        accepted = hook.accepts(passphrase, now)
    if hook is None or not accepted:
        failed = failures.add(source_ip)
        counters.incr(WEBHOOK_REQUESTS, {"result": "unauthorized"})
        log.warning("webhook refused: unknown hook or wrong secret (%d from this address this minute)", failed)
        return Outcome("unauthorized")
    alert = read_alert(body, hook, now)
    if isinstance(alert, list):
        counters.incr(WEBHOOK_REQUESTS, {"result": "invalid", "strategy_id": hook.strategy_id})
        return Outcome("invalid", errors=[e.as_json() for e in alert])
    earlier = recorder.store.get(alert.earlier_id)
    if earlier is not None and _same_hook(earlier, hook.hook_id) and now - earlier.created_at <= RETRY_WINDOW:
        counters.incr(WEBHOOK_REQUESTS, {"result": "duplicate", "strategy_id": hook.strategy_id})
        return Outcome("duplicate", earlier.signal_id, earlier)
    result = ingest(alert.signal, source=SOURCE, recorder=recorder, queue=queue)
    labels = {"strategy_id": hook.strategy_id}
    if result.errors:
        counters.incr(WEBHOOK_REQUESTS, {"result": "invalid", **labels})
        return Outcome("invalid", result.signal_id, result.record, errors=result.errors)
    if result.conflict:
        # Under an id this hook derived, only the same alert can be recorded: it came again later in the
        # minute, dated by its receipt. Anything else holding the id (a strategy that chose it) is a conflict.
        if result.record is not None and _same_hook(result.record, hook.hook_id):
            counters.incr(WEBHOOK_REQUESTS, {"result": "duplicate", **labels})
            return Outcome("duplicate", result.signal_id, result.record)
        counters.incr(WEBHOOK_REQUESTS, {"result": "conflict", **labels})
        return Outcome("conflict", result.signal_id, result.record, conflict=result.conflict)
    counters.incr(WEBHOOK_REQUESTS, {"result": "duplicate" if result.duplicate else "accepted", **labels})
    return Outcome("duplicate" if result.duplicate else "accepted", result.signal_id, result.record)


def _same_hook(record: SignalRecord, hook_id: str) -> bool:
    meta = record.signal.get("meta") or {}
    tags = meta.get("tags") if isinstance(meta, Mapping) else None
    return record.source == SOURCE and isinstance(tags, Mapping) and tags.get("hook_id") == hook_id
