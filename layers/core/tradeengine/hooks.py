"""Webhook hooks: a URL that one strategy's TradingView alerts post to, and the secret that proves them.

A hook is bound to one strategy and carries the defaults an alert may leave out (confidence, order type,
how to size). Its secret (the alert's ``passphrase``) is made here, 32 random bytes, and only its SHA-256
is stored: a secret with that much entropy needs no slow hash (as API tokens, unlike passwords), and a
copy of the table alone lets nobody post. During a rotation the previous secret stays valid until
``previous_until``, so the alerts can be edited one by one without a refused signal.

Pure: the stores (``tradeengine.stores.hooks``, DynamoDB) and the in-memory adapters below keep ``Hook``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from contracts.signal import OrderType

HOOK_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
_HOOK_ID = re.compile(HOOK_ID_PATTERN)
SIZINGS = ("alert", "min", "pct", "quote")  # alert: the alert's quantity (0: the minimum); pct/quote take a value
# Compared with when the hook is unknown, so an unknown hook costs the same time as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such hook").hexdigest()


class HookError(ValueError):
    """A hook definition the engine refuses (the CLI shows it)."""


@dataclass(frozen=True, slots=True)
class HookDefaults:
    confidence: Decimal = Decimal(1)
    order_type: OrderType = OrderType.MARKET
    sizing: str = "alert"
    sizing_value: Decimal | None = None  # percent for pct, quote amount for quote

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.confidence <= Decimal(1):
            raise HookError(f"confidence {self.confidence} must be between 0 and 1")
        if self.sizing not in SIZINGS:
            raise HookError(f"sizing {self.sizing!r} must be one of {', '.join(SIZINGS)}")
        if (self.sizing in ("pct", "quote")) != (self.sizing_value is not None):
            raise HookError("sizing pct and quote need a value (pct:25, quote:100); alert and min take none")
        if self.sizing_value is not None and self.sizing_value <= 0:
            raise HookError("the sizing value must be greater than 0")
        if self.sizing == "pct" and self.sizing_value is not None and self.sizing_value > 100:
            raise HookError("sizing pct is a percent of the balance: at most 100")
        if self.sizing == "quote" and self.order_type is not OrderType.MARKET:
            raise HookError("sizing quote (Binance quoteOrderQty) is for market orders only")

    @classmethod
    def parse(cls, confidence: str | None, order_type: str | None, sizing: str | None) -> HookDefaults:
        """From the CLI's words: ``--confidence 0.9 --order-type market --sizing pct:25``."""
        kind, _, value = (sizing or "alert").partition(":")
        try:
            return cls(
                confidence=Decimal(confidence) if confidence is not None else Decimal(1),
                order_type=OrderType((order_type or "market").lower()),
                sizing=kind.lower(),
                sizing_value=Decimal(value) if value else None,
            )
        except (InvalidOperation, ValueError) as exc:
            raise HookError(str(exc) if isinstance(exc, HookError) else f"not a valid default: {exc}") from None

    def describe(self) -> str:
        size = self.sizing if self.sizing_value is None else f"{self.sizing}:{self.sizing_value}"
        return f"confidence {self.confidence}, {self.order_type.value} orders, sizing {size}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"confidence": str(self.confidence), "order_type": self.order_type.value}
        out["sizing"] = self.sizing
        if self.sizing_value is not None:
            out["sizing_value"] = str(self.sizing_value)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> HookDefaults:
        value = raw.get("sizing_value")
        return cls(
            confidence=Decimal(str(raw.get("confidence", "1"))),
            order_type=OrderType(raw.get("order_type", "market")),
            sizing=str(raw.get("sizing", "alert")),
            sizing_value=Decimal(str(value)) if value is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Hook:
    hook_id: str
    strategy_id: str
    secret_hash: str
    created_at: datetime
    defaults: HookDefaults = field(default_factory=HookDefaults)
    previous_hash: str | None = None
    previous_until: datetime | None = None
    revoked_at: datetime | None = None
    label: str = ""

    def accepts(self, passphrase: str, now: datetime) -> bool:
        """Whether ``passphrase`` is this hook's secret (or, during a rotation, its previous one). Both
        digests are compared in constant time, whichever matches."""
        given = hash_secret(passphrase)
        current = hmac.compare_digest(given, self.secret_hash)
        previous = hmac.compare_digest(given, self.previous_hash or _DUMMY_HASH)
        in_grace = self.previous_until is not None and now < self.previous_until
        return self.revoked_at is None and (current or (previous and in_grace and self.previous_hash is not None))

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.previous_until is not None and now < self.previous_until:
            return "rotating"
        return "active"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_hook_id() -> str:
    return "hk_" + secrets.token_hex(8)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "backslashreplace")).hexdigest()


def rejects_unknown(passphrase: str) -> bool:
    """The comparison an unknown hook still makes (same cost as a known one's); always False."""
    hmac.compare_digest(hash_secret(passphrase), _DUMMY_HASH)
    return False


def valid_hook_id(hook_id: str) -> bool:
    return bool(_HOOK_ID.match(hook_id))


def create(
    strategy_id: str, defaults: HookDefaults, now: datetime, hook_id: str | None = None, label: str = ""
) -> tuple[Hook, str]:
    """A new hook and its secret (shown once, never stored)."""
    hook_id = hook_id or new_hook_id()
    if not valid_hook_id(hook_id):
        raise HookError(f"hook id {hook_id!r}: 3 to 64 letters, digits, '_' or '-'")
    if not strategy_id.strip() or len(strategy_id) > 128:
        raise HookError("the strategy id must be 1 to 128 characters")
    secret = new_secret()
    return Hook(hook_id, strategy_id.strip(), hash_secret(secret), now, defaults, label=label), secret


def rotated(hook: Hook, now: datetime, grace: timedelta) -> tuple[Hook, str]:
    """``hook`` with a new secret; the current one stays valid for ``grace`` (0: replaced at once)."""
    if hook.revoked_at is not None:
        raise HookError(f"hook {hook.hook_id} is revoked; create a new one")
    secret = new_secret()
    keep = grace > timedelta(0)
    return replace(
        hook,
        secret_hash=hash_secret(secret),
        previous_hash=hook.secret_hash if keep else None,
        previous_until=now + grace if keep else None,
    ), secret


class HookStore(Protocol):
    def get(self, hook_id: str) -> Hook | None: ...

    def put(self, hook: Hook, *, new: bool = False) -> bool:
        """Save ``hook``; with ``new``, only if no hook has its id (False when one has)."""
        ...

    def list(self) -> Iterator[Hook]: ...


class AuthFailures(Protocol):
    """Wrong passphrases counted per source address in one-minute windows (shared by every instance)."""

    def count(self, source: str) -> int:
        """Failures from ``source`` in the current window."""
        ...

    def add(self, source: str) -> int:
        """One more failure from ``source``; the window's count, this one included."""
        ...
