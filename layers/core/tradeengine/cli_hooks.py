"""``tradeengine hook create|rotate|revoke|list``: the webhook hooks TradingView alerts post to.

They write the control table directly (DynamoDB, ``tradeengine.stores.hooks``): ``--table``, else
``CONTROL_TABLE``, else the laptop stack's (``.local-stack/state.json``, with its emulator's endpoint).
A hook's passphrase is printed once, by ``create`` and ``rotate``, and stored only as its SHA-256.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tradeengine import hooks
from tradeengine.cli import UsageError

FAKE_AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # nosec B105 - the emulator's dummy keys


def add_commands(sub: Any) -> None:
    hook = sub.add_parser("hook", help="webhook hooks for TradingView alerts (create, rotate, revoke, list)")
    verbs = hook.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="a new hook bound to one strategy; prints its URL and passphrase once")
    create.add_argument("--strategy", required=True, help="the strategy_id its alerts trade for")
    create.add_argument("--confidence", help="the confidence of its signals (default 1)")
    create.add_argument("--order-type", help="market (default), limit, stop, stop_limit, take_profit, ...")
    create.add_argument("--sizing", help="alert (default: the alert's quantity, 0 = the minimum), min, pct:N "
                        "(percent of the balance or position), quote:N (quote amount, market orders)")  # fmt: skip
    create.add_argument("--id", dest="hook_id", help="the hook id (default: hk_ + 16 random hex digits)")
    create.add_argument("--label", default="", help="a note for the operator")
    _common(create)
    create.set_defaults(func=guarded(_cmd_create))
    rotate = verbs.add_parser("rotate", help="a new passphrase; the current one stays valid for --grace-minutes")
    rotate.add_argument("hook_id")
    rotate.add_argument("--grace-minutes", type=int, default=60, help="how long the old passphrase still works (60)")
    _common(rotate)
    rotate.set_defaults(func=guarded(_cmd_rotate))
    revoke = verbs.add_parser("revoke", help="refuse every alert to this hook from now on")
    revoke.add_argument("hook_id")
    _common(revoke)
    revoke.set_defaults(func=guarded(_cmd_revoke))
    listing = verbs.add_parser("list", help="the hooks, their strategy, defaults and status (never a secret)")
    _common(listing)
    listing.set_defaults(func=guarded(_cmd_list))


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """An AWS failure (no credentials, no region, no such table, unreachable) is a sentence, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except UsageError:
            raise
        except Exception as exc:
            if not type(exc).__module__.startswith("botocore"):
                raise
            raise UsageError(f"the control table could not be used: {type(exc).__name__}: {exc}") from None

    return run


def _common(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("API_PORT", "8000")
    parser.add_argument("--table", help="the control table (default: CONTROL_TABLE, else the laptop stack's)")
    parser.add_argument("--api", default=f"http://127.0.0.1:{port}", help="the API's base URL, to print the hook's")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def store(args: argparse.Namespace) -> Any:
    """The hook store: --table, CONTROL_TABLE, or the laptop stack's control table at its emulator."""
    from tradeengine.stores.hooks import DynamoDBHookStore

    table, ddb = control_table(args)
    return DynamoDBHookStore(table, ddb_client=ddb)


def control_table(args: argparse.Namespace) -> tuple[str, Any]:
    """--table, CONTROL_TABLE, or the laptop stack's control table, and a DynamoDB client for it."""
    from tradeengine.stores import aws

    table = args.table or os.environ.get("CONTROL_TABLE")
    endpoint = None
    if not table:
        state = Path(os.environ.get("LOCAL_STACK_DIR", ".local-stack")) / "state.json"
        try:
            deployed = json.loads(state.read_text()).get("deploy") or {}
            table, endpoint = deployed["outputs"]["ControlTableName"], deployed["endpoint"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError("no control table: pass --table, set CONTROL_TABLE, or start the laptop stack") from None
        for key, value in FAKE_AWS.items():
            os.environ.setdefault(key, value)
    return table, aws.client("dynamodb", endpoint_url=endpoint)


def _now() -> datetime:
    return datetime.now(UTC)


def _show(args: argparse.Namespace, hook: hooks.Hook, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "hook_id": hook.hook_id,
        "strategy_id": hook.strategy_id,
        "url": f"{args.api.rstrip('/')}/webhooks/{hook.hook_id}",
        "status": hook.status(_now()),
        "defaults": hook.defaults.as_json(),
        "created_at": hook.created_at.isoformat(),
    }
    if hook.previous_until is not None:
        out["previous_valid_until"] = hook.previous_until.isoformat()
    if hook.label:
        out["label"] = hook.label
    if secret is not None:
        out["passphrase"] = secret
        out["tradingview_message"] = tradingview_message(secret)
    return out


def tradingview_message(secret: str) -> str:
    """The alert message to paste in TradingView (a strategy's order fills the placeholders)."""
    return json.dumps({
        "passphrase": secret,
        "symbol": "{{exchange}}:{{ticker}}",
        "action": "{{strategy.order.action}}",
        "quantity": "{{strategy.order.contracts}}",
        "price": "{{close}}",
        "timestamp": "{{timenow}}",
    })  # fmt: skip


def _print(args: argparse.Namespace, shown: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(shown, indent=2))
        return
    for key in ("hook_id", "strategy_id", "url", "status", "previous_valid_until", "label"):
        if key in shown:
            print(f"{key:<22}{shown[key]}")
    print(f"{'defaults':<22}{hooks.HookDefaults.from_json(shown['defaults']).describe()}")
    if "passphrase" in shown:
        print(f"{'passphrase':<22}{shown['passphrase']}   (shown once; only its hash is stored)")
        print("TradingView alert > Notifications > Webhook URL: the url above; Message:")
        print(shown["tradingview_message"])


def _get(args: argparse.Namespace) -> tuple[Any, hooks.Hook]:
    hook_store = store(args)
    hook = hook_store.get(args.hook_id)
    if hook is None:
        raise UsageError(f"no hook {args.hook_id!r}")
    return hook_store, hook


def _cmd_create(args: argparse.Namespace) -> int:
    try:
        defaults = hooks.HookDefaults.parse(args.confidence, args.order_type, args.sizing)
        hook, secret = hooks.create(args.strategy, defaults, _now(), hook_id=args.hook_id, label=args.label)
    except hooks.HookError as exc:
        raise UsageError(str(exc)) from None
    if not store(args).put(hook, new=True):
        raise UsageError(f"a hook {hook.hook_id!r} exists already")
    _print(args, _show(args, hook, secret))
    return 0


def _cmd_rotate(args: argparse.Namespace) -> int:
    if args.grace_minutes < 0:
        raise UsageError("--grace-minutes must be 0 or more")
    hook_store, hook = _get(args)
    try:
        new, secret = hooks.rotated(hook, _now(), timedelta(minutes=args.grace_minutes))
    except hooks.HookError as exc:
        raise UsageError(str(exc)) from None
    hook_store.put(new)
    _print(args, _show(args, new, secret))
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from dataclasses import replace

    hook_store, hook = _get(args)
    if hook.revoked_at is None:
        hook = replace(hook, revoked_at=_now(), previous_hash=None, previous_until=None)
        hook_store.put(hook)
    _print(args, _show(args, hook))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    rows = [_show(args, hook) for hook in store(args).list()]
    if args.json:
        print(json.dumps({"hooks": rows}, indent=2))
        return 0
    for row in rows:
        print(f"{row['hook_id']:<24}{row['strategy_id']:<24}{row['status']:<10}{row['url']}")
    if not rows:
        print("no hooks")
    return 0
