"""`make bench-package`: cold import of each function's handler beside its unavoidable dependencies, and
the size of what each function ships (its code + the shared layer).

Imports are timed in fresh interpreters (no module cache), the best of several runs (the least disturbed
by the neighbours on this shared machine), as the interpreter's CPU time (``cold_import_wall_ms_*``: the
wall time, which a busy neighbour stretches far more): first the dependencies the handler cannot do without, then the
handler module itself (which imports them again, plus the engine). ``<fn>_handler_over_deps_pct`` is the
handler's own share; the goal is <= 30 %. ``<fn>_imports_fastapi`` must be false for sizing and execution
(FastAPI is the API's alone).

Cold start beside a baseline of the same run: ``cold_import_ms_boto3_baseline`` is bare ``import boto3``
(every function pays it, the Lambda runtime ships it). The handlers are imported in simulation mode (the
default, the paper exchange), where the queue functions must not load python-binance at all
(``<fn>_imports_binance=false``), and once more in live mode (``cold_import_ms_<fn>_live``, the Binance
adapter built at import as a live cold start does). python-binance 1.0.37's package ``__init__`` imports
its async client, aiohttp and the websocket managers, and ``binance.client`` is a submodule of that
package, so live mode pays all of it (``cold_import_ms_binance_client``): no supported way around it.
Package size: functions/<fn> + the layer (tradeengine, contracts and the distributions in
layers/deps/requirements.txt as installed here: the same wheels, this machine's platform tags).
No figure asserts; the goals are printed beside them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))
GOAL_OVER_DEPS_PCT = 30.0
GOAL_COLD_IMPORT_MS = {"api": 900.0, "sizing": 500.0, "execution": 500.0, "monitor": 500.0}
QUEUE_FUNCTIONS = ("sizing", "execution", "monitor")
# What each handler cannot start without (its Lambda has these whatever the engine's code looks like).
DEPS = {
    "api": [
        "fastapi",
        "pydantic.v1",  # FastAPI imports it on the first route it builds, any route (its v1-model check)
        "mangum",
        "jwt",
        "aws_lambda_powertools.logging",  # the JSON logger and EMF metrics every function writes with
        "aws_lambda_powertools.metrics",
        "pydantic",
        "pydantic_settings",
        "boto3",
        "pymongo",
    ],
    "sizing": ["aws_lambda_powertools.utilities.batch", "pydantic", "pydantic_settings", "boto3", "pymongo"],
    "execution": [
        "aws_lambda_powertools.utilities.batch",
        "pydantic",
        "pydantic_settings",
        "boto3",
        "pymongo",
    ],
    "monitor": ["aws_lambda_powertools", "pydantic", "pydantic_settings", "boto3", "pymongo"],
}
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "SIGNALS_QUEUE_URL": "http://127.0.0.1:1/000000000000/signals.fifo",
    "ORDERS_QUEUE_URL": "http://127.0.0.1:1/000000000000/orders.fifo",
    "MONGODB_URL": "mongodb://127.0.0.1:1",
    "JWT_SECRET_KEY": "bench-secret-0123456789abcdef0123456789abcdef",
    "ENVIRONMENT": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Petrosa/TradeEngine",
    "SIMULATION_ENABLED": "true",
}
LIVE = {
    "SIMULATION_ENABLED": "false",
    "BINANCE_BASE_URL": "http://127.0.0.1:1",
    "BINANCE_API_KEY": "bench-key",
    "BINANCE_API_SECRET": "bench-secret",
}

# Wall time and the process's CPU time of the import: on this shared machine a neighbour on the core
# stretches the wall time of a run by up to 2-3x, the CPU time far less; the figures are the CPU time's.
_DEPS_SCRIPT = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "cpu_ms": (time.process_time() - c) * 1000}))
"""
_HANDLER_SCRIPT = """
import importlib.util, json, sys, time
t, c = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
ms, cpu_ms = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
loaded = {"fastapi": "fastapi" in sys.modules, "binance": "binance" in sys.modules}
print(json.dumps({"ms": ms, "cpu_ms": cpu_ms, **loaded}))
"""


def _python(script: str, *args: str, live: bool = False) -> str:
    # Nothing of the caller's venue settings leaks in: the mode is the one asked for.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "SIMULATION_"))}
    env.update({**ENV, **(LIVE if live else {})})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")])
    out = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def import_handler(fn: str, *, live: bool = False) -> dict[str, Any]:
    """functions/<fn>/app.py imported in a fresh interpreter: its milliseconds, and whether fastapi and
    binance ended up in ``sys.modules`` (the no-python-binance test runs this too, untimed)."""
    result: dict[str, Any] = json.loads(_python(_HANDLER_SCRIPT, str(ROOT / "functions" / fn / "app.py"), live=live))
    return result


