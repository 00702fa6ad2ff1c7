"""Automatic protections (pure: no I/O): judged from the book's fills before a buy is sized.

Each is off until its setting is given, and each refuses with its own stable code. Only entries (buys)
are refused: sells and closes reduce risk and always pass.
- ``DAILY_LOSS_LIMIT``: the strategy's realized PnL since 00:00 UTC is at or below −MAX_DAILY_LOSS.
- ``MAX_DRAWDOWN``: the strategy's realized equity curve has fallen MAX_DRAWDOWN or more from its peak.
- ``STOPLOSS_GUARD``: STOPLOSS_GUARD_TRADES stop-outs (exits filled by a stop-loss leg) within
  STOPLOSS_GUARD_WINDOW_MINUTES pause the strategy (or only the symbol) for STOPLOSS_GUARD_COOLDOWN_MINUTES
  after the last one.
- ``COOLDOWN``: no new entry on a (strategy, symbol) for COOLDOWN_AFTER_EXIT_MINUTES after any exit.
Account-wide (every strategy's book together): MAX_DAILY_LOSS_ACCOUNT and MAX_DRAWDOWN_ACCOUNT; when one
trips, the pipeline also moves the trading state itself (``PROTECTION_TRADING_STATE``).
Amounts are in each position's quote asset, added as they are: configure them for one quote asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from contracts.money import plain
from contracts.rejection import RejectionCode
from tradeengine.book import BookFill, Replay, performance, replay
from tradeengine.sizing_base import client_order_id

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ProtectionLimits:
    max_daily_loss: Decimal | None = None
    max_drawdown: Decimal | None = None
    max_daily_loss_account: Decimal | None = None
    max_drawdown_account: Decimal | None = None
    stoploss_guard_trades: int | None = None
    stoploss_guard_window: timedelta = timedelta(hours=1)
    stoploss_guard_cooldown: timedelta = timedelta(hours=1)
    stoploss_guard_per_symbol: bool = False
    cooldown_after_exit: timedelta | None = None

    @property
    def enabled(self) -> bool:
        return self.strategy_enabled or self.account_enabled

    @property
    def strategy_enabled(self) -> bool:
        return any(
            v is not None
            for v in (self.max_daily_loss, self.max_drawdown, self.stoploss_guard_trades, self.cooldown_after_exit)
        )

    @property
    def account_enabled(self) -> bool:
        return self.max_daily_loss_account is not None or self.max_drawdown_account is not None


@dataclass(frozen=True, slots=True)
class Trip:
    """A protection that refuses the entry: its name, the code, the reason; ``account``: account-wide."""

    name: str
    code: RejectionCode
    reason: str
    account: bool = False


Ledgers = Mapping[str, Sequence[BookFill]]  # symbol -> that position's fills


def check_strategy(
    strategy_id: str,
    symbol: str,
    ledgers: Ledgers,
    steps: Mapping[str, Decimal],
    now: datetime,
    limits: ProtectionLimits,
) -> Trip | None:
    """The strategy's own protections for a buy of ``symbol``."""
    replays = [replay(fills, steps.get(sym, ZERO)) for sym, fills in ledgers.items()]
    trip = _daily_loss(replays, now, limits.max_daily_loss, "max_daily_loss", f"strategy {strategy_id}")
    trip = trip or _drawdown(replays, limits.max_drawdown, "max_drawdown", f"strategy {strategy_id}")
    if trip is not None:
        return trip
    if limits.stoploss_guard_trades is not None:
        fills = [f for sym, fs in ledgers.items() for f in fs if not limits.stoploss_guard_per_symbol or sym == symbol]
        stops = sorted({f.order_id: f.time_ms for f in fills if _is_stop_out(f)}.values())
        since = _ms(now - limits.stoploss_guard_window)
        recent = [t for t in stops if t >= since]
        if len(recent) >= limits.stoploss_guard_trades and _ms(now) < recent[-1] + _ms_of(
            limits.stoploss_guard_cooldown
        ):
            scope = f"{strategy_id} on {symbol}" if limits.stoploss_guard_per_symbol else strategy_id
            until = datetime.fromtimestamp((recent[-1] + _ms_of(limits.stoploss_guard_cooldown)) / 1000, tz=now.tzinfo)
            return Trip(
                "stoploss_guard",
                RejectionCode.STOPLOSS_GUARD,
                f"{len(recent)} stop-outs of {scope} within {limits.stoploss_guard_window}: paused until "
                f"{until.isoformat()}",
            )
    if limits.cooldown_after_exit is not None:
        exits = [f.time_ms for f in ledgers.get(symbol, ()) if f.side == "SELL"]
        if exits and _ms(now) < max(exits) + _ms_of(limits.cooldown_after_exit):
            return Trip(
                "cooldown",
                RejectionCode.COOLDOWN,
                f"{strategy_id} exited {symbol} less than {limits.cooldown_after_exit} ago: cooling down",
            )
    return None


def check_account(
    books: Iterable[Ledgers], steps: Mapping[str, Decimal], now: datetime, limits: ProtectionLimits
) -> Trip | None:
    """The account-wide protections: every strategy's book together."""
    replays = [replay(fills, steps.get(sym, ZERO)) for ledgers in books for sym, fills in ledgers.items()]
    account = "the account"
    trip = _daily_loss(replays, now, limits.max_daily_loss_account, "max_daily_loss_account", account, True)
    return trip or _drawdown(replays, limits.max_drawdown_account, "max_drawdown_account", account, True)


def _daily_loss(
    replays: Sequence[Replay], now: datetime, limit: Decimal | None, name: str, who: str, account: bool = False
) -> Trip | None:
    """``who``'s realized PnL since 00:00 UTC at or below ``-limit`` (None: off)."""
    if limit is None:
        return None
    today = _since_midnight(replays, now)
    if today > -limit:
        return None
    reason = f"{who} has realized {plain(today)} today (UTC), at or past its limit of -{plain(limit)}"
    if not account:
        reason += ": no new entries until tomorrow"
    return Trip(name, RejectionCode.DAILY_LOSS_LIMIT, reason, account=account)


def _drawdown(
    replays: Sequence[Replay], limit: Decimal | None, name: str, who: str, account: bool = False
) -> Trip | None:
    """``who``'s realized equity curve fallen ``limit`` or more from its peak (None: off)."""
    if limit is None:
        return None
    drawdown = performance(replays).max_drawdown
    if drawdown < limit:
        return None
    reason = f"{who}'s realized PnL fell {plain(drawdown)} from its peak, at or past the limit {plain(limit)}"
    if not account:
        reason += ": no new entries"
    return Trip(name, RejectionCode.MAX_DRAWDOWN, reason, account=account)


def _is_stop_out(fill: BookFill) -> bool:
    return fill.role == "exit" and fill.client_order_id == client_order_id(fill.signal_id, "sl")


def _since_midnight(replays: Sequence[Replay], now: datetime) -> Decimal:
    midnight = _ms(now.replace(hour=0, minute=0, second=0, microsecond=0))
    total = ZERO
    for r in replays:
        before = [value for at, value in r.equity if at < midnight]
        last = r.equity[-1][1] if r.equity else ZERO
        total += last - (before[-1] if before else ZERO)
    return total


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _ms_of(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)
