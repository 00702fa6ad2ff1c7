"""Fixtures shared by the unit tests."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the engine's logger writes during the test (its handler's stream, swapped for a buffer)."""
    from tradeengine import logs

    handler = logs.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)
