"""A trailing stop leg through python-binance's real client against the local exchange: the new OCO's
``belowTrailingDelta`` with no ``belowStopPrice`` is accepted, reported back, and refused out of range."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradeengine.exchange.base import Accepted, OcoRequest, OrderListResult, Rejected
from tradeengine.exchange.binance import BinanceExchange

from .test_binance_adapter import SYMBOL, accepted_order, cid, market_buy

pytestmark = pytest.mark.integration


def _oco(exchange: BinanceExchange, delta: int) -> tuple[OcoRequest, object]:
    entry = accepted_order(exchange.place_order(market_buy(cid("entry"), qty="0.0004")))
    received = entry.executed_qty - sum(f.commission for f in entry.fills if f.commission_asset == "BTC")
    price = exchange.ticker_price(SYMBOL)
    request = OcoRequest(
        symbol=SYMBOL,
        side="SELL",
        quantity=(received // Decimal("0.00001")) * Decimal("0.00001"),
        take_profit_price=(price * Decimal("1.05")).quantize(Decimal("0.01")),
        stop_loss_price=None,
        list_client_order_id=cid("oco"),
        take_profit_client_order_id=cid("tp"),
        stop_loss_client_order_id=cid("sl"),
        stop_loss_trailing_delta=delta,
    )
    return request, exchange.place_oco(request)


def test_an_oco_with_a_trailing_stop_leg_is_accepted_and_reports_its_delta(exchange: BinanceExchange) -> None:
    request, outcome = _oco(exchange, 150)
    assert isinstance(outcome, Accepted) and isinstance(outcome.order, OrderListResult), outcome
    stop = exchange.get_order(SYMBOL, client_order_id=request.stop_loss_client_order_id)
    assert stop is not None and stop.type == "STOP_LOSS" and stop.trailing_delta == 150, stop
    assert stop.status.is_open
    accepted_order(exchange.cancel_order(SYMBOL, client_order_id=request.take_profit_client_order_id))


def test_a_delta_outside_the_filter_is_refused_by_the_venue(exchange: BinanceExchange) -> None:
    _, outcome = _oco(exchange, 5000)  # the local exchange's TRAILING_DELTA allows 10..2000
    assert isinstance(outcome, Rejected) and outcome.code == -1013 and "TRAILING_DELTA" in outcome.message, outcome
