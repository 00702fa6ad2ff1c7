"""Binance spot (testnet, mainnet, or the local Binance-compatible exchange) through python-binance.

- No network at import or construction (``Client(..., ping=False)``); the first call is the first request.
- The server-time offset is kept on the client and refreshed when Binance answers -1021; the refused
  request is then sent once more (a -1021 request never reached the matching engine, so this is safe).
- Client order ids are passed through unchanged (newClientOrderId, listClientOrderId, leg ids).
- Placements return typed outcomes (see ``tradeengine.exchange.errors``): a timeout, a dropped
  connection or a 5xx is ``Unknown`` and is never resent here.
- Every response's X-MBX-USED-WEIGHT-1M is recorded (``used_weight_1m``).
- Credentials are ``SecretStr`` until the client needs them; they never reach a log, a repr or an error.
- JSON numbers from the exchange are parsed as ``Decimal``; parameters go out as plain strings.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException

from contracts.money import plain
from contracts.orders import OrderRequest
from tradeengine.exchange import errors
from tradeengine.exchange.base import (
    Accepted,
    Balance,
    ExchangeError,
    ExchangeOrder,
    Fill,
    OcoRequest,
    OrderListResult,
    OrderStatus,
    OtocoRequest,
    PlaceOutcome,
    Rejected,
)
from tradeengine.stores.secrets import BinanceCredentials, credentials_from_settings

if TYPE_CHECKING:
    from tradeengine.config import Settings

_D0 = Decimal(0)
__all__ = ["BinanceCredentials", "BinanceExchange", "credentials_from_settings"]


class _DecimalClient(Client):  # type: ignore[misc]
    """python-binance's sync client, reading JSON numbers as Decimal (no float ever holds a price)."""

    @staticmethod
    def _handle_response(response: requests.Response) -> Any:
        if not 200 <= response.status_code < 300:
            raise BinanceAPIException(response, response.status_code, response.text)
        if response.text == "":
            return {}
        try:
            return json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise BinanceRequestException(f"invalid JSON in a {response.status_code} answer") from None


