"""Binance spot (testnet, mainnet, or the local Binance-compatible exchange) through python-binance.

- No network at import or construction (``Client(..., ping=False)``); the first call is the first request.
- The server-time offset is kept on the client and refreshed when Binance answers -1021; the refused
  request is then sent once more (a -1021 request never reached the matching engine, so this is safe).
- Client order ids are passed through unchanged (newClientOrderId, listClientOrderId, leg ids).
- Placements return typed outcomes (see ``tradeengine.exchange.errors``): a timeout, a dropped
  connection or a 5xx is ``Unknown`` and is never resent here.
- With a venue budget attached (``attach``; ``stores.venue_budget.wire`` does it), every request is
  counted against the budget every instance shares before it is sent, with Binance's weight for it; a
  request the budget cannot take is not sent (a read raises a retryable ExchangeError, a placement is a
  retryable ``Rejected``, both with ``retry_after_s``). Every answer's ``X-MBX-USED-WEIGHT-*`` and
  ``X-MBX-ORDER-COUNT-*`` correct the budget; a 429 or 418 stops every instance until Retry-After.
- With a venue cache attached, prices and balances come from shared snapshots (``tradeengine.venue_cache``);
  ``prefetch_open_orders`` answers the monitor's lookups of still-open orders from one ``openOrders`` call.
- Credentials are ``SecretStr`` until the client needs them; they never reach a log, a repr or an error.
- JSON numbers from the exchange are parsed as ``Decimal``; parameters go out as plain strings.
"""

from __future__ import annotations

import json
import re
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
from tradeengine.exchange import codes, errors
from tradeengine.exchange.base import (
    Accepted,
    Balance,
    ExchangeError,
    ExchangeOrder,
    Fill,
    OcoRequest,
    OrderListResult,
    OtocoRequest,
    PlaceOutcome,
    Rejected,
    Unknown,
)
from tradeengine.exchange.binance_wire import dec, oco_legs, order, order_list, order_ref, trade
from tradeengine.stores.secrets import BinanceCredentials, credentials_from_settings
from tradeengine.venue_budget import WEIGHT, BudgetSpent, Cost, VenueBudget

if TYPE_CHECKING:
    from tradeengine.config import Settings
    from tradeengine.venue_cache import VenueCache

