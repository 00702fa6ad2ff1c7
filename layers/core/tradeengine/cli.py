"""The ``tradeengine`` command: dry-run sizing against real exchange data, and local tools."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from contracts.errors import sentence
from contracts.orders import Hold, OrderPlan
from contracts.rejection import RejectionCode
from contracts.signal import Signal
from tradeengine import __version__
from tradeengine.engine import Decision, decide
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.risk import TradingState
from tradeengine.rules import SymbolRules
from tradeengine.sizing import Market


class UsageError(Exception):
    """Input the command cannot use at all (exit 2)."""


_DATETIME = TypeAdapter(datetime)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = _DATETIME.validate_python(int(text) if text.isdigit() else text)
    except ValidationError as exc:
        raise UsageError(f"--now {text!r} is not an ISO-8601 time or epoch seconds") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_rules(path: str) -> dict[str, SymbolRules]:
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read exchange info {path}: {exc.strerror or exc}") from exc
    if file.suffix == ".gz":
        import gzip

        raw = gzip.decompress(raw)
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise UsageError(f"{path} is not a Binance exchangeInfo document (no 'symbols' list)")
    return parse_exchange_info(info)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        result = Decimal("NaN")
    if not result.is_finite() or result < 0 or isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not a non-negative number")
    return result


def decision_json(decision: Decision) -> dict[str, Any]:
    if isinstance(decision, OrderPlan):
        return {
            "signal_id": decision.signal_id,
            "accepted": True,
            "order": decision.order.to_binance(),
            "brackets": decision.brackets.to_binance() if decision.brackets else None,
            "notional": format(decision.notional.normalize(), "f"),
            "min_quantity": format(decision.min_quantity.normalize(), "f"),
            "sizing": decision.sizing,
            "notes": list(decision.notes),
        }
    if isinstance(decision, Hold):
        return {
            "signal_id": decision.signal_id,
            "accepted": True,
            "order": None,
            "hold": True,
            "reason": decision.reason,
        }
    return {"accepted": False, "code": decision.code.value, "reason": decision.reason}


def size_lines(
    lines: Iterable[str], rules: dict[str, SymbolRules], now: datetime, state: TradingState, out: TextIO
) -> int:
    from tradeengine.config import get_settings

    policy = get_settings().policy(state)
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"line {number}: not JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(item, dict) or "signal" not in item:
            raise UsageError(f'line {number}: expected an object like {{"signal": {{...}}}}')
        result = _size_one(item, rules, now, policy)
        out.write(json.dumps(result, separators=(",", ":")) + "\n")
        count += 1
    out.flush()
    return count


def _size_one(item: dict[str, Any], rules: dict[str, SymbolRules], now: datetime, policy: Any) -> dict[str, Any]:
    try:
        signal = Signal.model_validate(item["signal"])
    except ValidationError as exc:
        return {"accepted": False, "code": RejectionCode.INVALID_SIGNAL.value, "reason": sentence(exc, "signal.")}
    try:
        price = _decimal(item["market_price"], "market_price") if item.get("market_price") is not None else signal.price
        raw_balances = item.get("balances")
        if raw_balances is not None and not isinstance(raw_balances, dict):
            raise ValueError('balances: must be an object like {"USDT": "1000"}')
        balances = (
            None
            if raw_balances is None
            else {str(k).upper(): _decimal(v, f"balances.{k}") for k, v in raw_balances.items()}
        )
    except ValueError as exc:
        return {"accepted": False, "code": RejectionCode.INVALID_SIGNAL.value, "reason": str(exc)}
    decision = decide(signal, rules, Market(price), now, balances, policy)
    return decision_json(decision)


def _cmd_size(args: argparse.Namespace) -> int:
    rules = load_rules(args.exchange_info)
    size_lines(sys.stdin, rules, _parse_now(args.now), TradingState(args.trading_state), sys.stdout)
    return 0


Subcommands = Any  # argparse's _SubParsersAction, private in typeshed: what add_parser is called on


def build_parser(commands: Sequence[Callable[[Subcommands], None]] = ()) -> argparse.ArgumentParser:
    """The library's commands, and ``commands`` that add more: the repository's ``tradeengine`` entry point
    (local/cli.py) adds the laptop's local-exchange, which the Lambda layer does not ship."""
    parser = argparse.ArgumentParser(prog="tradeengine", description="Petrosa Trading Engine tools")
    parser.add_argument("--version", action="version", version=f"tradeengine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    size = sub.add_parser(
        "size",
        help="dry-run signals (JSON lines on stdin) against an exchangeInfo file",
        description='Reads JSON lines {"signal": {...}, "market_price": "45000", "balances": {"USDT": "1000"}} '
        "and writes one decision per line. Risk limits come from the environment (MIN_CONFIDENCE, ...).",
    )
    size.add_argument("--exchange-info", required=True, help="Binance exchangeInfo JSON (or .json.gz)")
    size.add_argument("--now", help="judge signal age as of this time (ISO-8601 or epoch seconds); default: now")
    size.add_argument("--trading-state", default="ACTIVE", choices=[s.value for s in TradingState])
    size.set_defaults(func=_cmd_size)
    for add in commands:  # where `tradeengine --help` has always listed them: right after `size`
        add(sub)
    token = sub.add_parser(
        "token",
        help="mint a bearer token for the HTTP API, signed with JWT_SECRET_KEY (local use)",
        description="Prints an HS256 JWT for 'Authorization: Bearer ...'. Scopes: signals:write, orders:read, "
        "orders:write, account:read, admin (admin implies all). Needs JWT_SECRET_KEY in the environment, or "
        "JWT_SECRET_ID: the Secrets Manager secret that holds it.",
    )
    token.add_argument("--scope", action="append", required=True, metavar="SCOPE", help="repeatable")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600, at most 7 days)")
    token.add_argument("--subject", default="local", help="who the token speaks for (the 'sub' claim)")
    token.add_argument("--strategy", action="append", default=None,
                       help="a strategy the token may act for (repeatable; none: every strategy)")  # fmt: skip
    token.set_defaults(func=_cmd_token)
    from tradeengine import cli_book  # positions, performance: the book of a running stack, over its API

    cli_book.add_commands(sub)
    from tradeengine import cli_hooks  # hook create|rotate|revoke|list: TradingView webhooks (docs/WEBHOOKS.md)

    cli_hooks.add_commands(sub)
    from tradeengine import cli_notify  # notify add|list|test|remove: where events go (docs/NOTIFICATIONS.md)

    cli_notify.add_commands(sub)
    return parser


