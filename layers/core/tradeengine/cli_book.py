"""``tradeengine positions`` and ``tradeengine performance``: the strategy book of a running stack, as tables.

They read the HTTP API (``--api``, default the laptop stack's ``http://127.0.0.1:$API_PORT``) with a
bearer token: ``--token``, else ``TRADEENGINE_TOKEN``, else one minted with ``orders:read`` from
``JWT_SECRET_KEY`` or the laptop stack's ``.local-stack/jwt-secret``.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tradeengine.cli import UsageError

TIMEOUT_S = 10


class BookCommandError(UsageError):
    """The API could not be asked or refused (exit 2, with the reason)."""


def add_commands(sub: Any) -> None:
    positions = sub.add_parser("positions", help="positions per strategy and symbol, with PnL (a running stack)")
    _common(positions)
    positions.add_argument("--strategy", help="only this strategy")
    positions.add_argument("--symbol", help="only this symbol")
    positions.add_argument("--all", action="store_true", help="closed positions too")
    positions.add_argument("--wide", action="store_true", help="mark price and fees too (wider than 80 columns)")
    positions.set_defaults(func=_cmd_positions)
    perf = sub.add_parser("performance", help="a strategy's round trips, wins, losses, PnL and drawdown")
    _common(perf)
    perf.add_argument("strategy", help="the strategy_id")
    perf.add_argument("--since", help="only round trips closed at or after this ISO-8601 time")
    perf.set_defaults(func=_cmd_performance)


def _common(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("API_PORT", "8000")
    parser.add_argument("--api", default=f"http://127.0.0.1:{port}", help="the HTTP API's base URL")
    parser.add_argument("--token", help="bearer token (default: TRADEENGINE_TOKEN, or minted locally)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")


def _token(args: argparse.Namespace) -> str:
    if args.token or os.environ.get("TRADEENGINE_TOKEN"):
        return str(args.token or os.environ["TRADEENGINE_TOKEN"])
    secret = os.environ.get("JWT_SECRET_KEY")
    stack_file = Path(os.environ.get("LOCAL_STACK_DIR", ".local-stack")) / "jwt-secret"
    if not secret and stack_file.is_file():
        secret = stack_file.read_text().strip()
    if not secret:
        raise BookCommandError("no token: pass --token, set TRADEENGINE_TOKEN, or JWT_SECRET_KEY to mint one")
    from tradeengine.api.tokens import mint

    return mint(secret, "cli", ["orders:read"], 300)


def get_json(args: argparse.Namespace, path: str, params: dict[str, str | None]) -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = f"{args.api.rstrip('/')}{path}" + (f"?{query}" if query else "")
    if not url.startswith(("http://", "https://")):
        raise BookCommandError(f"--api must be an http(s) URL, not {args.api!r}")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {_token(args)}"})  # noqa: S310 (http or https only, checked above)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (http or https only, checked above)
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise BookCommandError(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise BookCommandError(f"cannot reach {url}: {getattr(exc, 'reason', exc)} (is the stack up?)") from None


def _pages(args: argparse.Namespace, path: str, params: dict[str, str | None], name: str) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = get_json(args, path, {**params, "limit": "500", "cursor": cursor})
        items += page.get(name, [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _cmd_positions(args: argparse.Namespace) -> int:
    params = {"strategy_id": args.strategy, "symbol": args.symbol, "include_closed": "true" if args.all else None}
    rows = _pages(args, "/positions", params, "positions")
    if args.json:
        print(json.dumps({"positions": rows}, indent=2))
        return 0
    from rich.console import Console

    quotes = sorted({p["quote_asset"] for p in rows})
    title = f"positions (amounts in {', '.join(quotes)})" if quotes else "positions"
    wide = args.wide
    headers = ["strategy", "symbol", "qty", "avg", *(["mark"] if wide else []), "unreal.", "realized"]
    headers += ["fees", "exits"] if wide else ["exits"]
    lines = []
    for p in rows:
        cells = [p["strategy_id"], p["symbol"], p["quantity"], p["average_entry_price"] or "-"]
        cells += [p["mark_price"] or "-"] if wide else []
        cells += [p["unrealized_pnl"] or "-", p["realized_pnl"]]
        cells += [p["fees"]] if wide else []
        cells.append(str(len(p.get("protected_by", []))))
        lines.append(cells)
    table = _table(title, headers, lines, text_columns=2)
    Console().print(table if rows else "no positions")
    return 0


def _cmd_performance(args: argparse.Namespace) -> int:
    path = f"/strategies/{urllib.parse.quote(args.strategy, safe='')}/performance"
    body = get_json(args, path, {"since": args.since})
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    from rich.console import Console

    # one column per symbol (and the total per quote asset), one row per figure: it fits 80 columns
    names = [*body["symbols"], *(f"all {q}" for q in body["by_quote_asset"])]
    figures = [*body["symbols"].values(), *body["by_quote_asset"].values()]
    labels = ("trades", "wins", "losses", "realized", "fees", "best", "worst", "max drawdown")
    lines = [[label, *(cells[i] for cells in map(_perf_cells, figures))] for i, label in enumerate(labels)]
    quotes = sorted(body["by_quote_asset"])
    title = f"performance of {body['strategy_id']}" + (f" (amounts in {', '.join(quotes)})" if quotes else "")
    table = _table(title, ["", *names], lines, text_columns=1)
    Console().print(table)
    return 0


def _perf_cells(s: dict[str, Any]) -> list[str]:
    amounts = ("realized_pnl", "fees", "best_trade", "worst_trade", "max_drawdown")
    return [str(s["trades"]), str(s["wins"]), str(s["losses"]), *(s[k] if s[k] is not None else "-" for k in amounts)]


def _table(title: str, headers: list[str], lines: list[list[str]], text_columns: int) -> Any:
    """A rich table whose figures are never cut: every column but the first is as wide as its widest cell
    (the first ``text_columns`` left-aligned), and only the first (strategy names) folds when narrow."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        widest = max([len(header), *(len(line[i]) for line in lines)])
        if i == 0:  # the names (strategies, figures' labels): the one column that may fold
            table.add_column(header, justify="left", overflow="fold", min_width=min(widest, 8))
        else:
            if i < text_columns:
                table.add_column(header, justify="left", no_wrap=True, min_width=widest)
            else:
                table.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for line in lines:
        table.add_row(*line)
    return table
