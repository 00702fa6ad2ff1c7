"""A TradingView alert's message, as a hook receives it, turned into the engine's signal (pure).

TradingView fills placeholders into the alert's message text and posts it: ``{"passphrase": "...",
"symbol": "{{ticker}}", "action": "{{strategy.order.action}}", "quantity": "{{strategy.order.contracts}}",
"price": "{{close}}"}``. What it fills in is mapped here:

- ``{{ticker}}`` and ``{{exchange}}:{{ticker}}``: ``BINANCE:BTCUSDT`` → ``BTCUSDT``; another exchange's
  prefix is refused (this engine trades Binance spot), and a perpetual's ticker (``BTCUSDT.P``,
  ``BTCUSDTPERP``) is refused by name: its chart's prices and sizes are not the spot market's.
- ``timestamp`` is optional (``{{timenow}}``); without it the signal is dated when it was received.
- The hook supplies the strategy and the defaults (confidence, order type, sizing); the alert may give
  ``confidence``, ``order_type`` and the exits itself.
- The signal id is derived from the hook, the alert's content (the passphrase left out) and the minute,
  so TradingView's own retries of one alert (it resends when an answer is late) are one signal.

The passphrase never leaves this module: the signal carries none of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.signal import shown
from tradeengine.hooks import Hook

# The alert's own keys beside the passphrase; anything else is refused by name (a typo must not pass silently).
SIGNAL_KEYS = frozenset({"symbol", "ticker", "action", "quantity", "price", "timestamp", "confidence", "meta"})
META_KEYS = frozenset({
    "order_type", "time_in_force", "stop_price", "stop_loss", "stop_loss_pct", "take_profit", "take_profit_pct",
})  # fmt: skip
NOTE_KEYS = frozenset({"comment", "order_id", "market_position", "interval"})  # kept in meta.tags, for the trader
ALLOWED = SIGNAL_KEYS | META_KEYS | NOTE_KEYS | {"passphrase", "strategy_id"}
EXCHANGES = frozenset({"BINANCE"})
_PERPETUAL = re.compile(r"^[A-Z0-9]+(\.P|PERP)$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
# An alert repeated within this long of the first, in the next minute, is still TradingView retrying.
RETRY_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class AlertError:
    field: str
    rule: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True, slots=True)
class Alert:
    """The signal an alert asks for (as POST /trade/signal would take it), and its ids by minute."""

    signal: dict[str, Any]
    signal_id: str
    earlier_id: str  # the same alert's id one minute earlier: a retry that crossed a minute


def spot_symbol(ticker: object) -> str | AlertError:
    """``BINANCE:BTCUSDT`` / ``btcusdt`` → ``BTCUSDT``; perpetuals and other exchanges refused by name."""
    if not isinstance(ticker, str) or not ticker.strip():
        return AlertError("symbol", "missing", 'the alert needs a symbol, e.g. "symbol": "{{ticker}}"')
    text = ticker.strip().upper()
    exchange, sep, symbol = text.rpartition(":")
    if sep and exchange not in EXCHANGES:
        return AlertError(
            "symbol",
            "exchange_not_supported",
            f"{shown(text, 40)} is a {shown(exchange, 20)} chart; this engine trades Binance spot: alert from a "
            "BINANCE: chart",
        )
    if _PERPETUAL.match(symbol):
        spot = symbol.removesuffix(".P").removesuffix("PERP")
        return AlertError(
            "symbol",
            "perpetual_not_supported",
            f"{shown(text, 40)} is a perpetual futures contract; this engine trades Binance spot: alert from "
            f"the spot chart BINANCE:{shown(spot, 20)}",
        )
    if not _SYMBOL.match(symbol):
        return AlertError("symbol", "invalid_symbol", f"{shown(text, 40)} is not a Binance spot symbol (e.g. BTCUSDT)")
    return symbol


def read_alert(body: Mapping[str, Any], hook: Hook, received_at: datetime) -> Alert | list[AlertError]:
    """The signal an alert asks for, or what is wrong with the alert (the passphrase already checked)."""
    errors = [
        AlertError(shown(str(k), 40), "unknown_field", f"{shown(str(k), 40)} is not a field an alert may carry")
        for k in body
        if k not in ALLOWED
    ]
    errors += [
        AlertError(shown(str(k), 40), "unfilled_placeholder", f"TradingView left {shown(v, 60)} unfilled; strategy "
                   "placeholders ({{strategy.order.action}}, ...) are filled only in a strategy's order alerts")
        for k, v in body.items()
        if k != "passphrase" and isinstance(v, str) and "{{" in v
    ]  # fmt: skip
    if "symbol" in body and "ticker" in body:
        errors.append(AlertError("ticker", "conflicting_fields", "give symbol or ticker, not both"))
    symbol = spot_symbol(body.get("symbol", body.get("ticker")))
    if isinstance(symbol, AlertError):
        errors.append(symbol)
    strategy = body.get("strategy_id")
    if strategy is not None and strategy != hook.strategy_id:
        errors.append(AlertError("strategy_id", "bound_to_hook", f"this hook posts for {hook.strategy_id} only"))
    meta = body.get("meta", {})
    if not isinstance(meta, dict):
        errors.append(AlertError("meta", "object", "meta must be a JSON object"))
    if errors:
        return errors
    assert isinstance(symbol, str)
    return _signal(body, hook, symbol, dict(meta), received_at)


def _signal(body: Mapping[str, Any], hook: Hook, symbol: str, meta: dict[str, Any], received_at: datetime) -> Alert:
    defaults = hook.defaults
    meta.setdefault("order_type", defaults.order_type.value)
    meta.update({k: body[k] for k in META_KEYS if k in body})
    given = meta.get("tags")
    tags: dict[str, Any] = {**(given if isinstance(given, dict) else {})}
    tags.update({f"tv_{k}": body[k] for k in NOTE_KEYS if k in body})
    tags["hook_id"] = hook.hook_id  # where it came from (and how a retry is told from a reused id)
    quantity = body.get("quantity", "0")
    if defaults.sizing != "alert":  # the hook sizes; what the alert said is kept for the trader to read
        if "quantity" in body:
            tags["alert_quantity"] = body["quantity"]
        quantity = "0"
        if defaults.sizing == "pct":
            meta["position_size_pct"] = str(defaults.sizing_value)
        elif defaults.sizing == "quote":
            meta["quote_quantity"] = str(defaults.sizing_value)
    meta["tags"] = tags  # the strategy's own data: kept with the signal, never read by the engine
    signal: dict[str, Any] = {
        "strategy_id": hook.strategy_id,
        "symbol": symbol,
        "action": body.get("action"),
        "price": body.get("price"),
        "quantity": quantity,
        "confidence": body.get("confidence", str(defaults.confidence)),
        "timestamp": body.get("timestamp") or received_at.isoformat(),
        "meta": meta,
    }
    content = {k: v for k, v in body.items() if k not in ("passphrase", "timestamp")}
    if body.get("timestamp"):
        content["timestamp"] = body["timestamp"]  # TradingView's {{timenow}}: the alert's own time
    minute = received_at.replace(second=0, microsecond=0)
    signal_id = alert_signal_id(hook.hook_id, content, minute)
    earlier = alert_signal_id(hook.hook_id, content, minute - timedelta(minutes=1))
    return Alert({**signal, "signal_id": signal_id}, signal_id, earlier)


def alert_signal_id(hook_id: str, content: Mapping[str, Any], minute: datetime) -> str:
    text = json.dumps({"hook": hook_id, "alert": content, "minute": minute.isoformat()}, sort_keys=True, default=str)
    return "tv-" + hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:32]
