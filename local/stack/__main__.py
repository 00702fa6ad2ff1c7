"""``python -m local.stack {up,down,status,run,demo}``: the laptop stack from one command.

- ``up``: start (or reuse) the servers, deploy template.yaml, start the bridge; print the URLs.
- ``run``: ``up``, send the seed's examples through the HTTP API and NATS, print the results table and
  the URLs, then keep serving until Ctrl-C (which stops the stack).
- ``demo``: ``up``, the examples and the table, then exit: 0 only if every example reached its
  expected state. The stack keeps running (``down`` stops it).
- ``down``: stop every recorded server by its PID.  ``status``: what runs, where.
- ``setup``: build the uv tool environments of MiniStack and SecantusDB now (``make setup``), so the
  first ``up`` does not wait for them.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess  # nosec B404 - runs the uv tool environments' own Python
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from local.stack import services, stack
from local.stack.state import stack_dir

console = Console()


def _up(redeploy: bool) -> stack.Endpoints:
    started = time.monotonic()
    with console.status("[bold]starting the laptop stack[/]", spinner="dots") as status:

        def step(part: str, msg: str) -> None:
            console.log(f"[cyan]{part:<10}[/] {msg}")
            status.update(f"[bold]{part}[/]: {msg}")

        ends = stack.up(step, redeploy=redeploy)
    console.log(f"[green]stack ready[/] in {time.monotonic() - started:.1f}s")
    console.print(f"[bold]HTTP API[/]: {ends.api}  (docs {ends.api}/docs, metrics {ends.api}/metrics)")
    return ends


def print_urls(ends: stack.Endpoints) -> None:
    table = Table(title="Laptop stack", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("where", overflow="fold")
    table.add_row("HTTP API", ends.api)
    table.add_row("API docs", f"{ends.api}/docs")
    table.add_row("Prometheus metrics", f"{ends.api}/metrics")
    table.add_row("API Gateway stage", ends.api_stage)
    table.add_row("MongoDB (audit)", f"{ends.mongo}  db petrosa, collection audit_events")
    table.add_row("NATS (JetStream)", f"{ends.nats}  subject signals.trading")
    table.add_row("Bridge metrics", f"{ends.bridge}/metrics")
    table.add_row("Local exchange", f"{ends.exchange}  (admin: /admin/price)")
    table.add_row("Notification sink", f"{ends.sink}/received  (tradeengine notify add --url {ends.sink}/...)")
    table.add_row("AWS (MiniStack)", ends.aws)
    key_file = stack_dir() / "jwt-secret"
    with contextlib.suppress(ValueError):
        key_file = key_file.relative_to(Path.cwd())
    table.add_row("Token", f"JWT_SECRET_KEY=$(cat {key_file}) mk/uv run tradeengine token --scope admin")
    console.print(table)


def _serve_forever() -> int:
    console.print("[bold]serving[/]: Ctrl-C stops the stack")
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # set even where a shell started us ignoring them
        signal.signal(sig, _stop)
    while not stopping:
        time.sleep(0.5)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut the stop short
        signal.signal(sig, signal.SIG_IGN)
    stack.down(lambda part, msg: console.log(f"[cyan]{part:<10}[/] {msg}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "run", "demo", "setup"])
    parser.add_argument("--redeploy", action="store_true", help="deploy even if nothing changed")
    args = parser.parse_args(argv)
    if args.command == "down":
        stack.down(lambda part, msg: console.log(f"[cyan]{part:<10}[/] {msg}"))
        return 0
    if args.command == "setup":
        for name, argv in services.tool_environments().items():
            console.log(f"[cyan]{name:<10}[/] {' '.join(argv[-3:])}")
            if subprocess.run(argv, check=False).returncode != 0:  # noqa: S603 (argv built by local.stack.services)
                console.print(f"[red]{name}: its tool environment could not be built[/]")
                return 1
        return 0
    if args.command == "status":
        for name, record in stack.status().items():
            running = "running" if record["running"] else "stopped"
            console.print(f"{name:<11} {running:<8} {record['url']}  pid {record['pid']}")
        return 0
    try:
        ends = _up(args.redeploy)
    except RuntimeError as exc:
        console.print(f"[red]the stack did not come up[/]: {exc}")
        return 1
    if args.command == "up":
        print_urls(ends)
        return 0
    from local.stack import demo

    results = demo.run_examples(ends, console, stack_dir() / "demo-resting-orders.json")
    console.print(demo.results_table(results))
    try:
        console.print(demo.dispatch_line(demo.dispatch_ms(ends)))
    except Exception as exc:  # a measurement beside the examples: its failure is said, never the demo's
        console.print(f"MiniStack's dispatch not measured: {type(exc).__name__}: {exc}")
    print_urls(ends)
    ok = all(r.ok for r in results)
    console.print("[green]every example reached its expected state[/]" if ok else "[red]some examples did not[/]")
    if args.command == "demo":
        return 0 if ok else 1
    return _serve_forever()


if __name__ == "__main__":
    sys.exit(main())
