"""Binance's JSON shapes for orders, order lists, trades and the account (decimals as fixed-point strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeengine.exchange.matching import Book, Order, OrderList, Trade

_EIGHT = Decimal("0.00000001")


def num(value: Decimal) -> str:
    """Binance writes every decimal with 8 places ("0.00100000"), never with an exponent."""
    return format(value.quantize(_EIGHT), "f")


def ack(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time_ms,
    }


def result(order: Order) -> dict[str, Any]:
    out = ack(order)
    out.update(
        {
            "price": num(order.price),
            "origQty": num(order.orig_qty),
            "executedQty": num(order.executed_qty),
            "origQuoteOrderQty": num(order.orig_quote_order_qty),
            "cummulativeQuoteQty": num(order.cummulative_quote_qty),
            "status": order.status,
            "timeInForce": order.time_in_force or "GTC",
            "type": order.type,
            "side": order.side,
            "workingTime": order.working_time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
    )
    if order.stop_price > 0 or order.trailing_delta:
        out["stopPrice"] = num(order.stop_price)
    out.update(trailing(order))
    return out


def trailing(order: Order) -> dict[str, Any]:
    """A trailing stop's trailingDelta and trailingTime (-1 until it tracks); nothing for other orders."""
    if not order.trailing_delta:
        return {}
    return {"trailingDelta": order.trailing_delta, "trailingTime": order.trailing_time_ms}


def full(book: Book, order: Order) -> dict[str, Any]:
    out = result(order)
    out["fills"] = [
        {
            "price": num(t.price),
            "qty": num(t.qty),
            "commission": num(t.commission),
            "commissionAsset": t.commission_asset,
            "tradeId": t.trade_id,
        }
        for t in book.fills_of(order)
    ]
    return out


def new_order(book: Book, order: Order, resp_type: str) -> dict[str, Any]:
    if resp_type == "ACK":
        return ack(order)
    if resp_type == "RESULT":
        return result(order)
    return full(book, order)


def query(order: Order) -> dict[str, Any]:
    """GET /api/v3/order and openOrders."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": num(order.price),
        "origQty": num(order.orig_qty),
        "executedQty": num(order.executed_qty),
        "cummulativeQuoteQty": num(order.cummulative_quote_qty),
        "status": order.status,
        "timeInForce": order.time_in_force or "GTC",
        "type": order.type,
        "side": order.side,
        "stopPrice": num(order.stop_price),
        "icebergQty": num(Decimal(0)),
        "time": order.time_ms,
        "updateTime": order.update_time_ms,
        "isWorking": order.status != "PENDING_NEW" and order.triggered,
        "workingTime": order.working_time_ms,
        "origQuoteOrderQty": num(order.orig_quote_order_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
        **trailing(order),
    }


def canceled(order: Order, orig_client_order_id: str, cancel_client_order_id: str, now_ms: int) -> dict[str, Any]:
    out = result(order)
    out.pop("workingTime", None)
    out["origClientOrderId"] = orig_client_order_id
    out["clientOrderId"] = cancel_client_order_id
    out["transactTime"] = now_ms
    return out


def order_list(book: Book, lst: OrderList, reports: bool, resp_type: str = "FULL") -> dict[str, Any]:
    orders = book.list_orders(lst)
    out: dict[str, Any] = {
        "orderListId": lst.order_list_id,
        "contingencyType": lst.contingency_type,
        "listStatusType": lst.list_status_type,
        "listOrderStatus": lst.list_order_status,
        "listClientOrderId": lst.list_client_order_id,
        "transactionTime": lst.transaction_time_ms,
        "symbol": lst.symbol,
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in orders],
    }
    if reports:
        out["orderReports"] = [new_order(book, o, resp_type if resp_type != "ACK" else "RESULT") for o in orders]
    return out


def trade(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": t.order_list_id,
        "price": num(t.price),
        "qty": num(t.qty),
        "quoteQty": num(t.quote_qty),
        "commission": num(t.commission),
        "commissionAsset": t.commission_asset,
        "time": t.time_ms,
        "isBuyer": t.side == "BUY",
        "isMaker": t.is_maker,
        "isBestMatch": True,
    }


def account(book: Book, now_ms: int) -> dict[str, Any]:
    bps = int(book.config.maker_fee * 10000)
    assets = sorted(set(book.free) | set(book.locked))
    return {
        "makerCommission": bps,
        "takerCommission": int(book.config.taker_fee * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": num(book.config.maker_fee),
            "taker": num(book.config.taker_fee),
            "buyer": num(Decimal(0)),
            "seller": num(Decimal(0)),
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": [{"asset": a, "free": num(book.balance(a)[0]), "locked": num(book.balance(a)[1])} for a in assets],
        "permissions": ["SPOT"],
        "uid": 1,
    }


_TIME_FIELDS = {
    "time",
    "updateTime",
    "transactTime",
    "transactionTime",
    "workingTime",
    "serverTime",
    "closeTime",
    "openTime",
}


def in_microseconds(body: Any) -> Any:
    """The same answer with every time field in microseconds (``X-MBX-TIME-UNIT: MICROSECOND``)."""
    if isinstance(body, list):
        return [in_microseconds(item) for item in body]
    if not isinstance(body, dict):
        return body
    return {
        k: v * 1000 if k in _TIME_FIELDS and isinstance(v, int) and v > 0 else in_microseconds(v)
        for k, v in body.items()
    }