__all__ = ["BinanceCredentials", "BinanceExchange", "credentials_from_settings"]
OPEN_ORDERS_MEMO_S = 50.0  # a monitor run's length: its lookups of orders still open come from one call
_EXIT_ID = re.compile(r"te-[0-9a-f]{24}-.+")  # an exit leg's, an exit list's or a flatten's client order id


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
        self.budget: VenueBudget | None = None
        self.cache: VenueCache | None = None
        self._prepaid: set[str] = set()  # client order ids whose order the budget already counted (``admit``)
        self._open: tuple[dict[str, ExchangeOrder], float] | None = None
        self.rate_limited = {429: 0, 418: 0}  # answers of each status this process received
        self.order_count_peak: dict[str, int] = {}  # the highest X-MBX-ORDER-COUNT-* seen, per window

    @classmethod
    def from_settings(cls, settings: Settings, credentials: BinanceCredentials | None = None) -> BinanceExchange:
        return cls(
            credentials or credentials_from_settings(settings),
            testnet=settings.binance_testnet,
            base_url=settings.binance_base_url,
            recv_window_ms=settings.binance_recv_window_ms,
            timeout_s=settings.binance_timeout_seconds,
        )

    def attach(self, budget: VenueBudget | None, cache: VenueCache | None = None) -> None:
        self.budget, self.cache = budget, cache

    def __repr__(self) -> str:
        return f"BinanceExchange(name={self.name!r}, url={self._client.API_URL!r})"

    # -- transport --------------------------------------------------------------------------------

    def sync_time(self) -> int:
        """Measure the server-time offset (midpoint of the round trip) and sign with it from now on."""
        with self._lock:
            started = time.time()
            self._spend(Cost(WEIGHT["time"]))
            server_ms = int(self._invoke(self._client.get_server_time, {})["serverTime"])
            local_ms = int((started + time.time()) / 2 * 1000)
            self.time_offset_ms = server_ms - local_ms
            self._client.timestamp_offset = self.time_offset_ms
            if self.budget is not None:
                self.budget.offset_s = self.time_offset_ms / 1000
            return self.time_offset_ms

    def _spend(self, cost: Cost) -> None:
        if self.budget is None:
            return
        try:
            self.budget.spend(cost)
        except BudgetSpent as exc:
            extra = {"retry_after_s": exc.delay_s, "budget": True}
            raise ExchangeError(exc.code, str(exc), 429, True, extra) from None

    def _invoke(self, call: Callable[..., Any], params: Mapping[str, Any]) -> Any:
        self._client.response = None
        try:
            return call(**dict(params))  # python-binance writes timestamp/signature into its argument
        except BinanceAPIException as exc:
            if exc.status_code in errors.RATE_LIMIT_STATUSES:  # Binance bans IPs that keep sending after a 429
                headers = exc.response.headers if exc.response is not None else None
                wait = errors.retry_after_seconds(headers)
                wait = errors.DEFAULT_RETRY_AFTER_S if wait is None else wait
                self._backoff_until = time.monotonic() + wait
                self.rate_limited[exc.status_code] = self.rate_limited.get(exc.status_code, 0) + 1
                if self.budget is not None:
                    self.budget.rate_limited(wait)
            raise
        finally:
            response = self._client.response
            if response is not None:
                self._observe(response.headers)

    def _observe(self, headers: Mapping[str, str]) -> None:
        weight = errors.used_weight(headers)
        if weight is not None:
            self.used_weight_1m = weight
        for key, value in headers.items():
            if key.upper().startswith("X-MBX-ORDER-COUNT-") and value.isdigit():
                window = key.upper().removeprefix("X-MBX-ORDER-COUNT-")
                self.order_count_peak[window] = max(self.order_count_peak.get(window, 0), int(value))
        if self.budget is not None:
            self.budget.observe(headers)

    def _send(
        self, call: Callable[..., Any], params: Mapping[str, Any], signed: bool = True, cost: Cost | None = None
    ) -> Any:
        if signed and not self._has_credentials:
            raise ExchangeError(codes.BAD_API_KEY_FMT, "no API credentials configured for this venue", 401)
        wait = self._backoff_until - time.monotonic()
        if wait > 0:  # still inside a Retry-After window: refuse here instead of sending
            raise ExchangeError(
                codes.TOO_MANY_REQUESTS, "backing off after a rate limit", 429, True, {"retry_after_s": wait}
            )
        if cost is not None:
            self._spend(cost)
        with self._lock:
            try:
                return self._invoke(call, params)
            except BinanceAPIException as exc:
                if exc.code != codes.INVALID_TIMESTAMP or not signed:
                    raise
            self.sync_time()
            self._spend(Cost(cost.weight if cost is not None else 1))  # the same request, once more
            return self._invoke(call, params)

    def _post(self, path: str) -> Callable[..., Any]:
        return lambda **data: self._client._request_api("post", path, signed=True, data=data)

    def _place(
        self,
        call: Callable[..., Any],
        params: Mapping[str, Any],
        client_order_id: str,
        parse: Callable[[Any], ExchangeOrder | OrderListResult],
        orders: int,
        spends: tuple[str, str, Decimal | None, Decimal | None, Decimal | None] | None = None,
    ) -> PlaceOutcome:
        try:
            if orders and client_order_id in self._prepaid:
                self._prepaid.discard(client_order_id)
            else:  # a cancel is never an entry: it may use the whole window, as exits do
                entry = orders > 0 and not _EXIT_ID.fullmatch(client_order_id)
                self._spend(Cost(WEIGHT["order"], orders, entry=entry))
            if self.cache is not None:  # before the send: the balance served never counts on money in flight
                self.cache.moved(*(spends or ("", "", None, None, None)))
            raw = self._send(call, params)
        except BinanceAPIException as exc:
            headers = exc.response.headers if exc.response is not None else None
            outcome = errors.classify_response(exc.status_code, exc.code, exc.message or "", headers, client_order_id)
            return self._unknown(outcome)
        except BinanceRequestException as exc:
            return self._unknown(errors.classify_transport("unreadable answer", str(exc.message), client_order_id))
        except requests.Timeout as exc:
            return self._unknown(errors.classify_transport("timeout", type(exc).__name__, client_order_id))
        except requests.RequestException as exc:
            return self._unknown(errors.classify_transport("connection error", type(exc).__name__, client_order_id))
        except ExchangeError as exc:
            return Rejected(exc.code, exc.message, exc.http_status, exc.retryable, exc.extra.get("retry_after_s"))
        return Accepted(parse(raw), used_weight=self.used_weight_1m)

    def _unknown(self, outcome: Rejected | Unknown) -> Rejected | Unknown:
        if isinstance(outcome, Unknown) and self.cache is not None:
            self.cache.unknown()  # what the order did to the balances is not known: read the account next time
        return outcome

    def admit(self, client_order_id: str, orders: int = 1) -> float | None:
        """Count an entry against the order budget *before* execution records it SUBMITTED: None when
        counted (its placement then spends nothing more), else the seconds to wait before trying again."""
        if self.budget is None:
            return None
        try:
            self._spend(Cost(WEIGHT["order"], orders, entry=True))
        except ExchangeError as exc:
            return float(exc.extra.get("retry_after_s") or errors.DEFAULT_RETRY_AFTER_S)
        self._prepaid.add(client_order_id)
        return None

    def _read(
        self,
        call: Callable[..., Any],
        params: Mapping[str, Any] | None = None,
        signed: bool = True,
        weight: int = 1,
    ) -> Any:
        try:
            return self._send(call, params or {}, signed, Cost(weight))
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
        call = lambda **p: self._client._get("exchangeInfo", data=p)  # noqa: E731
        info: dict[str, Any] = self._read(call, params, False, WEIGHT["exchange_info"])
        return info

    def ticker_price(self, symbol: str) -> Decimal:
        if self.cache is not None:
            return self.cache.price(symbol)
        return dec(self._read(self._client.get_symbol_ticker, {"symbol": symbol}, False, WEIGHT["ticker"])["price"])

    def average_price(self, symbol: str) -> Decimal:
        if self.cache is not None:
            return self.cache.average_price(symbol)
        return self.fetch_average(symbol)

    def fetch_tickers(self, symbols: Sequence[str] = ()) -> dict[str, Decimal]:
        """Every symbol's last price (or those named) in one request of weight 4."""
        params = {"symbols": json.dumps(list(symbols), separators=(",", ":"))} if symbols else {}
        rows = self._read(self._client.get_symbol_ticker, params, False, WEIGHT["tickers"])
        return {str(row["symbol"]): dec(row["price"]) for row in rows}

    def fetch_average(self, symbol: str) -> Decimal:
        return dec(self._read(self._client.get_avg_price, {"symbol": symbol}, False, WEIGHT["avg_price"])["price"])

    # -- account ------------------------------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        """Shared and conservative with a cache attached (``tradeengine.venue_cache``), else the account's."""
        return self.cache.balances() if self.cache is not None else self.fetch_balances()

    def exact_balances(self) -> dict[str, Balance]:
        """The account's balances with no order sent since they were read: what a size that depends on them needs."""
        return self.cache.balances(exact=True) if self.cache is not None else self.fetch_balances()

    def fetch_balances(self) -> dict[str, Balance]:
        account = self._read(self._client.get_account, weight=WEIGHT["account"])
        out: dict[str, Balance] = {}
        for row in account.get("balances", ()):
            free, locked = dec(row.get("free")), dec(row.get("locked"))
            if free or locked:
                out[str(row["asset"])] = Balance(str(row["asset"]), free, locked)
        return out

    # -- orders -------------------------------------------------------------------------------------

    def place_order(self, order_request: OrderRequest) -> PlaceOutcome:
        o = order_request
        params = {**o.to_binance(), "newOrderRespType": "FULL"}
        spends = (o.symbol, o.side.value, o.quantity, o.quote_order_qty, o.price)
        return self._place(self._client.create_order, params, o.new_client_order_id, order, 1, spends)

    def place_oco(self, request: OcoRequest) -> PlaceOutcome:
        params = {
            "symbol": request.symbol,
            "side": request.side,
            "quantity": plain(request.quantity),
            "listClientOrderId": request.list_client_order_id,
            **oco_legs(request),
            "newOrderRespType": "FULL",
        }
        spends = (request.symbol, request.side, request.quantity, None, request.take_profit_price)
        return self._place(self._post("orderList/oco"), params, request.list_client_order_id, order_list, 2, spends)

    def place_otoco(self, request: OtocoRequest) -> PlaceOutcome:
        working, pending = request.working, request.pending
        if working.price is None or working.quantity is None:
            return Rejected(codes.MALFORMED_PARAM, "an OTOCO working order needs a price and a quantity")
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
        for key, value in oco_legs(pending).items():
            params["pending" + key[0].upper() + key[1:]] = value
        spends = (working.symbol, working.side.value, working.quantity, None, working.price)
        return self._place(self._post("orderList/otoco"), params, working.new_client_order_id, order_list, 3, spends)

    def prefetch_open_orders(self) -> int:
        """One ``openOrders`` for every symbol (weight 80): the lookups of this process's next
        ``OPEN_ORDERS_MEMO_S`` seconds that find their order still open answer from it. An order that is not
        in it (filled, canceled, placed since) is looked up on the venue."""
        found = self.open_orders()
        self._open = ({o.client_order_id: o for o in found}, time.monotonic())
        return len(found)

    def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder | None:
        if client_order_id and self._open is not None and time.monotonic() - self._open[1] <= OPEN_ORDERS_MEMO_S:
            known = self._open[0].get(client_order_id)
            if known is not None and known.symbol == symbol:
                return known
        try:
            raw = self._read(
                self._client.get_order, order_ref(symbol, order_id, client_order_id), weight=WEIGHT["get_order"]
            )
        except ExchangeError as exc:
            if errors.is_not_found(exc.code):
                return None
            raise
        return order(raw)

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> PlaceOutcome:
        if self._open is not None and client_order_id:
            self._open[0].pop(client_order_id, None)
        params = order_ref(symbol, order_id, client_order_id)
        spends = (symbol, "", None, None, None)  # frees what the order held: the snapshot is no longer exact
        return self._place(self._client.cancel_order, params, client_order_id or "", order, 0, spends)

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        weight = WEIGHT["open_orders"] if symbol else WEIGHT["open_orders_all"]
        raw = self._read(self._client.get_open_orders, {"symbol": symbol} if symbol else {}, weight=weight)
        return [order(o) for o in raw]

    def recent_fills(self, symbol: str, limit: int = 50) -> list[Fill]:
        params = {"symbol": symbol, "limit": limit}
        return [trade(t) for t in self._read(self._client.get_my_trades, params, weight=WEIGHT["my_trades"])]

    def order_fills(self, symbol: str, order_id: int) -> list[Fill]:
        # weight 5 with orderId (20 without): the cheapest way to learn an order's fills after a lookup
        params = {"symbol": symbol, "orderId": order_id}
        return [trade(t) for t in self._read(self._client.get_my_trades, params, weight=WEIGHT["my_trades_order"])]
