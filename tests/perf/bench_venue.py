"""`make bench` (after bench_e2e, on its servers): a burst at the venue's own order limit, limits enforced.

The local exchange enforces its exchangeInfo rateLimits scaled by BENCH_VENUE_SCALE (default 0.2: 1,200
weight a minute, 20 orders per 10 s), and BENCH_VENUE_BURST (default 1.5) times its 10-second order limit
arrives at once through the API. The real handlers (4 sizing and 4 execution containers, as bench_e2e runs
them) must place every order once, pacing them through SQS instead of meeting 429s:

- ``venue_burst_lost`` / ``venue_burst_duplicates``: counted on the exchange's book by client order id;
- ``venue_429`` / ``venue_418``: the answers of those statuses the engine received (``venue_418_bans`` the
  exchange's own ban count);
- ``venue_orders_per_10s_peak``: the highest ``X-MBX-ORDER-COUNT-10S`` the engine was answered;
- ``venue_weight_per_signal``: the request weight the exchange counted during the burst, per signal (a
  warm-up signal per symbol first reads the rules, as a running engine has);
- ``venue_burst_s`` (first accept → last acknowledgement) beside ``venue_burst_floor_s``, the limit's own
  floor: orders ÷ (limit per 10 s) × 10 s.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.request
import uuid
from typing import Any

from tests.perf.bench_e2e import _outcome, _poller, _post_all

SCALE = os.environ.get("BENCH_VENUE_SCALE", "0.2")
BURST = float(os.environ.get("BENCH_VENUE_BURST", "1.5"))
CONTAINERS = int(os.environ.get("BENCH_E2E_CONTAINERS", "4"))
TIMEOUT_S = float(os.environ.get("BENCH_VENUE_TIMEOUT", "120"))
MEASURE = {"rateLimitType": "REQUEST_WEIGHT", "interval": "DAY", "intervalNum": 1, "limit": 10**12}


def limits(servers: Any, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{servers.exchange_url}/admin/limits", data=data, method="POST" if data is not None else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def served_limits() -> list[dict[str, Any]]:
    from tests.chaos.servers import ROOT

    info = json.loads((ROOT / "local" / "exchange" / "data" / "exchange_info.json").read_text())
    return list(info["rateLimits"])


def weight_used(servers: Any) -> int:
    """What the exchange counted today (the DAY limit added to measure with, never reached)."""
    return sum(int(ip["used"].get("REQUEST_WEIGHT-1D", 0)) for ip in limits(servers)["ips"].values())


def _wait_all(deps: Any, servers: Any, ids: list[str], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        phase = _outcome(deps, servers, ids)
        if phase.lost == 0 or time.monotonic() > deadline:
            return phase
        time.sleep(0.5)


def enforce(servers: Any, scale: str) -> int:
    """Enforce the scaled limits; the 10-second order limit in force."""
    state = limits(servers, {"enforce": True, "scale": scale, "rate_limits": [*served_limits(), MEASURE]})
    return next(
        int(r["limit"]) for r in state["rateLimits"] if r["rateLimitType"] == "ORDERS" and r["interval"] == "SECOND"
    )


def run(servers: Any) -> dict[str, str]:
    from tests.chaos.harness import Stack, token

    servers.faults()
    servers.admin("reset", {})
    order_limit = enforce(servers, SCALE)
    stack = Stack.create(servers, visibility_timeout=30)
    run_id = uuid.uuid4().hex[:6]
    api = stack.load("api")
    sizers = [stack.load("sizing") for _ in range(CONTAINERS)]
    executors = [stack.load("execution") for _ in range(CONTAINERS)]
    stop = threading.Event()
    pollers = [
        threading.Thread(target=_poller, args=(stack, fn, stack.signals_url, stop), daemon=True) for fn in sizers
    ]
    pollers += [
        threading.Thread(target=_poller, args=(stack, fn, stack.orders_url, stop), daemon=True) for fn in executors
    ]
    for t in pollers:
        t.start()
    deps = stack.deps()
    bearer = token()
    try:
        warm = [f"venuewarm-{run_id}-{i}" for i in range(4)]  # one per symbol: the rules, as a running engine has
        _post_all([api], bearer, warm, None)
        _wait_all(deps, servers, warm, 60)
        time.sleep(max(0.0, 10.2 - time.time() % 10))  # the burst starts as a 10 s window does: no 5/5 split luck
        count = math.ceil(BURST * order_limit)
        ids = [f"venue-{run_id}-{i:04d}" for i in range(count)]
        before = weight_used(servers)
        _post_all([api], bearer, ids, None)
        burst = _wait_all(deps, servers, ids, TIMEOUT_S)
        spent = weight_used(servers) - before
    finally:
        stop.set()
        for t in pollers:
            t.join(10)
        bans = sum(int(ip.get("bans", 0)) for ip in limits(servers)["ips"].values())
        limits(servers, {})  # the exchange's defaults again: counted, not enforced
    engines = [fn.DEPS.exchange for fn in (*sizers, *executors)]
    peak = max((getattr(ex, "order_count_peak", {}).get("10S", 0) for ex in engines), default=0)
    answered = {status: sum(getattr(ex, "rate_limited", {}).get(status, 0) for ex in engines) for status in (429, 418)}
    floor_s = count / order_limit * 10
    return {
        "venue_order_limit_per_10s": str(order_limit),
        "venue_burst_signals": str(count),
        "venue_burst_lost": str(burst.lost),
        "venue_burst_duplicates": str(burst.duplicates),
        "venue_429": str(answered[429]),
        "venue_418": str(answered[418]),
        "venue_418_bans": str(bans),
        "venue_orders_per_10s_peak": str(peak),
        "venue_weight_per_signal": f"{spent / count:.2f}",
        "venue_weight_per_signal_goal": "6",
        "venue_burst_s": f"{burst.span_s:.1f}",
        "venue_burst_floor_s": f"{floor_s:.1f}",
        "venue_burst_goal_met": str(
            burst.lost == 0 and burst.duplicates == 0 and answered == {429: 0, 418: 0} and spent / count <= 6
        ).lower(),
    }


def main() -> int:
    from tests.perf.on_servers import run_on_servers

    return run_on_servers(lambda servers: (run(servers), ""))


if __name__ == "__main__":
    raise SystemExit(main())
