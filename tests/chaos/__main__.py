"""``python -m tests.chaos [--quick] [scenario ...]``: the fault matrix on real local servers.

One line per scenario, ``FAULT <name>: signals=<n> orders=<n> lost=<n> duplicates=<n> <ok|FAILED>``
(with the reasons beneath a failure), then ``faults survived: <k>/<n>``; exit 0 only if all survived.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from tests.chaos.scenarios import FULL, MATRIX, QUICK, run
from tests.chaos.servers import Servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(MATRIX)}")
    parser.add_argument("--quick", action="store_true", help="fewer signals, a 5 s MongoDB outage")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in MATRIX]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {sorted(MATRIX)}")
    names = args.scenarios or list(MATRIX)
    size = QUICK if args.quick else FULL
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Petrosa/TradeEngine")
    logging.basicConfig(level=logging.CRITICAL)  # the drills make the engine log warnings by design
    started = time.monotonic()
    servers = Servers.start()
    out = sys.stdout
    print(f"chaos: servers up in {time.monotonic() - started:.1f}s (logs in {servers.work})", file=out, flush=True)
    survived = 0
    # The engine prints EMF metrics and logs on stdout/stderr (as a Lambda does): keep them in a file.
    engine_log = (servers.work / "engine.log").open("w")
    sys.stdout = sys.stderr = engine_log
    try:
        for name in names:
            t0 = time.monotonic()
            result = run(name, servers, size)
            survived += result.ok
            print(f"{result.line(name)}  ({time.monotonic() - t0:.1f}s)", file=out, flush=True)
            for problem in result.problems[:10]:
                print(f"    {problem}", file=out, flush=True)
    finally:
        sys.stdout, sys.stderr = out, sys.__stderr__
        engine_log.close()
        servers.stop()
    print(f"faults survived: {survived}/{len(names)}", flush=True)
    return 0 if survived == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
