"""The venue through the Exchange port: GET /account, GET /price/{symbol}, GET|DELETE /order/{symbol}/{id}.

Whatever the venue (paper in simulation, Binance testnet or mainnet), these routes only read or cancel;
orders are placed by the pipeline, never here. Exchange failures are told apart: an unknown symbol or
order is the caller's 404, a rate limit is 503 with Retry-After, anything else from the venue is 502.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from tradeengine.api.auth import forbid_strategy_tokens, require
from tradeengine.api.context import get_deps
from tradeengine.api.encode import balance_json, jsonable, order_json
from tradeengine.api.errors import ApiError
from tradeengine.api.schemas import ERROR_RESPONSES
from tradeengine.api.tokens import Principal, Scope
from tradeengine.exchange import codes
from tradeengine.exchange.base import Accepted, ExchangeError, ExchangeOrder, Rejected, Unknown
from tradeengine.exchange.errors import NOT_FOUND_CODES
from tradeengine.pipeline.deps import Deps

router = APIRouter(tags=["exchange"])
T = TypeVar("T")

Symbol = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,20}$", description="e.g. BTCUSDT")]
OrderRef = Annotated[
    str,
    Path(pattern=r"^[A-Za-z0-9_-]{1,36}$", description="the exchange orderId (digits) or the clientOrderId"),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown symbol or order"},
    502: {"description": "the exchange failed"},
    503: {"description": "rate limited by the exchange; retry after Retry-After"},
    **ERROR_RESPONSES,
}


def call_exchange(action: Callable[[], T], what: str, symbol: str | None = None) -> T:
    try:
        return action()
    except ExchangeError as exc:
        raise _exchange_error(exc.code, exc.message, exc.retryable, what, symbol=symbol) from exc


def _exchange_error(
    code: int, message: str, retryable: bool, what: str, retry_after: float | None = None, symbol: str | None = None
) -> ApiError:
    detail = [{"field": None, "rule": f"exchange:{code}", "message": message}]
    if code == codes.INVALID_SYMBOL:  # name the symbol, not the order that was looked up on it
        detail[0]["field"] = "symbol"
        return ApiError(404, "unknown_symbol", f"the exchange does not know the symbol {symbol or what}", detail)
    if code in NOT_FOUND_CODES:
        return ApiError(404, "order_not_found", f"the exchange has no {what}", detail)
    if retryable:
        seconds = str(max(1, round(retry_after or 1)))
        message = f"the exchange asks us to wait ({what})"
        return ApiError(503, "exchange_busy", message, detail, {"Retry-After": seconds})
    return ApiError(502, "exchange_error", f"the exchange failed on {what}", detail)


def _order_ref(order_ref: str) -> dict[str, Any]:
    return {"order_id": int(order_ref)} if order_ref.isdigit() else {"client_order_id": order_ref}


@router.get("/account", responses=_RESPONSES, summary="Balances on the venue (non-zero only)")
def get_account(
    who: Annotated[Principal, Depends(require(Scope.ACCOUNT_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    forbid_strategy_tokens(who, "GET /account")
    balances = call_exchange(deps.exchange.balances, "the account")
    held = [balance_json(b) for _, b in sorted(balances.items()) if b.free or b.locked]
    return JSONResponse({"mode": deps.settings.mode, "venue": deps.exchange.name, "balances": held})


@router.get("/price/{symbol}", responses=_RESPONSES, summary="Last traded price")
def get_price(
    symbol: Symbol,
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    name = symbol.upper()
    price = call_exchange(lambda: deps.exchange.ticker_price(name), name, name)
    return JSONResponse({"symbol": name, "price": jsonable(price), "venue": deps.exchange.name})


@router.get("/order/{symbol}/{order_ref}", responses=_RESPONSES, summary="One order as the exchange reports it")
def get_order(
    symbol: Symbol,
    order_ref: OrderRef,
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    forbid_strategy_tokens(who, "GET /order")  # an exchange order is not tied to a strategy here
    name = symbol.upper()
    order = call_exchange(lambda: deps.exchange.get_order(name, **_order_ref(order_ref)), f"order {order_ref}", name)
    if order is None:
        raise ApiError(404, "order_not_found", f"the exchange has no order {order_ref} on {name}")
    return JSONResponse(order_json(order))


@router.delete("/order/{symbol}/{order_ref}", responses=_RESPONSES, summary="Cancel an open order")
def cancel_order(
    symbol: Symbol,
    order_ref: OrderRef,
    who: Annotated[Principal, Depends(require(Scope.ORDERS_WRITE))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    forbid_strategy_tokens(who, "DELETE /order")
    name = symbol.upper()
    what = f"order {order_ref} on {name}"
    outcome = call_exchange(lambda: deps.exchange.cancel_order(name, **_order_ref(order_ref)), what, name)
    if isinstance(outcome, Accepted):
        canceled = outcome.order
        body = order_json(canceled) if isinstance(canceled, ExchangeOrder) else jsonable(canceled)
        return JSONResponse(body)
    if isinstance(outcome, Rejected):
        raise _exchange_error(outcome.code, outcome.message, outcome.retryable, what, outcome.retry_after_s, name)
    reason = outcome.reason if isinstance(outcome, Unknown) else type(outcome).__name__
    raise ApiError(
        502,
        "exchange_unknown",
        f"the exchange did not say whether {what} was canceled; GET it to see",
        [{"field": None, "rule": "exchange:unknown", "message": reason}],
    )
