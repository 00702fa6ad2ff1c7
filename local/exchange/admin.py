"""The admin API (no auth, loopback only): faults, prices, rate limits, state, reset. See docs/EXCHANGE.md."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from local.exchange.faults import Faults
from local.exchange.limits import LimitSettings
from local.exchange.params import ApiError

if TYPE_CHECKING:
    from local.exchange.server import LocalExchange


def admin(ex: LocalExchange, method: str, path: str, body: str) -> Any:
    try:
        raw = json.loads(body) if body else {}
    except ValueError as exc:
        raise ApiError(-1100, f"admin body is not JSON: {exc}") from exc
    with ex.venue.lock:
        if (method, path) == ("GET", "/admin/state"):
            return {**ex.venue.state(), "faults": ex.faults.to_json(), "serverTime": ex.now_ms()}
        if (method, path) == ("POST", "/admin/faults"):
            try:
                ex.faults = Faults.from_json(raw)
            except (ValueError, TypeError) as exc:
                raise ApiError(-1100, str(exc)) from exc
            return ex.faults.to_json()
        if (method, path) == ("GET", "/admin/limits"):
            return ex.limiter.state(ex.now_ms())
        if (method, path) == ("POST", "/admin/limits"):
            try:
                ex.limiter.configure(LimitSettings.from_json(raw))
            except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
                raise ApiError(-1100, f"limits: {exc}") from exc
            return ex.limiter.state(ex.now_ms())
        if (method, path) == ("POST", "/admin/price"):
            try:
                price = Decimal(str(raw["price"]))
            except (KeyError, InvalidOperation) as exc:
                raise ApiError(-1102, 'send {"symbol": "BTCUSDT", "price": "51000"}') from exc
            applied = ex.venue.set_price(str(raw.get("symbol", "")), price, ex.now_ms())
            return {"symbol": raw.get("symbol"), "price": format(applied, "f")}
        if (method, path) == ("POST", "/admin/reset"):
            ex.venue.reset()
            ex.faults = Faults()
            ex.limiter.reset()
            return {"reset": True}
    raise ApiError(-1000, f"Unknown admin endpoint {method} {path}.", 404)
