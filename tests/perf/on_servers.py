"""The ``main`` the server benches share: start the local servers, run, print ``BENCH key=value``.

The handlers print EMF metrics and logs as a Lambda does; while the bench runs they go to
``engine.log`` in the servers' folder, so stdout carries only the figures (and the tables after them).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

Figures = Mapping[str, str]


def run_on_servers(body: Callable[[Any], tuple[Figures, str]]) -> int:
    """Start the servers, run ``body(servers)`` with the engine's output in ``engine.log``, stop them, print.
    ``body`` returns the figures and the tables to print after them ("" for none)."""
    from tests.chaos.servers import Servers

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Petrosa/TradeEngine")
    logging.basicConfig(level=logging.CRITICAL)
    servers = Servers.start()
    out = sys.stdout
    log = (servers.work / "engine.log").open("w")
    sys.stdout = sys.stderr = log
    try:
        figures, tables = body(servers)
    finally:
        sys.stdout, sys.stderr = out, sys.__stderr__
        log.close()
        servers.stop()
    for key, value in figures.items():
        print(f"BENCH {key}={value}", flush=True)
    if tables:
        print(tables, flush=True)
    return 0
