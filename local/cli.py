"""The ``tradeengine`` command as this repository installs it (pyproject's [project.scripts]): the
library's commands (``tradeengine.cli``) and the laptop's own, ``local-exchange``.

The command lives here, not in the library, because it serves ``local/exchange/``, which the Lambda layer
does not ship: the layer never imports ``local`` (tests/unit/test_layering.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tradeengine import cli


def add_local_exchange(sub: cli.Subcommands) -> None:
    local = sub.add_parser(
        "local-exchange",
        help="run the local Binance-compatible spot exchange on 127.0.0.1 (see docs/EXCHANGE.md)",
        description="Serves Binance's spot REST API (signed), filled by the same model as the paper exchange. "
        "Prints its URL; stops on SIGTERM or Ctrl-C.",
    )
    # Every default is None: local.exchange.app.with_defaults fills them, one place for both commands.
    opt = local.add_argument
    opt("--port", type=int, help="TCP port on 127.0.0.1 (default 9010; 0 picks a free port)")
    opt("--api-key", help="the accepted X-MBX-APIKEY (default local-api-key)")
    opt("--api-secret", help="the HMAC-SHA256 secret (default local-api-secret)")
    opt("--exchange-info", help="exchangeInfo JSON to serve (default: the real snapshot shipped in local.exchange)")
    opt("--balances", help="starting balances (default USDT=10000,BTC=1,ETH=10,BNB=10,SOL=50,DOGE=10000,BRL=100000)")
    opt("--price", action="append", help="starting price SYMBOL=PRICE, repeatable (default BTCUSDT=50000, ...)")
    opt("--walk-bps", help="random-walk step in basis points per --step-ms (default 0: prices move only when set)")
    opt("--step-ms", type=int, help="random-walk step interval in ms (default 1000)")
    opt("--seed", type=int, help="random-walk seed (default 7)")
    opt("--slippage-bps", help="market fills move against the taker by this many bps (default 0)")
    opt("--fee", help="maker and taker fee rate (default 0.001 = 0.1 %%)")
    opt("--top-of-book-qty", help="what one price level holds, in the quote asset (default 0: unlimited depth)")
    opt("--level-bps", help="distance between price levels in bps (default 1)")
    opt("--book-levels", type=int, help="levels a taker walks; a market order's rest expires (default 100)")
    opt("--enforce-limits", action="store_true", default=None, help="answer 429 / 418 past the rateLimits")
    opt("--limit-scale", help="multiply every rateLimits limit by this, e.g. 0.1 (default 1)")
    opt("--ban-after", type=int, help="429s in a row before a 418 ban (default 5)")
    opt("--ban-seconds", type=int, help="the first ban; each next one doubles, up to 3 days (default 120)")
    local.set_defaults(func=_cmd_local_exchange)


def _cmd_local_exchange(args: argparse.Namespace) -> int:
    from local.exchange import app  # lazy: `tradeengine size` or `token` need no HTTP server

    return app.serve(app.with_defaults(args))


def build_parser() -> argparse.ArgumentParser:
    return cli.build_parser(commands=[add_local_exchange])


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
