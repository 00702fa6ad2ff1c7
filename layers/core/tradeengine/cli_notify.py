"""``tradeengine notify add|list|test|remove``: where the notifier sends a strategy's fills, exits, refusals,
protections and errors (Telegram, Discord, Slack, a signed webhook; ``tradeengine.notifications``).

They write the control table directly, as ``tradeengine hook`` does (``--table``, else ``CONTROL_TABLE``,
else the laptop stack's). A webhook's signing secret is printed once, by ``add``; ``list`` never shows a
secret, a bot token or the path of a webhook URL (which is itself the secret of Discord's and Slack's).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from contracts.events import EventKind, ExecutionEvent
from tradeengine import notifications
from tradeengine.cli import UsageError
from tradeengine.cli_hooks import control_table, guarded


def add_commands(sub: Any) -> None:
    notify = sub.add_parser("notify", help="notification channels: Telegram, Discord, Slack, signed webhooks")
    verbs = notify.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="a channel for one strategy (or * for all) and the topics it wants")
    add.add_argument("--strategy", required=True, help="the strategy_id whose events it gets, or * for every one")
    add.add_argument("--type", required=True, choices=notifications.TYPES)
    add.add_argument("--url", help="discord, slack, webhook: the webhook URL (https://)")
    add.add_argument("--chat", help="telegram: the chat id (-100...) or @channel")
    add.add_argument("--token", help="telegram: the bot token (default: TELEGRAM_BOT_TOKEN)")
    add.add_argument("--secret", help="webhook: the signing secret (default: a new random one, printed once)")
    add.add_argument("--topics", default="all", help=f"some of {','.join(notifications.TOPICS)}, or all (default)")
    add.add_argument("--id", dest="channel_id", help="the channel id (default: ch_ + 12 random hex digits)")
    add.add_argument("--label", default="", help="a note for the operator")
    _common(add)
    add.set_defaults(func=guarded(_cmd_add))
    listing = verbs.add_parser("list", help="the channels, their strategy, topics and status (never a secret)")
    _common(listing)
    listing.set_defaults(func=guarded(_cmd_list))
    test = verbs.add_parser("test", help="send one test message to a channel now, and say what it answered")
    test.add_argument("channel_id")
    test.add_argument("--telegram-api", default=os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org"))
    _common(test)
    test.set_defaults(func=guarded(_cmd_test))
    remove = verbs.add_parser("remove", help="delete a channel: nothing is sent to it from now on")
    remove.add_argument("channel_id")
    _common(remove)
    remove.set_defaults(func=guarded(_cmd_remove))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="the control table (default: CONTROL_TABLE, else the laptop stack's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _store(args: argparse.Namespace) -> Any:
    from tradeengine.stores.channels import DynamoDBChannels

    table, ddb = control_table(args)
    return DynamoDBChannels(table, ddb_client=ddb)


def _target_and_secret(args: argparse.Namespace) -> tuple[str, str]:
    """Telegram: the chat and the bot token; a webhook: its URL and signing secret; Discord, Slack: the URL."""
    if args.type == "telegram":
        return args.chat or "", args.token or os.environ.get("TELEGRAM_BOT_TOKEN") or ""
    if not args.url:
        raise UsageError(f"a {args.type} channel needs --url")
    if args.type == "webhook":
        return args.url, args.secret or notifications.new_signing_secret()
    return args.url, ""  # their URL is the secret


def _cmd_add(args: argparse.Namespace) -> int:
    target, secret = _target_and_secret(args)
    try:
        channel = notifications.Channel(
            channel_id=args.channel_id or f"ch_{secrets.token_hex(6)}",
            type=args.type,
            strategy_id=args.strategy,
            topics=notifications.parse_topics(args.topics),
            target=target,
            secret=secret,
            label=args.label,
        )
    except notifications.ChannelError as exc:
        raise UsageError(str(exc)) from None
    if not _store(args).put(channel, new=True):
        raise UsageError(f"a channel {channel.channel_id!r} exists already")
    shown = channel.masked()
    if args.type == "webhook" and not args.secret:
        shown["signing_secret"] = secret
    _print(args, shown)
    return 0


def _print(args: argparse.Namespace, shown: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(shown, indent=2))
        return
    for key in ("channel_id", "type", "strategy_id", "topics", "target", "status", "label"):
        value = shown.get(key)
        if value:
            print(f"{key:<16}{','.join(value) if isinstance(value, list) else value}")
    if "signing_secret" in shown:
        print(f"{'signing secret':<16}{shown['signing_secret']}")
        print("(shown once: verify X-Petrosa-Signature with it, docs/NOTIFICATIONS.md)")


def _cmd_list(args: argparse.Namespace) -> int:
    rows = [c.masked() for c in _store(args).all()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['channel_id']:<20}{row['type']:<10}{row['strategy_id']:<20}{','.join(row['topics']):<40}"
              f"{row['status']:<10}{row['target']}")  # fmt: skip
    if not rows:
        print("no channels")
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    from tradeengine.stores.http_out import UrllibSender

    channel = _store(args).get(args.channel_id)
    if channel is None:
        raise UsageError(f"no channel {args.channel_id!r}")
    now = datetime.now(UTC)
    event = ExecutionEvent(
        event_id=f"test:{channel.channel_id}:{int(now.timestamp())}",
        kind=EventKind.SIGNAL_STATE,
        strategy_id=channel.strategy_id if channel.strategy_id != "*" else "test",
        symbol="",
        seq=0,
        state="TEST",
        at=now,
        mode="test",
        detail={"test": True},
    )
    text = f"Petrosa test message to channel {channel.channel_id}: notifications work."
    request = notifications.build_request(channel, event, text, now, args.telegram_api)
    delivery = UrllibSender().post(request)
    said = f"HTTP {delivery.status}" if delivery.status else (delivery.error or "no answer")
    if args.json:
        print(json.dumps({"channel_id": channel.channel_id, "ok": delivery.ok, "answer": said}))
    else:
        print(f"{channel.channel_id}: {'delivered' if delivery.ok else 'NOT delivered'} ({said})")
    return 0 if delivery.ok else 1


def _cmd_remove(args: argparse.Namespace) -> int:
    if not _store(args).delete(args.channel_id):
        raise UsageError(f"no channel {args.channel_id!r}")
    print(f"removed {args.channel_id}")
    return 0
