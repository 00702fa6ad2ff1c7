"""Request parameters as Binance reads them, and Binance's errors for the ones it cannot read."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from contracts.orders import BinanceOrderType, OrderRequest, Side

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")


class ApiError(Exception):
    """An error answer: HTTP status, Binance code and message."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = dict(headers or {})


def _illegal(name: str, legal: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def text(params: Mapping[str, str], name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise mandatory(name)
        return None
    return value


def need(params: Mapping[str, str], name: str) -> str:
    value = text(params, name)
    assert value is not None
    return value


def decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = text(params, name, required=False)
    if raw is None:
        return None
    if not _DECIMAL.match(raw):
        raise _illegal(name, r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes it
        raise mandatory(name) from exc


def integer(params: Mapping[str, str], name: str) -> int | None:
    raw = text(params, name, required=False)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise _illegal(name, r"^[0-9]{1,20}$")
    return int(raw)


def client_id(params: Mapping[str, str], name: str) -> str:
    value = text(params, name, required=False)
    if value is None:
        return "local-" + secrets.token_hex(8)
    if not _CLIENT_ID.match(value):
        raise _illegal(name, r"^[a-zA-Z0-9-_]{1,36}$")
    return value


def _require(params: Mapping[str, str], key: Callable[[str], str], otype: BinanceOrderType, has_qty: bool) -> None:
    """The parameters Binance's API requires for this order type (rest-api.md), before any filter is checked."""
    has_qty = has_qty or bool(params.get(key("quantity")))
    if otype is BinanceOrderType.MARKET and not (has_qty or params.get("quoteOrderQty")):
        raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
    names = ["timeInForce"] if otype.needs_time_in_force else []
    names += ["quantity"] if otype is not BinanceOrderType.MARKET and not has_qty else []
    names += ["price"] if otype.needs_price else []
    names += ["stopPrice"] if otype.needs_stop_price and not params.get(key("trailingDelta")) else []
    for name in names:
        text(params, key(name))


def order_request(
    params: Mapping[str, str], prefix: str = "", *, symbol: str, side: str | None = None, quantity: str | None = None
) -> OrderRequest:
    """One order from ``{prefix}Type``, ``{prefix}Price``, ... (prefix "" for a plain order, "above", ...)."""

    def key(name: str) -> str:
        return f"{prefix}{name[0].upper()}{name[1:]}" if prefix else name

    side_text = side if side is not None else need(params, key("side"))
    type_text = need(params, key("type"))
    if side_text not in Side.__members__:
        raise ApiError(-1117, "Invalid side.")
    if type_text not in BinanceOrderType.__members__:
        raise ApiError(-1116, "Invalid orderType.")
    otype = BinanceOrderType(type_text)
    qty_params = dict(params) if quantity is None else {"quantity": quantity}
    _require(params, key, otype, quantity is not None)
    tif = text(params, key("timeInForce"), required=False)
    if tif is not None and tif not in ("GTC", "IOC", "FOK"):
        raise ApiError(-1115, "Invalid timeInForce.")
    try:
        return OrderRequest(
            symbol=symbol,
            side=Side(side_text),
            type=otype,
            quantity=decimal(qty_params, "quantity" if quantity is not None else key("quantity")),
            quote_order_qty=decimal(params, "quoteOrderQty") if not prefix else None,
            price=decimal(params, key("price")),
            stop_price=decimal(params, key("stopPrice")),
            time_in_force=tif,
            trailing_delta=integer(params, key("trailingDelta")),
            new_client_order_id=client_id(params, key("clientOrderId") if prefix else "newClientOrderId"),
        )
    except ValidationError as exc:
        raise ApiError(-1102, f"Malformed order: {exc.errors()[0]['msg']}") from exc
