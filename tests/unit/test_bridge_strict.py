"""The bridge reads a NATS payload as strictly as the API reads a body: what the API refuses with a 4xx,
the bridge dead-letters with the same words, before anything reaches SQS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.bridge.decode import Entry, Malformed, decode
from tests.conftest import signal_dict

NOW = datetime.now(UTC)


def test_a_valid_signal_still_becomes_an_entry() -> None:
    assert isinstance(decode(json.dumps(signal_dict()).encode(), NOW, 65536), Entry)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (json.dumps(signal_dict())[:-1] + ', "action": "sell"}', "'action' appears twice"),
        (json.dumps(signal_dict())[:-1] + ', "n": ' + "9" * 5000 + "}", "integer of 5000 digits"),
        ("[" * 30_000 + "]" * 30_000, "too deeply"),
        (json.dumps(signal_dict(price="1e999999")), "price: must have at most 20 digits"),
        (json.dumps(signal_dict(meta={"tags": {"n": "rocket \ud83d"}})), "meta.tags.n: holds a lone UTF-16 surrogate"),
        (json.dumps(signal_dict(signal_id="..")), "signal_id"),
        (json.dumps(signal_dict(quantity=1, meta={"quote_quantity": 10})), "quantity, meta.quote_quantity"),
    ],
    ids=["duplicate key", "5000 digits", "too deep", "huge exponent", "lone surrogate", "dot id", "two sizes"],
)
def test_what_the_api_refuses_is_dead_lettered_with_the_reason(payload: str, words: str) -> None:
    outcome = decode(payload.encode(), NOW, 100_000)
    assert isinstance(outcome, Malformed) and words in outcome.reason, outcome
