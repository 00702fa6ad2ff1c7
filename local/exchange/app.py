"""Start the local exchange: options, defaults, and a clean stop on SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradeengine.exchange.matching import MatchingConfig

from local.exchange.limits import LimitSettings
from local.exchange.server import LocalExchange, make_server
from local.exchange.venue import Venue

DATA = Path(__file__).parent / "data" / "exchange_info.json"
DEFAULT_PORT = 9010
DEFAULT_API_KEY = "local-api-key"
DEFAULT_API_SECRET = "local-api-secret"  # noqa: S105 (a documented test credential for a loopback server)
DEFAULT_BALANCES = "USDT=10000,BTC=1,ETH=10,BNB=10,SOL=50,DOGE=10000,BRL=100000"


def parse_pairs(text: str | None, what: str) -> dict[str, Decimal]:
    """``USDT=10000,BTC=1`` -> {"USDT": Decimal("10000"), "BTC": Decimal("1")}."""
    out: dict[str, Decimal] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if not sep or not name.strip() or not amount.is_finite() or amount < 0:
            raise ValueError(f"{what}: {part!r} is not NAME=AMOUNT")
        out[name.strip().upper()] = amount
    return out


def load_info(path: str | None) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((Path(path) if path else DATA).read_text())
    if not isinstance(info.get("symbols"), list):
        raise ValueError(f"{path} is not a Binance exchangeInfo document (no 'symbols' list)")
    return info


def add_arguments(parser: Any) -> None:
    """The options of ``tradeengine local-exchange`` (and ``python -m local.exchange``)."""
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--api-key", default=DEFAULT_API_KEY, help=f"the accepted X-MBX-APIKEY (default {DEFAULT_API_KEY})"
    )
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET, help="the HMAC secret (default local-api-secret)")
    parser.add_argument(
        "--exchange-info", help="exchangeInfo JSON to serve (default: the snapshot shipped in the package)"
    )
    parser.add_argument("--balances", default=DEFAULT_BALANCES, help=f"starting balances (default {DEFAULT_BALANCES})")
    parser.add_argument("--price", action="append", default=[], help="starting price, e.g. BTCUSDT=50000 (repeatable)")
    parser.add_argument(
        "--walk-bps", default="0", help="random-walk step in basis points per --step-ms (default 0: still)"
    )
    parser.add_argument("--step-ms", type=int, default=1000, help="random-walk step interval (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random-walk seed (default 7)")
    parser.add_argument("--slippage-bps", default="0", help="market fills move against the taker by this (default 0)")
    parser.add_argument("--fee", default="0.001", help="maker and taker fee rate (default 0.001 = 0.1 %%)")
    parser.add_argument(
        "--top-of-book-qty",
        default="0",
        help="what one price level holds, in the quote asset, e.g. 100 (USDT); larger orders fill partially "
        "(default 0: unlimited, every fill whole)",
    )
    parser.add_argument("--level-bps", default="1", help="distance between price levels in bps (default 1)")
    parser.add_argument(
        "--book-levels", type=int, default=100, help="levels a taker walks; a market order's rest expires (default 100)"
    )
    parser.add_argument(
        "--enforce-limits",
        action="store_true",
        default=False,
        help="answer 429 / 418 past the exchangeInfo rateLimits (default: count and report them only)",
    )
    parser.add_argument(
        "--limit-scale", default="1", help="multiply every rateLimits limit by this, e.g. 0.01 (default 1)"
    )
    parser.add_argument(
        "--ban-after", type=int, default=5, help="429s in a row, without backing off, before a 418 ban (default 5)"
    )
    parser.add_argument(
        "--ban-seconds", type=int, default=120, help="first ban; each next one doubles, up to 3 days (default 120)"
    )


def with_defaults(args: Any) -> Any:
    """Fill the options left unset (None) with this module's defaults: one place for them."""
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    base = vars(defaults.parse_args([]))
    given = {k: v for k, v in vars(args).items() if v is not None}
    return argparse.Namespace(**{**base, **given})


def serve(args: Any) -> int:
    try:
        info = load_info(args.exchange_info)
        balances = parse_pairs(args.balances, "--balances")
        prices = parse_pairs(",".join(args.price), "--price")
        config = MatchingConfig(
            maker_fee=Decimal(args.fee),
            taker_fee=Decimal(args.fee),
            slippage_bps=Decimal(args.slippage_bps),
            top_of_book_qty=Decimal(args.top_of_book_qty),
            level_bps=Decimal(args.level_bps),
            book_levels=args.book_levels,
        )
        venue = Venue(info, balances, prices, config, Decimal(args.walk_bps), args.step_ms, args.seed)
        limits = LimitSettings.from_json(
            {
                "enforce": args.enforce_limits,
                "scale": args.limit_scale,
                "ban_after": args.ban_after,
                "ban_seconds": args.ban_seconds,
            }
        )
        exchange = LocalExchange(venue, args.api_key, args.api_secret, limits)
    except (OSError, ValueError, KeyError, InvalidOperation) as exc:
        print(f"local-exchange: {exc}", file=sys.stderr)
        return 2
    server = make_server(exchange, args.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="local-exchange", daemon=True)
    thread.start()
    enforced = "enforced" if limits.enforce else "counted, not enforced"
    print(
        f"local exchange listening on http://127.0.0.1:{server.server_port} (api key {args.api_key}; "
        f"rate limits {enforced}, scale {args.limit_scale})",
        flush=True,
    )
    stop.wait()
    server.shutdown()
    server.server_close()
    print("local exchange stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.exchange", description="local Binance-compatible exchange")
    add_arguments(parser)
    return serve(parser.parse_args(argv))
