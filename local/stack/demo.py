"""The seed's example signals, sent through the deployed stack's public faces: the HTTP API and NATS.

Each example goes once through ``POST /trade/signal`` (API Gateway → api function → signals.fifo) and
once through JetStream ``signals.trading`` (bridge → signals.fifo); both then flow sizing → orders.fifo
→ execution against the paper exchange priced by the local exchange. A result is read back only through
``GET /signals/{id}``, as a user would.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from local.stack.stack import Endpoints
from local.stack.tables import fitted_table

WAIT_S = 90.0  # per run: the first signal pays every function's cold start
POLL_S = 0.25
DISPATCH_RUNS = 5


@dataclass(frozen=True)
class Example:
    label: str
    fields: dict[str, Any]
    expect: str  # the state the signal must reach (FILLED for market orders; a resting limit stays OPEN)


# The seed's examples (local/examples.py shows the same ones as a dry run), priced like the local exchange.
EXAMPLES = (
    Example("BTCUSDT market, dynamic minimum", {"symbol": "BTCUSDT", "price": "45000"}, "FILLED"),
    Example("DOGEUSDT market, dynamic minimum", {"symbol": "DOGEUSDT", "price": "0.08"}, "FILLED"),
    Example("ETHUSDT market, dynamic minimum", {"symbol": "ETHUSDT", "price": "3000"}, "FILLED"),
    Example(
        "BTCUSDT limit with SL/TP",
        {
            "symbol": "BTCUSDT",
            "price": "44900",
            "quantity": "0.001",
            "meta": {"order_type": "limit", "stop_loss_pct": 2.0, "take_profit_pct": 5.0},
        },
        "OPEN",
    ),
)


@dataclass
class Result:
    example: Example
    path: str  # "http" | "nats"
    signal_id: str
    sent_at: float
    record: dict[str, Any] = field(default_factory=dict)
    seen_at: float | None = None

    @property
    def state(self) -> str:
        return str(self.record.get("state", "—"))

    @property
    def ok(self) -> bool:
        return self.state == self.example.expect


def signal_body(example: Example, signal_id: str) -> dict[str, Any]:
    return {
        "strategy_id": "momentum_v1",
        "action": "buy",
        "quantity": 0.0,
        "confidence": 0.85,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "meta": {"order_type": "market"},
        **example.fields,
        "signal_id": signal_id,
    }


class Api:
    """The HTTP API at the URL a user has: http://127.0.0.1:${API_PORT:-8000}, in front of the stage."""

    def __init__(self, ends: Endpoints, scopes: tuple[str, ...] = ("admin",)) -> None:
        from tradeengine.api.tokens import mint

        self.base = ends.api
        self.token = mint(ends.jwt_secret, "local-demo", list(scopes), 3600)

    def call(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
        url = f"{self.base}{path}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=35) as reply:  # noqa: S310 (loopback URL we built)
                raw = reply.read()
                status = reply.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def signal(self, signal_id: str) -> dict[str, Any] | None:
        status, body = self.call("GET", f"/signals/{signal_id}")
        return body if status == 200 and isinstance(body, dict) else None


async def _publish(nats_url: str, bodies: list[dict[str, Any]], subject: str = "signals.trading") -> None:
    import nats

    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        for body in bodies:
            await js.publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": body["signal_id"]})
    finally:
        await nc.drain()


def publish_nats(nats_url: str, bodies: list[dict[str, Any]]) -> None:
    asyncio.run(_publish(nats_url, bodies))


def send(api: Api, ends: Endpoints, examples: tuple[Example, ...] = EXAMPLES, tag: str | None = None) -> list[Result]:
    tag = tag or uuid.uuid4().hex[:8]
    results: list[Result] = []
    for i, example in enumerate(examples):
        sid = f"demo-{tag}-{i}-http"
        status, body = api.call("POST", "/trade/signal", signal_body(example, sid))
        if status != 202:
            raise RuntimeError(f"POST /trade/signal answered {status}: {body}")
        results.append(Result(example, "http", sid, time.monotonic()))
    nats_bodies = [signal_body(example, f"demo-{tag}-{i}-nats") for i, example in enumerate(examples)]
    publish_nats(ends.nats, nats_bodies)
    sent = time.monotonic()
    results += [Result(ex, "nats", b["signal_id"], sent) for ex, b in zip(examples, nats_bodies, strict=True)]
    return results


def wait(api: Api, results: list[Result], timeout: float = WAIT_S) -> None:
    """Poll each signal until it reaches its expected state or a terminal one (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    pending = list(results)
    while pending and time.monotonic() < deadline:
        for result in list(pending):
            record = api.signal(result.signal_id)
            if record is None:
                continue
            result.record = record
            if result.ok or record.get("terminal"):
                result.seen_at = time.monotonic()
                pending.remove(result)
        time.sleep(POLL_S)


def cancel_resting(api: Api, path: Path) -> list[str]:
    """Cancel (DELETE /order) the resting orders an earlier run left, listed in ``path``.

    The exchange enforces BTCUSDT's MAX_NUM_ALGO_ORDERS (5): each resting OTOCO holds a stop-loss leg, so
    without this a reused stack would reject the limit example from the third run on."""
    try:
        refs = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    canceled = []
    for symbol, order_id in refs:
        status, _ = api.call("DELETE", f"/order/{symbol}/{order_id}")
        if status == 200:
            canceled.append(f"{symbol} {order_id}")
    path.unlink(missing_ok=True)
    return canceled


def remember_resting(results: list[Result], path: Path) -> None:
    refs = [
        (r.record["symbol"], entry["order_id"])
        for r in results
        if r.state == "OPEN" and (entry := (r.record.get("execution") or {}).get("entry"))
    ]
    path.write_text(json.dumps(refs))


def run_examples(ends: Endpoints, console: Console, resting: Path) -> list[Result]:
    api = Api(ends)
    if canceled := cancel_resting(api, resting):
        console.log(f"canceled the last run's resting orders: {', '.join(canceled)}")
    with console.status("[bold]sending the seed's examples through the HTTP API and NATS[/]"):
        results = send(api, ends)
        wait(api, results)
    remember_resting(results, resting)
    return results


def _sized(record: dict[str, Any]) -> str:
    plan = record.get("plan") or {}
    order = plan.get("order") or {}
    if not order:
        return record.get("code") or "—"
    qty = order.get("quantity") or (f"{order.get('quote_order_qty')} quote" if order.get("quote_order_qty") else "?")
    text = f"{order.get('side', '?')} {order.get('type', '?')} {qty}"
    if order.get("price"):
        text += f" @ {order['price']}"
    brackets = plan.get("brackets") or {}
    legs = [leg for leg in (brackets.get("stop_loss"), brackets.get("take_profit")) if leg]
    if legs:
        text += "\nexits " + ", ".join(f"{leg.get('type')} {leg.get('stop_price') or leg.get('price')}" for leg in legs)
    return text


def _fill(record: dict[str, Any]) -> str:
    """The average fill price, and the fees under it."""
    entry = (record.get("execution") or {}).get("entry") or {}
    if not entry.get("avg_price"):
        return "—"
    fees = ", ".join(f"{v} {k}" for k, v in (entry.get("commission") or {}).items())
    return f"{entry['avg_price']}\nfee {fees}" if fees else str(entry["avg_price"])


def engine_ms(record: dict[str, Any]) -> int | None:
    """The engine's own share of a signal's latency: each stage's longest ``took_ms`` (how long it had been at
    its message when it wrote a step), summed over the stages the signal went through up to now. The rest of
    the latency is the queues', the event-source polling's and the platform's dispatch."""
    stages: dict[str, int] = {}
    for step in record.get("history") or ():
        took, stage = step.get("took_ms"), step.get("stage")
        if isinstance(took, int) and stage != "monitor":  # the monitor runs on its schedule, after the settle
            stages[stage] = max(stages.get(stage, 0), took)
    return sum(stages.values()) if stages else None


