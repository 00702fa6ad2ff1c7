"""Every step of a signal: state transition (conditional, forward only), audit events, counters.

Audit writes never block trading: the state transition is the source of truth and carries each step's
detail in its history; the audit trail is written from that history, whole, every time (idempotent on
(signal_id, seq)). A failed audit write is healed by the next successful one for the same signal; a
stage that saw a failure raises ``AuditBacklog`` *after* its state is safe, so the queue redelivers the
message and the redelivery writes the history again.

One audit write and one events publish per message, not one per step or per signal: the steps a stage
takes while handling one message (SUBMITTED → FILLED in execution, a close's canceled exits), and the
book's fill and position events booked meanwhile (``attach``), are written in one bulk write and
published in one batch when the stage is done with the message (``flush``: by ``raise_if_backlog`` at the
end of a stage, and when the recorder's ``with`` block exits, whatever way it exits). The steps are
durable in the state store the moment they happen; the audit trail trails them by at most one message's
handling.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from contracts.money import dumps
from contracts.status import AuditEvent
from tradeengine.metrics import ERRORS
from tradeengine.pipeline.ports import AuditSink, Counters, SignalRecord, SignalStateStore, Step, Transition

log = logging.getLogger(__name__)


class AuditBacklog(Exception):
    """The state is saved but its audit events are not yet: retry the message to write them."""


def audit_events(record: SignalRecord, mode: str) -> list[AuditEvent]:
    """The audit trail of a signal, derived from its state history (seq = step number, from 1)."""
    return [
        AuditEvent(
            signal_id=record.signal_id,
            seq=seq,
            stage=step.stage or "ingest",
            state=step.state,
            at=step.at,
            mode=mode,
            code=step.code,
            detail={**({"reason": step.reason} if step.reason else {}), **dict(step.detail)},
            latency_ms=step.took_ms,  # how long the stage had been at its message when it wrote the step
        )
        for seq, step in enumerate(record.history, start=1)
    ]


def as_created(record: SignalRecord) -> SignalRecord:
    """``record`` as ``SignalStateStore.create`` stores it: its steps, their detail as JSON, version = their number."""
    history = record.history or (Transition(record.state, record.created_at),)
    history = tuple(replace(step, detail=json.loads(dumps(dict(step.detail)))) for step in history)
    return replace(record, version=len(history), history=history)


@dataclass
class Recorder:
    store: SignalStateStore
    audit: AuditSink
    counters: Counters
    mode: str  # simulation | testnet | mainnet
    stage: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    audit_failed: bool = False
    events: Any = None  # pipeline.events_out.EventsOut: each flushed signal's new steps, published best effort
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)
    _pending: dict[str, SignalRecord] = field(default_factory=dict, init=False, repr=False)
    _first_step: dict[str, int] = field(default_factory=dict, init=False, repr=False)  # per signal, seq from 1
    _attached: list[AuditEvent] = field(default_factory=list, init=False, repr=False)  # the book's, this message
    _began: float = field(default=0.0, init=False, repr=False)  # this message's start (monotonic), for took_ms

    def __post_init__(self) -> None:
        self._began = self.monotonic()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()  # an exception on the way out still leaves the steps taken in the audit trail

    def create(self, record: SignalRecord) -> bool:
        created = self.store.create(record)
        if created:
            # The audit is written from the record as the store keeps it (version 1, the first step, its detail
            # as JSON), built here rather than read back: one round trip less per signal, the same events.
            self.write_audit(as_created(record))
        return created

    def advance(self, signal_id: str, step: Step) -> SignalRecord | None:
        """Move the signal by ``step``, as this stage and now; None when the move is not legal any more."""
        new = self.store.advance(signal_id, replace(step, stage=self.stage, at=self.clock(), took_ms=self.took_ms()))
        if new is not None:
            self._first_step.setdefault(signal_id, len(new.history))  # the first step this recorder took
            self.write_audit(new)
        return new

    def from_start(self, signal_id: str) -> None:
        """The signal's earlier steps were neither audited nor published (ingest left them to this stage):
        the flush writes and publishes its history from the first step, with this stage's."""
        self._first_step[signal_id] = 1

    def write_audit(self, record: SignalRecord) -> None:
        """Have ``record``'s history written to the audit trail at the next ``flush`` (the latest record of
        each signal wins: its history holds every earlier step)."""
        known = self._pending.get(record.signal_id)
        self._first_step.setdefault(record.signal_id, 1)  # a record read back (a heal): every step, again
        if known is None or record.version >= known.version:
            self._pending[record.signal_id] = record

    def took_ms(self) -> int:
        """Milliseconds since this recorder began its message (a stage's message; the monitor's: each signal)."""
        return int((self.monotonic() - self._began) * 1000)

    def attach(self, events: Sequence[AuditEvent]) -> None:
        """The book's fill and position events (``booking``), written and published with this message's steps."""
        self._attached.extend(events)

    def flush(self) -> None:
        """Write what is pending in one audit write, then publish it in one batch; a failure is counted and
        remembered, never raised (trading goes on)."""
        if not self._pending and not self._attached:
            return
        records = list(self._pending.values())
        attached, self._pending, self._attached = self._attached, {}, []
        firsts = [max(self._first_step.pop(r.signal_id, 1) - 1, 0) for r in records]
        try:
            self.audit.record([*attached, *(e for r in records for e in audit_events(r, self.mode))])
        except Exception as exc:  # the audit store is down: trading goes on, the backlog is retried
            self.audit_failed = True
            self.counters.incr(ERRORS, {"type": "audit_write"})
            log.warning("audit write failed for %s: %s", ", ".join(r.signal_id for r in records), type(exc).__name__)
        if self.events is not None:  # never raises: a bus that is down is caught up by the monitor
            self.events.publish(list(zip(records, firsts, strict=True)), attached)
        self._began = self.monotonic()  # the monitor's next signal starts now

    def raise_if_backlog(self) -> None:
        """The end of a stage's work on a message: write the audit, and fail the message if that failed."""
        self.flush()
        if self.audit_failed:
            raise AuditBacklog("audit events could not be written; the message is retried to write them")
