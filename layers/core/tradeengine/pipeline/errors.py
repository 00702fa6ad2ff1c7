"""What a stage raises to tell its queue consumer how a message ends (``sqs_batch.run_record`` acts on it).

- ``MalformedMessage``: no signal id to record anything under: the message goes to the dead-letter queue
  with its reason, since retrying cannot make it readable (``ConflictingSignal`` is one).
- ``RetryLater``: nothing was decided; the message comes back, no sooner than ``delay_s`` when given.

Shared by sizing and execution, so neither stage imports the other for them.
"""

from __future__ import annotations


class MalformedMessage(ValueError):
    """A message with no usable signal id: it cannot be recorded, so it must end in the DLQ."""


class ConflictingSignal(MalformedMessage):
    """Another signal under a signal_id already recorded for a different one: dead-lettered with the reason.

    Never recorded REJECTED: the record belongs to the first signal, whose own message may still be on its way.
    """


class RetryLater(RuntimeError):
    """A dependency (market data, the exchange) is unavailable: nothing was decided, retry the message.

    ``delay_s``: retry no sooner than this (the queue consumer postpones the message that long).
    """

    def __init__(self, message: str, delay_s: float | None = None) -> None:
        super().__init__(message)
        self.delay_s = delay_s