def _cmd_token(args: argparse.Namespace) -> int:
    from tradeengine.api.tokens import mint  # lazy: PyJWT is a runtime extra, not needed by `size`
    from tradeengine.config import get_settings
    from tradeengine.stores.secrets import SecretUnavailable, load_secret_text

    settings = get_settings()
    secret = settings.jwt_secret_key  # JWT_SECRET_KEY, else the secret JWT_SECRET_ID (never the audit URL's)
    if (secret is None or not secret.get_secret_value()) and settings.jwt_secret_id:
        try:
            secret = load_secret_text(settings.jwt_secret_id)
        except SecretUnavailable as exc:  # names the secret id and the AWS error code, never a value
            raise UsageError(str(exc)) from None
    if secret is None or not secret.get_secret_value():
        raise UsageError("JWT_SECRET_KEY is not set (nor JWT_SECRET_ID); the API would not accept any token")
    try:
        print(mint(secret.get_secret_value(), args.subject, args.scope, args.ttl, strategies=args.strategy))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return 0


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"tradeengine: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    # Through the module's own name: as __main__, this file's UsageError would be another class than the
    # one cli_hooks and cli_notify raise (they import tradeengine.cli), and their errors a traceback.
    from tradeengine.cli import main as _main

    sys.exit(_main())