def dispatch_ms(ends: Endpoints, runs: int = DISPATCH_RUNS) -> dict[str, float]:
    """MiniStack's own dispatch, measured beside the examples: an Invoke of the sizing and the execution
    function with an empty batch (no engine work), after the examples, the median of ``runs``, in ms."""
    from tradeengine.stores import aws

    lam = aws.client("lambda", endpoint_url=ends.aws, region="us-east-1")
    out: dict[str, float] = {}
    for logical in ("SizingFunction", "ExecutionFunction"):
        name = ends.functions.get(logical)
        if not name:
            continue
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            lam.invoke(FunctionName=name, Payload=json.dumps({"Records": []}).encode())
            took.append((time.perf_counter() - started) * 1000)
        out[logical] = sorted(took)[len(took) // 2]
    return out


def dispatch_line(dispatch: dict[str, float]) -> str:
    if not dispatch:
        return "MiniStack's dispatch: not measured (no function deployed)"
    each = ", ".join(f"{name.removesuffix('Function').lower()} {ms:.0f} ms" for name, ms in dispatch.items())
    return (
        f"MiniStack's own dispatch, measured beside: an Invoke of an empty batch, after the examples, takes {each} "
        f"(median of {DISPATCH_RUNS}); a signal crosses two such queue hops and the API's. The latency's 'engine' "
        "line is the stages' own time (each step's took_ms); the rest is the queues, the polling and the dispatch."
    )


def results_table(results: list[Result], width: int | None = None) -> Table:
    rows = []
    for r in results:
        latency = f"{r.seen_at - r.sent_at:.2f}s" if r.seen_at else "—"
        if (own := engine_ms(r.record)) is not None and r.seen_at:
            latency += f"\nengine {own} ms"
        mark = "[green]" if r.ok else "[red]"
        status = f"{mark}{r.state}[/] (want {r.example.expect})" if not r.ok else f"{mark}{r.state}[/]"
        rows.append((r.example.label, r.path, _sized(r.record), status, _fill(r.record), latency))
    headers = ("signal", "via", "sized order", "status", "fill, fee", "latency")
    return fitted_table("The seed's examples through the deployed stack", headers, rows, width)
