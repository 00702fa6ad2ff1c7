"""python-binance's real Client, through the Binance adapter, over HTTP against the local exchange."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from tradeengine.engine import decide
from tradeengine.exchange.base import (
    Accepted,
    ExchangeError,
    ExchangeOrder,
    OcoRequest,
    OrderListResult,
    OrderStatus,
    OtocoRequest,
    Rejected,
    Unknown,
)
from tradeengine.exchange.binance import BinanceCredentials, BinanceExchange
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.sizing import Market

from contracts.orders import BinanceOrderType, OrderPlan, OrderRequest, Side
from contracts.signal import Signal

from .conftest import API_KEY, API_SECRET

pytestmark = pytest.mark.integration

SYMBOL = "BTCUSDT"


def cid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def limit_buy(client_order_id: str, price: str = "40000", qty: str = "0.0002") -> OrderRequest:
    """A buy far below the market: it rests on the book (open) until canceled."""
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        type=BinanceOrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal(price),
        time_in_force="GTC",
        new_client_order_id=client_order_id,
    )


def market_buy(client_order_id: str, qty: str = "0.0002") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        type=BinanceOrderType.MARKET,
        quantity=Decimal(qty),
        new_client_order_id=client_order_id,
    )


def accepted_order(outcome: Any) -> ExchangeOrder:
    assert isinstance(outcome, Accepted), outcome
    assert isinstance(outcome.order, ExchangeOrder)
    return outcome.order


def test_a_sized_order_is_accepted_and_found_by_client_order_id(exchange: BinanceExchange) -> None:
    rules = parse_exchange_info(exchange.exchange_info([SYMBOL]))
    market = Market(price=exchange.ticker_price(SYMBOL), average_price=exchange.average_price(SYMBOL))
    signal = Signal.model_validate(
        {
            "strategy_id": "it",
            "symbol": SYMBOL,
            "action": "buy",
            "price": str(market.price),
            "quantity": "0",
            "confidence": "0.9",
            "timestamp": datetime.now(UTC).isoformat(),
            "meta": {"order_type": "market"},
            "signal_id": cid("sized"),
        }
    )
    plan = decide(signal, rules, market, datetime.now(UTC))
    assert isinstance(plan, OrderPlan), plan
    usdt_before = exchange.balances()["USDT"].free

    order = accepted_order(exchange.place_order(plan.order))

    assert order.client_order_id == plan.order.new_client_order_id
    assert order.status is OrderStatus.FILLED and order.executed_qty == plan.order.quantity
    assert order.fills and sum(f.qty for f in order.fills) == order.executed_qty
    assert exchange.used_weight_1m is not None and exchange.used_weight_1m > 0
    found = exchange.get_order(SYMBOL, client_order_id=plan.order.new_client_order_id)
    assert found is not None and found.order_id == order.order_id and found.status is OrderStatus.FILLED
    assert exchange.balances()["USDT"].free == usdt_before - order.cummulative_quote_qty
    assert any(f.trade_id == order.fills[0].trade_id for f in exchange.recent_fills(SYMBOL, limit=50))


def test_wrong_secret_is_a_definitive_minus_1022(local_exchange_url: str) -> None:
    wrong = BinanceExchange(
        BinanceCredentials(SecretStr(API_KEY), SecretStr("not-the-secret-abcdef")), base_url=local_exchange_url
    )
    outcome = wrong.place_order(market_buy(cid("badsig")))

    assert isinstance(outcome, Rejected) and outcome.code == -1022 and not outcome.retryable
    assert "not-the-secret" not in repr(wrong) and "not-the-secret" not in outcome.message
    with pytest.raises(ExchangeError) as info:
        wrong.balances()
    assert info.value.code == -1022 and API_SECRET not in str(info.value)


def test_off_step_quantity_is_minus_1013_and_nothing_is_booked(exchange: BinanceExchange) -> None:
    client_order_id = cid("offstep")
    outcome = exchange.place_order(market_buy(client_order_id, qty="0.000015"))  # stepSize 0.00001

    assert isinstance(outcome, Rejected) and outcome.code == -1013 and not outcome.retryable
    assert "LOT_SIZE" in outcome.message
    assert exchange.get_order(SYMBOL, client_order_id=client_order_id) is None


def test_same_client_order_id_while_open_is_minus_2010(exchange: BinanceExchange) -> None:
    client_order_id = cid("dup")
    first = accepted_order(exchange.place_order(limit_buy(client_order_id)))
    assert first.status is OrderStatus.NEW

    again = exchange.place_order(limit_buy(client_order_id))

    assert isinstance(again, Rejected) and again.code == -2010 and not again.retryable
    assert [o.order_id for o in exchange.open_orders(SYMBOL) if o.client_order_id == client_order_id] == [
        first.order_id
    ]
    canceled = accepted_order(exchange.cancel_order(SYMBOL, client_order_id=client_order_id))
    assert canceled.status is OrderStatus.CANCELED and canceled.client_order_id == client_order_id
    gone = exchange.cancel_order(SYMBOL, client_order_id=client_order_id)
    assert isinstance(gone, Rejected) and gone.code == -2011


def test_5xx_after_accept_is_unknown_and_the_lookup_finds_the_single_order(
    exchange: BinanceExchange, faults: Any
) -> None:
    client_order_id = cid("unknown")
    faults(fail_next=1, fail_status=503)

    outcome = exchange.place_order(limit_buy(client_order_id))

    assert isinstance(outcome, Unknown) and outcome.client_order_id == client_order_id
    found = exchange.get_order(SYMBOL, client_order_id=client_order_id)
    assert found is not None and found.status is OrderStatus.NEW
    assert [o.client_order_id for o in exchange.open_orders(SYMBOL)].count(client_order_id) == 1
    accepted_order(exchange.cancel_order(SYMBOL, order_id=found.order_id))


def test_timeout_is_unknown_and_the_order_is_found_afterwards(local_exchange_url: str, faults: Any) -> None:
    impatient = BinanceExchange(
        BinanceCredentials(SecretStr(API_KEY), SecretStr(API_SECRET)), base_url=local_exchange_url, timeout_s=0.3
    )
    client_order_id = cid("timeout")
    faults(latency_ms=800)

    outcome = impatient.place_order(limit_buy(client_order_id))

    assert isinstance(outcome, Unknown) and "timeout" in outcome.reason
    faults()
    deadline = time.monotonic() + 3
    found = None
    while found is None and time.monotonic() < deadline:
        found = impatient.get_order(SYMBOL, client_order_id=client_order_id)
        time.sleep(0.1)
    assert found is not None and found.client_order_id == client_order_id
    accepted_order(impatient.cancel_order(SYMBOL, client_order_id=client_order_id))


def test_clock_skew_resyncs_the_offset_and_the_order_goes_through(exchange: BinanceExchange, faults: Any) -> None:
    faults(clock_skew_ms=60_000)  # far outside the 5 s recvWindow

    first = accepted_order(exchange.place_order(market_buy(cid("skew"))))
    offset = exchange.time_offset_ms
    second = accepted_order(exchange.place_order(market_buy(cid("skew"))))

    assert first.status is OrderStatus.FILLED and second.status is OrderStatus.FILLED
    assert 58_000 <= offset <= 62_000 and exchange.time_offset_ms == offset  # kept, not re-measured


@pytest.mark.parametrize(("fault", "status"), [("rate_limit_next", 429), ("ban_next", 418)])
def test_rate_limit_is_retryable_with_retry_after(
    exchange: BinanceExchange, local_exchange_url: str, faults: Any, fault: str, status: int
) -> None:
    client_order_id = cid("rl")
    faults(**{fault: 1, "retry_after_s": 7})

    outcome = exchange.place_order(market_buy(client_order_id))

    assert isinstance(outcome, Rejected)
    assert (outcome.http_status, outcome.retryable, outcome.retry_after_s) == (status, True, 7.0)
    assert outcome.code == -1003

    # the fault is spent, but the adapter honours Retry-After: nothing is sent inside the window
    held = exchange.place_order(market_buy(client_order_id))
    assert isinstance(held, Rejected) and held.retryable and held.retry_after_s is not None
    assert 0 < held.retry_after_s <= 7
    other = BinanceExchange(
        BinanceCredentials(SecretStr(API_KEY), SecretStr(API_SECRET)), base_url=local_exchange_url
    )  # another container: not backing off, and the refused order was never booked
    assert other.get_order(SYMBOL, client_order_id=client_order_id) is None


def test_rate_limited_read_raises_a_retryable_error(exchange: BinanceExchange, faults: Any) -> None:
    faults(rate_limit_next=1, retry_after_s=3)
    with pytest.raises(ExchangeError) as info:
        exchange.ticker_price(SYMBOL)
    assert info.value.retryable and info.value.http_status == 429 and info.value.extra["retry_after_s"] == 3.0


def test_oco_exit_after_a_market_entry(exchange: BinanceExchange) -> None:
    entry = accepted_order(exchange.place_order(market_buy(cid("entry"), qty="0.0004")))
    received = entry.executed_qty - sum(f.commission for f in entry.fills if f.commission_asset == "BTC")
    qty = (received // Decimal("0.00001")) * Decimal("0.00001")
    price = exchange.ticker_price(SYMBOL)
    request = OcoRequest(
        symbol=SYMBOL,
        side="SELL",
        quantity=qty,
        take_profit_price=(price * Decimal("1.05")).quantize(Decimal("0.01")),
        stop_loss_price=(price * Decimal("0.95")).quantize(Decimal("0.01")),
        list_client_order_id=cid("oco"),
        take_profit_client_order_id=cid("tp"),
        stop_loss_client_order_id=cid("sl"),
    )

    outcome = exchange.place_oco(request)

    assert isinstance(outcome, Accepted) and isinstance(outcome.order, OrderListResult), outcome
    legs = {o.client_order_id: o for o in outcome.order.orders}
    assert set(legs) == {request.take_profit_client_order_id, request.stop_loss_client_order_id}
    assert legs[request.take_profit_client_order_id].type == "LIMIT_MAKER"
    assert legs[request.stop_loss_client_order_id].type == "STOP_LOSS"
    assert outcome.order.list_client_order_id == request.list_client_order_id
    # The monitor follows each leg by its own client order id until neither is working.
    for leg_id in legs:
        found = exchange.get_order(SYMBOL, client_order_id=leg_id)
        assert found is not None and found.status.is_open, found
    accepted_order(exchange.cancel_order(SYMBOL, client_order_id=request.take_profit_client_order_id))
    for leg_id in legs:  # canceling one leg of an OCO ends both
        found = exchange.get_order(SYMBOL, client_order_id=leg_id)
        assert found is not None and not found.status.is_open, found


def test_otoco_limit_entry_with_pending_exits(exchange: BinanceExchange) -> None:
    working = limit_buy(cid("work"), price="40000", qty="0.0002")
    pending = OcoRequest(
        symbol=SYMBOL,
        side="SELL",
        quantity=Decimal("0.0002"),
        take_profit_price=Decimal("44000"),
        stop_loss_price=Decimal("38000"),
        list_client_order_id=cid("otoco"),
        take_profit_client_order_id=cid("tp"),
        stop_loss_client_order_id=cid("sl"),
    )

    outcome = exchange.place_otoco(OtocoRequest(working=working, pending=pending))

    assert isinstance(outcome, Accepted) and isinstance(outcome.order, OrderListResult), outcome
    by_id = {o.client_order_id: o for o in outcome.order.orders}
    assert by_id[working.new_client_order_id].status is OrderStatus.NEW
    assert by_id[pending.stop_loss_client_order_id].status is OrderStatus.PENDING_NEW
    accepted_order(exchange.cancel_order(SYMBOL, client_order_id=working.new_client_order_id))


def test_construction_makes_no_request() -> None:
    # An unreachable URL: building the adapter must not touch it (no ping at construction).
    BinanceExchange(BinanceCredentials(SecretStr("k"), SecretStr("s")), base_url="http://127.0.0.1:9")
