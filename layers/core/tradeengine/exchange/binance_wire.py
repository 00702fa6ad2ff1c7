"""Binance's JSON answers → the exchange port's types, and the port's requests → Binance's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contracts.money import plain
from tradeengine.exchange.base import ExchangeOrder, Fill, OcoRequest, OrderListResult, OrderStatus

_D0 = Decimal(0)


def trade(t: Mapping[str, Any]) -> Fill:
    return Fill(
        price=dec(t["price"]),
        qty=dec(t["qty"]),
        commission=dec(t.get("commission")),
        commission_asset=str(t.get("commissionAsset", "")),
        trade_id=int(t["id"]),
        is_maker=bool(t.get("isMaker", False)),
        time_ms=int(t.get("time") or 0),
    )


def dec(value: Any) -> Decimal:
    return _D0 if value is None or value == "" else Decimal(str(value))


def opt_dec(value: Any) -> Decimal | None:
    found = dec(value) if value is not None else None
    return found if found else None


def order_ref(symbol: str, order_id: int | None, client_order_id: str | None) -> dict[str, Any]:
    if order_id is None and not client_order_id:
        raise ValueError("an order is named by order_id or client_order_id")
    params: dict[str, Any] = {"symbol": symbol}
    if order_id is not None:
        params["orderId"] = order_id
    else:
        params["origClientOrderId"] = client_order_id
    return params


def oco_legs(request: OcoRequest) -> dict[str, str]:
    """Above/below legs of Binance's new OCO: the take-profit is a LIMIT_MAKER, the stop a STOP_LOSS
    (or a STOP_LOSS_LIMIT at ``stop_limit_price`` on symbols that do not offer STOP_LOSS)."""
    tp_id, sl_id = request.take_profit_client_order_id, request.stop_loss_client_order_id
    take_profit = {"Type": "LIMIT_MAKER", "Price": plain(request.take_profit_price), "ClientOrderId": tp_id}
    stop = {"Type": "STOP_LOSS", "ClientOrderId": sl_id}
    if request.stop_loss_price is not None:
        stop["StopPrice"] = plain(request.stop_loss_price)
    if request.stop_loss_trailing_delta is not None:  # belowTrailingDelta / aboveTrailingDelta, in bips
        stop["TrailingDelta"] = str(request.stop_loss_trailing_delta)
    if request.stop_limit_price is not None:
        stop.update(Type="STOP_LOSS_LIMIT", Price=plain(request.stop_limit_price), TimeInForce="GTC")
    # Exiting a long (SELL): take profit above the price, stop below; exiting a short the other way round.
    above, below = (take_profit, stop) if request.side.upper() == "SELL" else (stop, take_profit)
    return {**{f"above{k}": v for k, v in above.items()}, **{f"below{k}": v for k, v in below.items()}}


def status(raw: Any) -> OrderStatus:
    try:
        return OrderStatus(str(raw))
    except ValueError:
        # a status newer than this code: report the order as open so it is looked at again, not forgotten
        return OrderStatus.NEW


def order(raw: Mapping[str, Any]) -> ExchangeOrder:
    fills = tuple(
        Fill(
            price=dec(f["price"]),
            qty=dec(f["qty"]),
            commission=dec(f.get("commission")),
            commission_asset=str(f.get("commissionAsset", "")),
            trade_id=int(f.get("tradeId", -1)),
        )
        for f in raw.get("fills", ())
    )
    return ExchangeOrder(
        symbol=str(raw["symbol"]),
        order_id=int(raw["orderId"]),
        # a cancel answer names the order's own id origClientOrderId (clientOrderId is the cancel's)
        client_order_id=str(raw.get("origClientOrderId") or raw.get("clientOrderId", "")),
        side=str(raw.get("side", "")),
        type=str(raw.get("type", "")),
        status=status(raw.get("status", "NEW")),
        orig_qty=dec(raw.get("origQty")),
        executed_qty=dec(raw.get("executedQty")),
        cummulative_quote_qty=dec(raw.get("cummulativeQuoteQty")),
        price=opt_dec(raw.get("price")),
        stop_price=opt_dec(raw.get("stopPrice")),
        time_in_force=raw.get("timeInForce"),
        order_list_id=int(raw.get("orderListId", -1)),
        update_time_ms=int(raw.get("updateTime") or raw.get("transactTime") or raw.get("workingTime") or 0),
        fills=fills,
        trailing_delta=int(raw["trailingDelta"]) if raw.get("trailingDelta") is not None else None,
    )


def order_list(raw: Mapping[str, Any]) -> OrderListResult:
    reports = raw.get("orderReports") or [
        {"symbol": o["symbol"], "orderId": o["orderId"], "clientOrderId": o["clientOrderId"]}
        for o in raw.get("orders", ())
    ]
    return OrderListResult(
        order_list_id=int(raw["orderListId"]),
        list_client_order_id=str(raw.get("listClientOrderId", "")),
        list_status=str(raw.get("listStatusType", "")),  # EXEC_STARTED / ALL_DONE, as the port says
        orders=tuple(order(o) for o in reports),
    )
