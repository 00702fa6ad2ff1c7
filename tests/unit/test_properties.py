"""Property-based: for random signals on random real symbols, what the engine emits passes every filter.

The symbols are real (trimmed copies of Binance's exchangeInfo, both filter shapes). The engine's own
last-line filter check must never be what stops an order: sizing gets it right by itself.
"""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tradeengine.engine import decide
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.rules import OrderContext
from tradeengine.sizing import Market

from contracts import Hold, OrderPlan, Rejection, RejectionCode, Signal
from tests.conftest import INFO_2021, INFO_2026, NOW, load_info

RULES_2021 = parse_exchange_info(load_info(INFO_2021))
RULES_2026 = parse_exchange_info(load_info(INFO_2026))
RULES = {**RULES_2021, **RULES_2026}
TRADING = sorted(s for s, r in RULES.items() if r.trading)
# Both shapes get a fair share, though the current snapshot has only four symbols.
SYMBOLS = st.one_of(
    st.sampled_from(sorted(RULES_2026)), st.sampled_from(sorted(s for s in TRADING if s not in RULES_2026))
)
PLAIN = re.compile(r"^\d+(\.\d+)?$")

ORDER_TYPES = ["market", "limit", "stop", "stop_limit", "take_profit", "take_profit_limit"]


@st.composite
def cases(draw):
    symbol = draw(SYMBOLS)
    rules = RULES[symbol]
    pf = rules.price_filter
    tick = pf.tick_size if pf.tick_size > 0 else Decimal("0.00000001")
    # A market price somewhere in the symbol's legal range, log-uniform over many magnitudes.
    lowest = max(pf.min_price, tick)
    highest = pf.max_price if pf.max_price > 0 else Decimal(10**7)
    exponent = draw(st.integers(min_value=0, max_value=9))
    mantissa = draw(st.integers(min_value=1, max_value=999))
    market = min(max(lowest * mantissa * Decimal(10) ** exponent / 100, lowest), highest)
    market = (market / tick).to_integral_value() * tick or lowest
    action = draw(st.sampled_from(["buy", "buy", "buy", "sell", "sell", "close", "hold"]))
    order_type = draw(st.sampled_from(ORDER_TYPES))
    offset = Decimal(draw(st.integers(min_value=-30, max_value=30))) / 100
    price = market * (1 + offset) if order_type != "market" else market
    meta: dict = {"order_type": order_type}
    if order_type in ("stop", "stop_limit", "take_profit", "take_profit_limit"):
        meta["stop_price"] = str(market * (1 + Decimal(draw(st.integers(-20, 20))) / 100) or market)
    sizing = draw(st.sampled_from(["zero", "explicit", "pct", "quote"]))
    quantity = Decimal(0)
    if sizing == "explicit":
        quantity = Decimal(draw(st.integers(1, 10**6))) * Decimal(10) ** draw(st.integers(-8, 2))
    elif sizing == "pct":
        meta["position_size_pct"] = str(draw(st.integers(1, 100)))
    elif sizing == "quote" and order_type == "market":
        meta["quote_quantity"] = str(Decimal(draw(st.integers(1, 10**6))) / 100)
    if draw(st.booleans()):
        meta["stop_loss_pct"] = str(draw(st.integers(1, 60)))
    if draw(st.booleans()):
        meta["take_profit_pct"] = str(draw(st.integers(1, 150)))
    body = {
        "strategy_id": "prop",
        "symbol": symbol,
        "action": action,
        "price": str(price if price > 0 else market),
        "quantity": str(quantity),
        "confidence": "0.9",
        "timestamp": NOW.isoformat(),
        "meta": meta,
    }
    balances = None
    if draw(st.booleans()) or action == "close" or sizing == "pct":
        big = Decimal(draw(st.integers(0, 10**9))) / 1000
        balances = {rules.base_asset: big / market if market > 0 else big, rules.quote_asset: big}
    return body, market, balances


def _assert_plain(params):
    for key, value in params.items():
        if key in ("quantity", "quoteOrderQty", "price", "stopPrice"):
            assert PLAIN.match(value), (key, value)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_accepted_order_passes_every_filter(case):
    body, market_price, balances = case
    signal = Signal.model_validate(body)
    market = Market(market_price)
    result = decide(signal, RULES, market, NOW, balances)
    event(type(result).__name__ if not isinstance(result, Rejection) else f"Rejection {result.code.value}")
    if isinstance(result, OrderPlan) and result.brackets is not None:
        event(f"brackets {result.brackets.kind.value} {result.brackets.placement.value}")
    if isinstance(result, Hold):
        assert signal.action == "hold"
        return
    if isinstance(result, Rejection):
        assert result.code in RejectionCode and result.reason
        # The last-line filter check is a safety net; sizing must never rely on it.
        assert result.code is not RejectionCode.FILTER_FAILURE, result.reason
        return
    assert isinstance(result, OrderPlan)
    rules = RULES[signal.symbol]
    ctx = OrderContext(average_price=market.average)
    assert rules.check(result.order, ctx) == [], result
    _assert_plain(result.order.to_binance())
    lot = rules.lot_for(result.order.type)
    if result.order.quantity is not None:
        assert result.order.quantity >= result.min_quantity or signal.action == "close"
        if lot.step_size > 0:
            assert result.order.quantity % lot.step_size == 0
    if result.brackets is not None:
        for leg in result.brackets.legs:
            _assert_plain(leg.to_binance())
            if leg.quantity is not None:
                assert rules.check(leg, ctx) == [], (leg, rules.check(leg, ctx))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TRADING), st.integers(0, 10**6))
def test_explicit_quantity_is_used_after_flooring(symbol, units):
    rules = RULES[symbol]
    lot = rules.lot_for(rules.lot_size and __import__("contracts").BinanceOrderType.MARKET)
    pf = rules.price_filter
    market = max(pf.min_price, pf.tick_size) * 1000
    qty = lot.step_size * units if lot.step_size > 0 else Decimal(units)
    body = {
        "strategy_id": "p",
        "symbol": symbol,
        "action": "buy",
        "price": str(market),
        "quantity": str(qty),
        "confidence": 1,
        "timestamp": NOW.isoformat(),
    }
    result = decide(Signal.model_validate(body), RULES, Market(market), NOW)
    if isinstance(result, OrderPlan):
        if qty >= result.min_quantity:
            assert result.order.quantity == qty and result.sizing == "explicit"
        else:
            assert result.order.quantity == result.min_quantity
    else:
        assert result.code in ("QUANTITY_ABOVE_MAX", "NOTIONAL_ABOVE_MAX"), result
