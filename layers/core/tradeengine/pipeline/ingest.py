"""Ingest: validate a signal, record it once, and queue it for sizing (the API and the bridge share this).

Exactly once, whatever the retries: the first caller creates the record (conditional write); a repeat
answers with the existing state and ``duplicate: true``. A repeat is the same signal only when its validated
content hashes the same as the recorded one (``contracts.signal.content_digest``); another signal under a
used signal_id is a conflict, answered with ``conflict`` and never queued (an idempotency key is not
reusable, as in payment APIs). A signal that fails validation is recorded REJECTED
(INVALID_SIGNAL) when it names its signal_id, so the strategy can look up why.

Two requests per signal: one conditional put records it RECEIVED and QUEUED (both steps, one instant), then
the message is sent. A send that fails takes the record back (``forget``), so the 503's "send it again"
records and queues it afresh; a record left QUEUED by a process that died between the two is sent again by
the repeat (SQS FIFO's deduplication on the signal id, and sizing deciding only from QUEUED, make a resend
harmless). The two steps are written to the audit trail and published as events by sizing, with its own
(``SignalMessage.recorded``): the state store holds them the moment the 202 is sent, the audit a stage later.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contracts.errors import describe
from contracts.messages import SignalMessage
from contracts.signal import SIGNAL_ID_PATTERN, Signal
from contracts.status import SignalState
from tradeengine.metrics import SIGNALS
from tradeengine.pipeline.arrival import conflict_reason, received, record_invalid, same_content
from tradeengine.pipeline.ports import SignalQueue, SignalRecord, Step, Transition
from tradeengine.pipeline.recorder import Recorder, as_created

log = logging.getLogger(__name__)
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
    record = queued(received(sid, source, now, raw, signal), recorder.took_ms())
    if recorder.store.create(record):  # RECEIVED and QUEUED in one conditional put, then the message
        try:
            _send(signal, source, now, queue)
        except Exception:
            _take_back(record, recorder)
            raise
        recorder.counters.incr(SIGNALS, {"source": source, "result": "queued"})
        return IngestResult(sid, SignalState.QUEUED, record=as_created(record))
    existing = recorder.store.get(sid)
    if existing is None:  # taken back by a concurrent attempt that could not queue it: this one can retry
        raise SignalVanished(f"signal {sid} was taken back while this request recorded it")
    if not same_content(existing, signal):
        recorder.counters.incr(SIGNALS, {"source": source, "result": "conflict"})
        return IngestResult(sid, existing.state, record=existing, conflict=conflict_reason(existing, signal))
    if existing.state is SignalState.QUEUED:
        # Queued, but maybe never sent (the process died between the put and the send): send again. The FIFO
        # deduplication id is the signal id, and sizing decides only from QUEUED, so a resend is harmless.
        _send(signal, source, existing.created_at, queue)
    elif existing.state is SignalState.RECEIVED:  # recorded by an older release that queued in two writes
        _send(signal, source, existing.created_at, queue, recorded=False)
        existing = recorder.advance(sid, Step(SignalState.QUEUED)) or recorder.store.get(sid) or existing
        recorder.counters.incr(SIGNALS, {"source": source, "result": "queued"})
        return IngestResult(sid, existing.state, record=existing)
    recorder.counters.incr(SIGNALS, {"source": source, "result": "duplicate"})
    return IngestResult(sid, existing.state, duplicate=True, record=existing)


class SignalVanished(RuntimeError):
    """The record ingest found taken was deleted before it could be read: the 503 asks for the retry."""


def queued(record: SignalRecord, took_ms: int | None = None) -> SignalRecord:
    """``record`` (RECEIVED) moved to QUEUED at the same instant: the two steps ingest records in one put."""
    step = Transition(SignalState.QUEUED, record.created_at, stage="ingest", took_ms=took_ms)
    return replace(record, state=SignalState.QUEUED, version=2, history=(*record.history, step))


def _send(signal: Signal, source: str, at: datetime, queue: SignalQueue, *, recorded: bool = True) -> None:
    queue.send(signal.id, signal.symbol, SignalMessage.of(signal, source, at, recorded=recorded).wire())


def _take_back(record: SignalRecord, recorder: Recorder) -> None:
    """The queue refused: the record goes too (if nobody moved it since), so the answer, "send it again",
    is true: the retry records and queues it afresh. Kept if the delete fails: the retry then resends it."""
    try:
        recorder.store.forget(record.signal_id, record.version)
    except Exception as exc:
        log.warning(
            "record of unqueued signal %s kept (%s): its retry resends it", record.signal_id, type(exc).__name__
        )


def _invalid(raw: Mapping[str, Any], exc: ValidationError, source: str, recorder: Recorder) -> IngestResult:
    errors = describe(exc)
    recorder.counters.incr(SIGNALS, {"source": source, "result": "invalid"})
    sid = raw.get("signal_id") if isinstance(raw, Mapping) else None
    if not isinstance(sid, str) or not _SIGNAL_ID.match(sid):
        return IngestResult(None, None, errors=errors)
    record, new = record_invalid(sid, raw, errors, source, recorder)
    return IngestResult(sid, record.state if record else None, duplicate=not new, errors=errors, record=record)