class BinanceExchange:
    """The Exchange port on Binance spot."""

    def __init__(
        self,
        credentials: BinanceCredentials | None,
        *,
        testnet: bool = True,
        base_url: str | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = "binance-local" if base_url else ("binance-testnet" if testnet else "binance-mainnet")
        self._has_credentials = credentials is not None
        self._client = _DecimalClient(
            credentials.api_key.get_secret_value() if credentials else None,
            credentials.api_secret.get_secret_value() if credentials else None,
            testnet=testnet and not base_url,
            ping=False,
        )
        if base_url:
            self._client.API_URL = base_url.rstrip("/") + "/api"
        self._client.REQUEST_RECVWINDOW = recv_window_ms
        self._client.REQUEST_TIMEOUT = timeout_s
        self._lock = threading.RLock()
        self.used_weight_1m: int | None = None
        self.time_offset_ms = 0
        self._backoff_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, credentials: BinanceCredentials | None = None) -> BinanceExchange:
        return cls(
            credentials or credentials_from_settings(settings),
            testnet=settings.binance_testnet,
            base_url=settings.binance_base_url,
            recv_window_ms=settings.binance_recv_window_ms,
            timeout_s=settings.binance_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"BinanceExchange(name={self.name!r}, url={self._client.API_URL!r})"

    # -- transport --------------------------------------------------------------------------------

    def sync_time(self) -> int:
        """Measure the server-time offset (midpoint of the round trip) and sign with it from now on."""
        with self._lock:
            started = time.time()
            server_ms = int(self._invoke(self._client.get_server_time, {})["serverTime"])
            local_ms = int((started + time.time()) / 2 * 1000)
            self.time_offset_ms = server_ms - local_ms
            self._client.timestamp_offset = self.time_offset_ms
            return self.time_offset_ms

    def _invoke(self, call: Callable[..., Any], params: Mapping[str, Any]) -> Any:
        self._client.response = None
        try:
            return call(**dict(params))  # python-binance writes timestamp/signature into its argument
        except BinanceAPIException as exc:
            if exc.status_code in errors.RATE_LIMIT_STATUSES:  # Binance bans IPs that keep sending after a 429
                headers = exc.response.headers if exc.response is not None else None
                wait = errors.retry_after_seconds(headers)
                self._backoff_until = time.monotonic() + (errors.DEFAULT_RETRY_AFTER_S if wait is None else wait)
            raise
        finally:
            response = self._client.response
            if response is not None:
                weight = errors.used_weight(response.headers)
                if weight is not None:
                    self.used_weight_1m = weight

    def _send(self, call: Callable[..., Any], params: Mapping[str, Any], signed: bool = True) -> Any:
        if signed and not self._has_credentials:
            raise ExchangeError(-2014, "no API credentials configured for this venue", 401)
        wait = self._backoff_until - time.monotonic()
        if wait > 0:  # still inside a Retry-After window: refuse here instead of sending
            raise ExchangeError(
                errors.TOO_MANY_REQUESTS, "backing off after a rate limit", 429, True, {"retry_after_s": wait}
            )
        with self._lock:
            try:
                return self._invoke(call, params)
            except BinanceAPIException as exc:
                if exc.code != errors.INVALID_TIMESTAMP or not signed:
                    raise
            self.sync_time()
            return self._invoke(call, params)

    def _post(self, path: str) -> Callable[..., Any]:
        return lambda **data: self._client._request_api("post", path, signed=True, data=data)

    def _place(
        self,
        call: Callable[..., Any],
        params: Mapping[str, Any],
        client_order_id: str,
        parse: Callable[[Any], ExchangeOrder | OrderListResult],
    ) -> PlaceOutcome:
        try:
            raw = self._send(call, params)
        except BinanceAPIException as exc:
            headers = exc.response.headers if exc.response is not None else None
            return errors.classify_response(exc.status_code, exc.code, exc.message or "", headers, client_order_id)
        except BinanceRequestException as exc:
            return errors.classify_transport("unreadable answer", str(exc.message), client_order_id)
        except requests.Timeout as exc:
            return errors.classify_transport("timeout", type(exc).__name__, client_order_id)
        except requests.RequestException as exc:
            return errors.classify_transport("connection error", type(exc).__name__, client_order_id)
        except ExchangeError as exc:
            return Rejected(exc.code, exc.message, exc.http_status, exc.retryable, exc.extra.get("retry_after_s"))
        return Accepted(parse(raw), used_weight=self.used_weight_1m)

    def _read(self, call: Callable[..., Any], params: Mapping[str, Any] | None = None, signed: bool = True) -> Any:
        try:
            return self._send(call, params or {}, signed)
        except BinanceAPIException as exc:
            headers = exc.response.headers if exc.response is not None else None
            outcome = errors.classify_response(exc.status_code, exc.code, exc.message or "", headers)
            retryable = outcome.retryable if isinstance(outcome, Rejected) else True
            extra = {"retry_after_s": outcome.retry_after_s} if isinstance(outcome, Rejected) else {}
            raise ExchangeError(
                exc.code or 0, errors.scrub(exc.message or ""), exc.status_code, retryable, extra
            ) from None
        except BinanceRequestException as exc:
            raise ExchangeError(0, errors.scrub(str(exc.message)), 0, retryable=True) from None
        except requests.RequestException as exc:
            raise ExchangeError(0, f"transport error: {type(exc).__name__}", 0, retryable=True) from None

    # -- market data --------------------------------------------------------------------------------

    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        params: dict[str, str] = {}
        if symbols and len(symbols) == 1:
            params["symbol"] = symbols[0]
        elif symbols:
            params["symbols"] = json.dumps(list(symbols), separators=(",", ":"))
        info: dict[str, Any] = self._read(lambda **p: self._client._get("exchangeInfo", data=p), params, False)
        return info

    def ticker_price(self, symbol: str) -> Decimal:
        return _dec(self._read(self._client.get_symbol_ticker, {"symbol": symbol}, False)["price"])

    def average_price(self, symbol: str) -> Decimal:
        return _dec(self._read(self._client.get_avg_price, {"symbol": symbol}, False)["price"])

    # -- account ------------------------------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        account = self._read(self._client.get_account)
        out: dict[str, Balance] = {}
        for row in account.get("balances", ()):
            free, locked = _dec(row.get("free")), _dec(row.get("locked"))
            if free or locked:
                out[str(row["asset"])] = Balance(str(row["asset"]), free, locked)
        return out

    # -- orders -------------------------------------------------------------------------------------

    def place_order(self, order: OrderRequest) -> PlaceOutcome:
        params = {**order.to_binance(), "newOrderRespType": "FULL"}
        return self._place(self._client.create_order, params, order.new_client_order_id, _order)

    def place_oco(self, request: OcoRequest) -> PlaceOutcome:
        params = {
            "symbol": request.symbol,
            "side": request.side,
            "quantity": plain(request.quantity),
            "listClientOrderId": request.list_client_order_id,
            **_oco_legs(request),
            "newOrderRespType": "FULL",
        }
        return self._place(self._post("orderList/oco"), params, request.list_client_order_id, _order_list)

    def place_otoco(self, request: OtocoRequest) -> PlaceOutcome:
        working, pending = request.working, request.pending
        if working.price is None or working.quantity is None:
            return Rejected(-1102, "an OTOCO working order needs a price and a quantity")
        params: dict[str, str] = {
            "symbol": working.symbol,
            "listClientOrderId": pending.list_client_order_id,
            "workingType": working.type.value,
            "workingSide": working.side.value,
            "workingClientOrderId": working.new_client_order_id,
            "workingPrice": plain(working.price),
            "workingQuantity": plain(working.quantity),
            "pendingSide": pending.side,
            "pendingQuantity": plain(pending.quantity),
            "newOrderRespType": "FULL",
        }
        if working.time_in_force:
            params["workingTimeInForce"] = working.time_in_force
        for key, value in _oco_legs(pending).items():
            params["pending" + key[0].upper() + key[1:]] = value
        return self._place(self._post("orderList/otoco"), params, pending.list_client_order_id, _order_list)

    def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder | None:
        try:
            raw = self._read(self._client.get_order, _order_ref(symbol, order_id, client_order_id))
        except ExchangeError as exc:
            if errors.is_not_found(exc.code):
                return None
            raise
        return _order(raw)

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> PlaceOutcome:
        params = _order_ref(symbol, order_id, client_order_id)
        return self._place(self._client.cancel_order, params, client_order_id or "", _order)

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        raw = self._read(self._client.get_open_orders, {"symbol": symbol} if symbol else {})
        return [_order(o) for o in raw]

    def recent_fills(self, symbol: str, limit: int = 50) -> list[Fill]:
        return [_trade(t) for t in self._read(self._client.get_my_trades, {"symbol": symbol, "limit": limit})]

    def order_fills(self, symbol: str, order_id: int) -> list[Fill]:
        # weight 5 with orderId (20 without): the cheapest way to learn an order's fills after a lookup
        return [_trade(t) for t in self._read(self._client.get_my_trades, {"symbol": symbol, "orderId": order_id})]


# -- wire mapping -----------------------------------------------------------------------------------


def _trade(t: Mapping[str, Any]) -> Fill:
    return Fill(
        price=_dec(t["price"]),
        qty=_dec(t["qty"]),
        commission=_dec(t.get("commission")),
        commission_asset=str(t.get("commissionAsset", "")),
        trade_id=int(t["id"]),
        is_maker=bool(t.get("isMaker", False)),
        time_ms=int(t.get("time") or 0),
    )


def _dec(value: Any) -> Decimal:
    return _D0 if value is None or value == "" else Decimal(str(value))


def _opt_dec(value: Any) -> Decimal | None:
    dec = _dec(value) if value is not None else None
    return dec if dec else None


def _order_ref(symbol: str, order_id: int | None, client_order_id: str | None) -> dict[str, Any]:
    if order_id is None and not client_order_id:
        raise ValueError("an order is named by order_id or client_order_id")
    params: dict[str, Any] = {"symbol": symbol}
    if order_id is not None:
        params["orderId"] = order_id
    else:
        params["origClientOrderId"] = client_order_id
    return params


def _oco_legs(request: OcoRequest) -> dict[str, str]:
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


def _status(raw: Any) -> OrderStatus:
    try:
        return OrderStatus(str(raw))
    except ValueError:
        # a status newer than this code: report the order as open so it is looked at again, not forgotten
        return OrderStatus.NEW


def _order(raw: Mapping[str, Any]) -> ExchangeOrder:
    fills = tuple(
        Fill(
            price=_dec(f["price"]),
            qty=_dec(f["qty"]),
            commission=_dec(f.get("commission")),
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
        status=_status(raw.get("status", "NEW")),
        orig_qty=_dec(raw.get("origQty")),
        executed_qty=_dec(raw.get("executedQty")),
        cummulative_quote_qty=_dec(raw.get("cummulativeQuoteQty")),
        price=_opt_dec(raw.get("price")),
        stop_price=_opt_dec(raw.get("stopPrice")),
        time_in_force=raw.get("timeInForce"),
        order_list_id=int(raw.get("orderListId", -1)),
        update_time_ms=int(raw.get("updateTime") or raw.get("transactTime") or raw.get("workingTime") or 0),
        fills=fills,
        trailing_delta=int(raw["trailingDelta"]) if raw.get("trailingDelta") is not None else None,
    )


def _order_list(raw: Mapping[str, Any]) -> OrderListResult:
    reports = raw.get("orderReports") or [
        {"symbol": o["symbol"], "orderId": o["orderId"], "clientOrderId": o["clientOrderId"]}
        for o in raw.get("orders", ())
    ]
    return OrderListResult(
        order_list_id=int(raw["orderListId"]),
        list_client_order_id=str(raw.get("listClientOrderId", "")),
        list_status=str(raw.get("listStatusType", "")),  # EXEC_STARTED / ALL_DONE, as the port says
        orders=tuple(_order(o) for o in reports),
    )
