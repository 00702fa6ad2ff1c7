"""Ingest: validate a signal, record it once, and queue it for sizing (the API and the bridge share this).

Exactly once, whatever the retries: the first caller creates the record (conditional write); a repeat
answers with the existing state and ``duplicate: true``. A repeat is the same signal only when its validated
content hashes the same as the recorded one (``contracts.signal.content_digest``); another signal under a
used signal_id is a conflict, answered with ``conflict`` and never queued (an idempotency key is not
reusable, as in payment APIs). A record left in RECEIVED (the process died
between recording and queueing) is queued again by the repeat, and SQS FIFO's deduplication on the
signal id makes that resend harmless. A signal that fails validation is recorded REJECTED
(INVALID_SIGNAL) when it names its signal_id, so the strategy can look up why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contracts.errors import describe
from contracts.messages import SignalMessage
from contracts.signal import SIGNAL_ID_PATTERN, Signal
from contracts.status import SignalState
from tradeengine.metrics import SIGNALS
from tradeengine.pipeline.arrival import conflict_reason, received, record_invalid, same_content
from tradeengine.pipeline.ports import SignalQueue, SignalRecord, Step
from tradeengine.pipeline.recorder import Recorder

_SIGNAL_ID = re.compile(SIGNAL_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class IngestResult:
    signal_id: str | None
    state: SignalState | None
    duplicate: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)
    record: SignalRecord | None = None
    conflict: str | None = None  # the signal_id is taken by another signal: why, in a sentence

    @property
    def accepted(self) -> bool:
        return not self.errors


def ingest(raw: Mapping[str, Any], *, source: str, recorder: Recorder, queue: SignalQueue) -> IngestResult:
    now = recorder.clock()
    try:
        signal = Signal.model_validate(raw)
    except ValidationError as exc:
        return _invalid(raw, exc, source, recorder)
    sid = signal.id
    if not recorder.create(received(sid, source, now, raw, signal)):
        existing = recorder.store.get(sid)
        if existing is not None and not same_content(existing, signal):
            recorder.counters.incr(SIGNALS, {"source": source, "result": "conflict"})
            return IngestResult(sid, existing.state, record=existing, conflict=conflict_reason(existing, signal))
        if existing is not None and existing.state is not SignalState.RECEIVED:
            recorder.counters.incr(SIGNALS, {"source": source, "result": "duplicate"})
            return IngestResult(sid, existing.state, duplicate=True, record=existing)
        # RECEIVED but never queued: finish the job (the FIFO dedup id makes a resend harmless).
    queue.send(sid, signal.symbol, SignalMessage.of(signal, source, now).wire())
    queued = recorder.advance(sid, Step(SignalState.QUEUED))
    current = queued or recorder.store.get(sid)
    recorder.counters.incr(SIGNALS, {"source": source, "result": "queued"})
    return IngestResult(sid, current.state if current else SignalState.QUEUED, record=current)


def _invalid(raw: Mapping[str, Any], exc: ValidationError, source: str, recorder: Recorder) -> IngestResult:
    errors = describe(exc)
    recorder.counters.incr(SIGNALS, {"source": source, "result": "invalid"})
    sid = raw.get("signal_id") if isinstance(raw, Mapping) else None
    if not isinstance(sid, str) or not _SIGNAL_ID.match(sid):
        return IngestResult(None, None, errors=errors)
    record, new = record_invalid(sid, raw, errors, source, recorder)
    return IngestResult(sid, record.state if record else None, duplicate=not new, errors=errors, record=record)
