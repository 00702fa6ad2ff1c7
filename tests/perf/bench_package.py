"""`make bench-package`: cold import of each function's handler beside its unavoidable dependencies, and
the size of what each function ships (its code + the shared layer).

Imports are timed in fresh interpreters (no module cache), the median of several runs: first the
dependencies the handler cannot do without, then the handler module itself (which imports them again,
plus the engine). ``<fn>_handler_over_deps_pct`` is the handler's own share; the goal is <= 30 %.
``<fn>_imports_fastapi`` must be false for sizing and execution (FastAPI is the API's alone).
Package size: functions/<fn> + the layer (tradeengine, contracts and the distributions in
layers/deps/requirements.txt as installed here: the same wheels, this machine's platform tags).
No figure asserts; the goals are printed beside them.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))
GOAL_OVER_DEPS_PCT = 30.0
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
        "aws_lambda_powertools.utilities.idempotency",
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
}

_DEPS_SCRIPT = """
import sys, time
t = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
print((time.perf_counter() - t) * 1000)
"""
_HANDLER_SCRIPT = """
import importlib.util, json, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
ms = (time.perf_counter() - t) * 1000
print(json.dumps({"ms": ms, "fastapi": "fastapi" in sys.modules, "binance": "binance" in sys.modules}))
"""


def _python(script: str, *args: str) -> str:
    env = {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")])}
    out = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def cold_imports() -> dict[str, str]:
    out: dict[str, str] = {}
    for fn, deps in DEPS.items():
        deps_ms = statistics.median(float(_python(_DEPS_SCRIPT, *deps)) for _ in range(RUNS))
        runs = [json.loads(_python(_HANDLER_SCRIPT, str(ROOT / "functions" / fn / "app.py"))) for _ in range(RUNS)]
        handler_ms = statistics.median(r["ms"] for r in runs)
        over = 100 * (handler_ms - deps_ms) / deps_ms
        out[f"cold_import_ms_{fn}"] = f"{handler_ms:.0f}"
        out[f"cold_import_deps_ms_{fn}"] = f"{deps_ms:.0f}"
        out[f"{fn}_handler_over_deps_pct"] = f"{over:.0f}"
        out[f"{fn}_handler_over_deps_goal_met"] = str(over <= GOAL_OVER_DEPS_PCT).lower()
        if fn in ("sizing", "execution"):
            out[f"{fn}_imports_fastapi"] = str(runs[0]["fastapi"]).lower()
    out["handler_over_deps_goal_pct"] = f"{GOAL_OVER_DEPS_PCT:.0f}"
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