def _best(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """The least disturbed run's figures: the lowest CPU time, and the lowest wall time."""
    return min(r["cpu_ms"] for r in runs), min(r["ms"] for r in runs)


def _deps(*modules: str) -> tuple[float, float]:
    return _best([json.loads(_python(_DEPS_SCRIPT, *modules)) for _ in range(RUNS)])


def cold_imports() -> dict[str, str]:
    out: dict[str, str] = {}
    boto3_ms, boto3_wall = _deps("boto3")
    out["cold_import_ms_boto3_baseline"] = f"{boto3_ms:.0f}"
    out["cold_import_wall_ms_boto3_baseline"] = f"{boto3_wall:.0f}"
    for fn, deps in DEPS.items():
        deps_ms, _ = _deps(*deps)
        runs = [import_handler(fn) for _ in range(RUNS)]
        handler_ms, handler_wall = _best(runs)
        over = 100 * (handler_ms - deps_ms) / deps_ms
        out[f"cold_import_ms_{fn}"] = f"{handler_ms:.0f}"
        out[f"cold_import_wall_ms_{fn}"] = f"{handler_wall:.0f}"
        out[f"cold_import_ms_{fn}_over_boto3"] = f"{handler_ms / boto3_ms:.2f}"
        out[f"cold_import_ms_{fn}_goal"] = f"{GOAL_COLD_IMPORT_MS[fn]:.0f}"
        out[f"cold_import_ms_{fn}_goal_met"] = str(handler_ms <= GOAL_COLD_IMPORT_MS[fn]).lower()
        out[f"cold_import_deps_ms_{fn}"] = f"{deps_ms:.0f}"
        out[f"{fn}_handler_over_deps_pct"] = f"{over:.0f}"
        out[f"{fn}_handler_over_deps_goal_met"] = str(over <= GOAL_OVER_DEPS_PCT).lower()
        out[f"{fn}_imports_binance"] = str(any(r["binance"] for r in runs)).lower()
        if fn in ("sizing", "execution"):
            out[f"{fn}_imports_fastapi"] = str(runs[0]["fastapi"]).lower()
    out["handler_over_deps_goal_pct"] = f"{GOAL_OVER_DEPS_PCT:.0f}"
    # Live mode (the Binance adapter): what python-binance adds to a queue function's cold start.
    out["cold_import_ms_binance_client"] = f"{_deps('binance.client')[0]:.0f}"
    for fn in QUEUE_FUNCTIONS:
        live = [import_handler(fn, live=True) for _ in range(RUNS)]
        out[f"cold_import_ms_{fn}_live"] = f"{_best(live)[0]:.0f}"
        out[f"{fn}_live_imports_binance"] = str(all(r["binance"] for r in live)).lower()
    return out


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _dist_bytes(name: str, seen: set[str]) -> int:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0
    key = dist.metadata["Name"].lower()
    if key in seen:
        return 0
    seen.add(key)
    total = 0
    for f in dist.files or ():
        p = Path(str(dist.locate_file(f)))
        if p.is_file() and "__pycache__" not in p.parts:
            total += p.stat().st_size
    return total


def package_sizes() -> dict[str, str]:
    requirements = (ROOT / "layers" / "deps" / "requirements.txt").read_text()
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==", requirements, flags=re.MULTILINE)
    seen: set[str] = set()
    deps_bytes = sum(_dist_bytes(n, seen) for n in names)
    layer = deps_bytes + _tree_bytes(ROOT / "layers" / "core" / "tradeengine") + _tree_bytes(ROOT / "contracts")
    out = {"layer_mb": f"{layer / 1e6:.1f}", "layer_distributions": str(len(seen))}
    for fn in DEPS:
        code = _tree_bytes(ROOT / "functions" / fn)
        out[f"package_mb_{fn}"] = f"{(code + layer) / 1e6:.1f}"
        out[f"package_code_kb_{fn}"] = f"{code / 1e3:.1f}"
    out["package_limit_mb_unzipped"] = "250"  # Lambda's limit for a function plus its layers
    return out


def main() -> int:
    for key, value in {**cold_imports(), **package_sizes()}.items():
        print(f"BENCH {key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
