"""``make monitor``: a live view of a running stack, refreshed every few seconds.

Signals by state, recent fills, queue depths (signals, orders and both dead-letter queues) and error
counts, read only from what an operator has: the HTTP API (``GET /signals``, ``GET /trades``,
``/metrics``, ``/health``) and the queues' SQS attributes. By default it watches the laptop stack
(``.local-stack/state.json`` names the API, the emulator and the queues, and holds the JWT key); for a
deployed stack pass ``--api`` with a token (``--token`` or ``TRADEENGINE_TOKEN``) and ``--stack`` to
read the queue URLs from CloudFormation with the usual AWS credentials (``AWS_PROFILE``).

    python -m local.stack.monitor                 # the laptop stack, Ctrl-C to leave
    python -m local.stack.monitor --once          # one snapshot, printed, then exit
    python -m local.stack.monitor --api https://api.example.com --stack petrosa-tradeengine-prod
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from tradeengine.metrics import ERRORS, TRADES

QUEUES = (  # (label, CloudFormation output)
    ("signals", "SignalsQueueUrl"),
    ("orders", "OrdersQueueUrl"),
    ("signals DLQ", "SignalsDeadLetterQueueUrl"),
    ("orders DLQ", "OrdersDeadLetterQueueUrl"),
)
DEPTH_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
MAX_SIGNAL_PAGES = 5  # at most 5 x 200 signals per refresh: a monitor must not load the API it watches
RECENT_FILLS = 8


@dataclass
class Target:
    api: str
    token: str | None
    queues: dict[str, str]  # label -> queue URL
    aws_endpoint: str | None  # None: AWS itself


@dataclass
class Snapshot:
    at: datetime
    health: dict[str, Any] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    states_source: str = ""  # "GET /signals (n)" or "/metrics trades_total"
    fills: list[dict[str, Any]] = field(default_factory=list)
    fills_note: str = ""
    queues: dict[str, dict[str, int] | str] = field(default_factory=dict)  # label -> depths, or the error
    errors: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _get(target: Target, path: str, auth: bool = True) -> tuple[int, str]:
    headers = {"authorization": f"Bearer {target.token}"} if auth and target.token else {}
    request = urllib.request.Request(f"{target.api}{path}", headers=headers)  # noqa: S310 (the API the user named)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (the same URL, http(s) only)
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")


def parse_metrics(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Prometheus text → {name: {sorted label pairs: value}} (only what the monitor reads: no histograms)."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        pairs = []
        for part in labels.rstrip("}").split(",") if labels else []:
            key, _, raw = part.partition("=")
            pairs.append((key.strip(), raw.strip().strip('"')))
        try:
            out.setdefault(name, {})[tuple(sorted(pairs))] = float(value)
        except ValueError:
            continue
    return out


def _signal_states(target: Target, snap: Snapshot) -> bool:
    counts: Counter[str] = Counter()
    cursor: str | None = None
    seen = 0
    for _ in range(MAX_SIGNAL_PAGES):
        query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        status, text = _get(target, f"/signals?{urllib.parse.urlencode(query)}")
        if status != 200:
            return False
        page = json.loads(text)
        for record in page.get("signals", []):
            counts[str(record.get("state"))] += 1
            seen += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    snap.states = counts
    snap.states_source = f"GET /signals ({seen}{'+' if cursor else ''} signals)"
    return True


def _recent_fills(target: Target, snap: Snapshot, window: timedelta) -> None:
    since = (snap.at - window).isoformat().replace("+00:00", "Z")
    fills: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_SIGNAL_PAGES):
        query = {"limit": "500", "since": since, **({"cursor": cursor} if cursor else {})}
        status, text = _get(target, f"/trades?{urllib.parse.urlencode(query)}")
        if status != 200:
            snap.fills_note = f"GET /trades answered {status}"
            return
        page = json.loads(text)
        fills += page.get("trades", [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    snap.fills = fills[-RECENT_FILLS:][::-1]
    snap.fills_note = f"last {window.total_seconds() / 60:.0f} min: {len(fills)} fills"


def _queue_depths(target: Target, snap: Snapshot) -> None:
    from tradeengine.stores import aws

    sqs = aws.client("sqs", endpoint_url=target.aws_endpoint, region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    for label, url in target.queues.items():
        try:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTH_ATTRIBUTES))["Attributes"]
            snap.queues[label] = {k: int(attrs.get(k, 0)) for k in DEPTH_ATTRIBUTES}
        except Exception as exc:  # botocore ClientError or connection error: shown, not fatal
            snap.queues[label] = f"unreadable: {type(exc).__name__}"


def snapshot(target: Target, window: timedelta = timedelta(hours=1)) -> Snapshot:
    snap = Snapshot(at=datetime.now(UTC))
    try:
        status, text = _get(target, "/health", auth=False)
        snap.health = json.loads(text) if status == 200 else {"status": f"HTTP {status}"}
        status, text = _get(target, "/metrics", auth=False)
        metrics = parse_metrics(text) if status == 200 else {}
        snap.errors = {dict(k).get("type", "?"): v for k, v in metrics.get(ERRORS, {}).items()}
        if not _signal_states(target, snap):
            # Without a list endpoint: the trades counter by outcome (one per order the engine settled).
            for labels, value in metrics.get(TRADES, {}).items():
                snap.states[dict(labels).get("status", "?").upper()] += int(value)
            snap.states_source = "/metrics tradeengine_trades_total"
        _recent_fills(target, snap, window)
    except (OSError, ValueError) as exc:
        snap.problems.append(f"the API at {target.api} did not answer: {exc}")
    _queue_depths(target, snap)
    return snap


def render(snap: Snapshot, target: Target) -> Group:
    head = Table.grid(padding=(0, 2))
    mode = snap.health.get("mode", "?")
    head.add_row(f"[bold]{target.api}[/]", f"mode {mode}", f"at {snap.at:%H:%M:%S} UTC")

    states = Table(box=box.SIMPLE_HEAD)
    states.add_column("state")
    states.add_column("count", justify="right")
    for state, count in sorted(snap.states.items(), key=lambda kv: (-kv[1], kv[0])):
        states.add_row(state, str(count))

    queues = Table(box=box.SIMPLE_HEAD)
    for column in ("queue", "waiting", "in flight"):
        queues.add_column(column, justify="left" if column == "queue" else "right")
    for label, depth in snap.queues.items():
        if isinstance(depth, str):
            queues.add_row(label, depth, "")
        else:
            style = "red" if "DLQ" in label and depth[DEPTH_ATTRIBUTES[0]] else ""
            queues.add_row(label, *(f"[{style}]{depth[k]}[/]" if style else str(depth[k]) for k in DEPTH_ATTRIBUTES))

    fills = Table(box=box.SIMPLE_HEAD)
    for column in ("time", "symbol", "side", "qty", "price", "fee"):
        fills.add_column(column, justify="right" if column in ("qty", "price", "fee") else "left")
    for f in snap.fills:
        when = datetime.fromtimestamp(int(f.get("time_ms", 0)) / 1000, UTC)
        fee = f"{f.get('commission', '')} {f.get('commission_asset', '')}".strip()
        fills.add_row(f"{when:%H:%M:%S}", str(f.get("symbol")), str(f.get("side")), str(f.get("qty")),
                      str(f.get("price")), fee)  # fmt: skip

    errors = Table(box=box.SIMPLE_HEAD)
    errors.add_column("type")
    errors.add_column("count", justify="right")
    for kind, total in sorted(snap.errors.items()):
        errors.add_row(kind, f"{total:g}")
    if not snap.errors:
        errors.add_row("none", "0")
    parts: list[Any] = [
        head,
        f"[bold]Signals by state[/] ({snap.states_source})", states,
        "[bold]Queues[/] (SQS)", queues,
        f"[bold]Recent fills[/] ({snap.fills_note})", fills,
        "[bold]Errors[/] (/metrics tradeengine_errors_total)", errors,
    ]  # fmt: skip
    parts += [f"[red]{p}[/]" for p in snap.problems]
    return Group(*parts)


def laptop_target() -> Target:
    from tradeengine.api.tokens import mint

    from local.stack.services import FAKE_AWS_ENV
    from local.stack.state import State

    os.environ.update({k: v for k, v in FAKE_AWS_ENV.items() if k not in os.environ})  # the emulator's keys
    state = State.load()
    outputs = state.deploy.get("outputs") or {}
    if not outputs or "api" not in state.servers:
        raise RuntimeError("the laptop stack is not running: start it with `make run` (or make stack-up)")
    token = mint(state.jwt_secret(), "monitor", ["orders:read"], 3600)
    queues = {label: outputs[key] for label, key in QUEUES if key in outputs}
    return Target(state.url("api"), token, queues, state.deploy.get("endpoint"))


def deployed_target(api: str, token: str | None, stack: str | None, endpoint: str | None) -> Target:
    if not api.startswith(("http://", "https://")):
        raise RuntimeError(f"--api must be an http:// or https:// URL, not {api!r}")
    queues: dict[str, str] = {}
    if stack:
        from tradeengine.stores import aws

        cf = aws.client("cloudformation", endpoint_url=endpoint)
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        }
        queues = {label: outputs[key] for label, key in QUEUES if key in outputs}
    return Target(api.rstrip("/"), token, queues, endpoint)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="a deployed API's base URL (default: the laptop stack's)")
    parser.add_argument("--token", default=os.environ.get("TRADEENGINE_TOKEN"), help="bearer token (orders:read)")
    parser.add_argument("--stack", help="CloudFormation stack whose outputs name the queues (with --api)")
    parser.add_argument("--aws-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="an AWS emulator")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    parser.add_argument("--window", type=float, default=60.0, help="minutes of fills to look back on")
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    args = parser.parse_args(argv)
    console = Console()
    try:
        target = deployed_target(args.api, args.token, args.stack, args.aws_endpoint) if args.api else laptop_target()
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    window = timedelta(minutes=args.window)
    if args.once:
        console.print(render(snapshot(target, window), target))
        return 0
    try:
        with Live(render(snapshot(target, window), target), console=console, screen=False) as live:
            while True:
                time.sleep(args.interval)
                live.update(render(snapshot(target, window), target))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
