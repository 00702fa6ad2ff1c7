"""Notifications: which execution events a trader is told about, in what words, and the HTTP request that
tells them (Telegram's bot API, Discord and Slack incoming webhooks, a generic signed webhook).

A ``Channel`` is one destination, bound to one strategy (or ``*``, every strategy) and to the topics it
wants: ``fills`` (an entry fills, in part or whole), ``exits`` (an exit or a close fills; a position is
closed, with its realized PnL), ``refusals`` (a signal refused), ``protections`` (an automatic protection
trips, a refusal by one, a position flattened because its exits could not stand) and ``errors`` (a signal
FAILED, a position left unprotected). Every other event (RECEIVED, QUEUED, SIZED...) is nobody's message.

The generic webhook signs what it sends, as Stripe and Slack sign theirs: ``X-Petrosa-Signature:
v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` with ``X-Petrosa-Timestamp`` (Unix seconds); a
receiver recomputes it (``verify_signature``) and refuses a timestamp older than five minutes (a replay).

Pure: no I/O (``tradeengine.pipeline.notify`` sends; ``tradeengine.stores.channels`` keeps the channels).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from contracts.events import EventKind, ExecutionEvent
from contracts.money import plain

TOPICS = ("fills", "exits", "refusals", "protections", "errors")
TYPES = ("telegram", "discord", "slack", "webhook")
CHANNEL_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
_CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)
ALL_STRATEGIES = "*"
SIGNATURE_TOLERANCE_S = 300  # a signed webhook older than this is a replay to its receiver
TEXT_LIMIT = 1900  # below Discord's 2,000 characters (Telegram takes 4,096, Slack 40,000)
# Refusals an automatic protection (tradeengine.protections, the trading switch) decided, not the signal itself.
PROTECTION_CODES = frozenset(
    {"DAILY_LOSS_LIMIT", "MAX_DRAWDOWN", "STOPLOSS_GUARD", "COOLDOWN", "TRADING_HALTED", "TRADING_REDUCING"}
)
EXIT_ROLES = frozenset({"exit", "close"})


class ChannelError(ValueError):
    """A channel definition the engine refuses (the CLI shows it)."""


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: str
    type: str  # telegram, discord, slack, webhook
    strategy_id: str  # one strategy, or "*" for every strategy
    topics: frozenset[str]
    target: str  # the webhook URL; Telegram's chat id
    secret: str = ""  # Telegram's bot token; the webhook's signing secret; none for Discord and Slack
    label: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    disabled_at: datetime | None = None

    def __post_init__(self) -> None:
        if not _CHANNEL_ID.match(self.channel_id):
            raise ChannelError(f"channel id {self.channel_id!r} must match {CHANNEL_ID_PATTERN}")
        if self.type not in TYPES:
            raise ChannelError(f"channel type {self.type!r} must be one of {', '.join(TYPES)}")
        unknown = sorted(set(self.topics) - set(TOPICS))
        if unknown or not self.topics:
            raise ChannelError(f"topics must be some of {', '.join(TOPICS)} (got {', '.join(unknown) or 'none'})")
        if not self.strategy_id:
            raise ChannelError("a channel is for one strategy_id, or * for every strategy")
        if self.type == "telegram":
            if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z0-9_]{5,64}", self.target):
                raise ChannelError("a Telegram chat is a numeric chat id (-100...) or @channelusername")
            if not re.fullmatch(r"\d{3,20}:[A-Za-z0-9_-]{20,100}", self.secret):
                raise ChannelError("a Telegram bot token looks like 123456789:AA... (from @BotFather)")
        else:
            check_url(self.target)
        if self.type == "webhook" and len(self.secret) < 16:
            raise ChannelError("a signed webhook needs a signing secret of 16 characters or more")

    def wants(self, event: ExecutionEvent, topic: str) -> bool:
        if self.disabled_at is not None or topic not in self.topics:
            return False
        return self.strategy_id in (ALL_STRATEGIES, event.strategy_id)

    def masked(self) -> dict[str, Any]:
        """What ``notify list`` shows: never the secret, nor the path of a webhook URL (it is the secret)."""
        target = self.target
        if self.type != "telegram":
            parts = urlsplit(target)
            target = f"{parts.scheme}://{parts.netloc}/…"
        return {
            "channel_id": self.channel_id,
            "type": self.type,
            "strategy_id": self.strategy_id,
            "topics": sorted(self.topics),
            "target": target,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "status": "disabled" if self.disabled_at else "active",
        }


def check_url(url: str) -> None:
    """https only, except plain http to this machine (the laptop stack's sink)."""
    parts = urlsplit(url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ChannelError(f"a webhook URL must be https:// (http:// only to this machine), not {parts.scheme!r}")
    if not parts.hostname or len(url) > 2048:
        raise ChannelError("a webhook URL needs a host, and at most 2,048 characters")


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def parse_topics(text: str) -> frozenset[str]:
    if text.strip() == "all":
        return frozenset(TOPICS)
    return frozenset(t.strip() for t in text.split(",") if t.strip())


# --- which topic an event belongs to ---------------------------------------------------------------------


def topic_of(event: ExecutionEvent) -> str | None:
    """The one topic ``event`` is a message for, or None (most steps of a signal are nobody's message)."""
    detail = event.detail
    if event.kind is EventKind.PROTECTION:
        return "protections"
    if event.kind is EventKind.FILL:
        fill = _mapping(detail.get("fill"))
        return "exits" if fill.get("role") in EXIT_ROLES else "fills"
    if event.kind is EventKind.POSITION:
        position = _mapping(detail.get("position"))
        return "exits" if position.get("open") is False and int(position.get("fills") or 0) > 1 else None
    protection = protection_of(detail)
    if protection == "flattened":
        return "protections"
    if protection == "unprotected":
        return "errors"
    if event.state == "FAILED":
        return "errors"
    if event.state == "REJECTED":
        return "protections" if event.code in PROTECTION_CODES else "refusals"
    return None


def protection_of(detail: Mapping[str, Any]) -> str | None:
    """A step's new protection (``pipeline.protection``): a word, or ``{"protection": word, ...}``."""
    for place in (detail, _mapping(detail.get("exchange")), _mapping(detail.get("execution"))):
        value = place.get("protection")
        if isinstance(value, Mapping):
            value = value.get("protection")
        if isinstance(value, str):
            return value
    return None


# --- the words --------------------------------------------------------------------------------------------


def message_text(event: ExecutionEvent, topic: str) -> str:
    """One or two lines a trader reads at a glance: who, what, how much, at what price, the PnL when known."""
    head = f"{event.strategy_id} · {event.symbol}" if event.symbol else event.strategy_id
    mode = "" if event.mode == "mainnet" else f" [{event.mode}]"
    detail = event.detail
    if event.kind is EventKind.FILL:
        fill = _mapping(detail.get("fill"))
        what = "EXIT" if topic == "exits" else "FILL"
        quote = f" ({_num(fill.get('quote_qty'))})" if fill.get("quote_qty") not in (None, "") else ""
        body = f"{what} {fill.get('side', '')} {_num(fill.get('qty'))} @ {_num(fill.get('price'))}{quote}"
    elif event.kind is EventKind.POSITION:
        position = _mapping(detail.get("position"))
        pnl, asset = position.get("realized_pnl"), position.get("quote_asset", "")
        fees = position.get("fees")
        body = f"position closed · realized PnL {_signed(pnl)} {asset}".rstrip()
        if fees not in (None, "", "0"):
            body += f" (fees {_num(fees)})"
    elif event.kind is EventKind.PROTECTION:
        state = detail.get("trading_state", "")
        body = f"PROTECTION {event.code or ''} tripped · trading {detail.get('from', '?')} → {state}"
        if event.reason:
            body += f"\n{event.reason}"
        flattened = detail.get("flatten") or []
        if flattened:
            body += f"\nflattened {len(flattened)} position(s)"
        return _clip(f"{body}{mode}")
    else:
        protection = protection_of(detail)
        if protection in ("flattened", "unprotected"):
            why = _mapping(detail.get("protection")).get("why") or event.reason or "its exit orders could not stand"
            word = "FLATTENED at market" if protection == "flattened" else "UNPROTECTED (no stop working)"
            body = f"position {word}: {why}"
        else:
            word = {"REJECTED": "refused", "FAILED": "FAILED"}.get(event.state or "", event.state or "")
            body = f"signal {word}: {event.code or ''} {event.reason or ''}".rstrip()
        if event.signal_id:
            body += f"\nsignal {event.signal_id}"
    return _clip(f"{head}{mode}\n{body}")


def _num(value: Any) -> str:
    """A decimal string as a trader reads it: no exponent, no trailing zeros."""
    if value is None or value == "":
        return "?"
    try:
        return plain(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)[:40]


def _signed(value: Any) -> str:
    text = _num(value)
    return text if text.startswith("-") or text == "?" else f"+{text}"


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- the request --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str]

    def __repr__(self) -> str:  # a URL may be a secret (a webhook's path, Telegram's token): never printed
        return f"HttpRequest({urlsplit(self.url).netloc}, {len(self.body)} bytes)"


def build_request(
    channel: Channel, event: ExecutionEvent, text: str, now: datetime, telegram_api: str = "https://api.telegram.org"
) -> HttpRequest:
    headers = {"Content-Type": "application/json", "User-Agent": "petrosa-tradeengine-notifier"}
    if channel.type == "telegram":
        payload: dict[str, Any] = {"chat_id": channel.target, "text": text, "disable_web_page_preview": True}
        url = f"{telegram_api.rstrip('/')}/bot{channel.secret}/sendMessage"
        return HttpRequest(url, _json(payload), headers)
    if channel.type == "discord":
        # A strategy's free text must not ping a server: no @everyone, no role or user mentions.
        return HttpRequest(channel.target, _json({"content": text, "allowed_mentions": {"parse": []}}), headers)
    if channel.type == "slack":
        return HttpRequest(channel.target, _json({"text": slack_escape(text)}), headers)
    body = _json({"text": text, "topic": topic_of(event) or "", "event": json.loads(event.wire())})
    stamp = str(int(now.timestamp()))
    headers |= {
        "X-Petrosa-Timestamp": stamp,
        "X-Petrosa-Signature": sign(channel.secret, stamp, body),
        "X-Petrosa-Event-Id": event.event_id[:200],
    }
    return HttpRequest(channel.target, body, headers)


def slack_escape(text: str) -> str:
    """Slack's three control characters (its docs: escape &, <, >), so <!channel> in free text pings no one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, now: datetime, tolerance_s: int = SIGNATURE_TOLERANCE_S
) -> bool:
    """What a receiver of the signed webhook checks: the HMAC in constant time, and a fresh timestamp."""
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
