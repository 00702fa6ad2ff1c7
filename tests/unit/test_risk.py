"""Risk limits and trading state, through engine.decide (the whole pure decision)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tradeengine.engine import Policy, decide
from tradeengine.risk import RiskLimits, TradingState
from tradeengine.sizing import Market

from contracts import Hold, OrderPlan, Rejection, Signal
from tests.conftest import NOW, signal_dict

D = Decimal


def decision(rules, market="45000", balances=None, policy=None, now=NOW, **overrides):
    return decide(Signal.model_validate(signal_dict(**overrides)), rules, Market(D(market)), now, balances, policy)


def code(rules, **kw):
    result = decision(rules, **kw)
    assert isinstance(result, Rejection), result
    assert result.reason  # every refusal says why, in words
    return result.code


def test_seed_signal_is_accepted(rules_2021):
    assert isinstance(decision(rules_2021), OrderPlan)


def test_confidence_threshold(rules_2021):
    assert code(rules_2021, confidence=0.59) == "CONFIDENCE_TOO_LOW"
    assert isinstance(decision(rules_2021, confidence=0.6), OrderPlan)
    low = Policy(limits=RiskLimits(min_confidence=D("0.1")))
    assert isinstance(decision(rules_2021, confidence=0.2, policy=low), OrderPlan)


def test_stale_and_future_signals(rules_2021):
    old = (NOW - timedelta(seconds=301)).isoformat()
    assert code(rules_2021, timestamp=old) == "STALE_SIGNAL"
    assert isinstance(decision(rules_2021, timestamp=(NOW - timedelta(seconds=299)).isoformat()), OrderPlan)
    assert code(rules_2021, timestamp=(NOW + timedelta(minutes=5)).isoformat()) == "SIGNAL_FROM_FUTURE"


def test_symbol_allow_list_and_status(rules_2021):
    only_eth = Policy(limits=RiskLimits(symbol_allowlist=frozenset({"ETHUSDT"})))
    assert code(rules_2021, policy=only_eth) == "SYMBOL_NOT_ALLOWED"
    assert code(rules_2021, symbol="NOPEUSDT") == "SYMBOL_UNKNOWN"
    halted_symbol = next(r for r in rules_2021.values() if not r.trading)
    assert code(rules_2021, symbol=halted_symbol.symbol) == "SYMBOL_NOT_TRADING"


def test_trading_states(rules_2021):
    halted = Policy(state=TradingState.HALTED)
    reducing = Policy(state=TradingState.REDUCING)
    assert code(rules_2021, policy=halted) == "TRADING_HALTED"
    assert code(rules_2021, policy=halted, action="close", balances={"BTC": D(1)}) == "TRADING_HALTED"
    assert code(rules_2021, policy=reducing) == "TRADING_REDUCING"
    assert isinstance(decision(rules_2021, policy=reducing, action="sell"), OrderPlan)
    assert isinstance(decision(rules_2021, policy=reducing, action="close", balances={"BTC": D(1)}), OrderPlan)
    assert isinstance(decision(rules_2021, policy=halted, action="hold"), Hold)


def test_price_band_against_the_market(rules_2026):
    # PERCENT_PRICE_BY_SIDE: a bid may be at most 1.2 x the average price.
    result = decision(rules_2026, market="100000", price="125000", meta={"order_type": "limit"})
    assert isinstance(result, Rejection) and result.code == "PRICE_OUT_OF_BAND"
    assert "120000" in result.reason
    assert isinstance(decision(rules_2026, market="100000", price="110000", meta={"order_type": "limit"}), OrderPlan)


def test_price_band_legacy_percent_price(rules_2021):
    # PERCENT_PRICE: 0.2 .. 5 x average, both sides.
    assert code(rules_2021, market="45000", price="8000", meta={"order_type": "limit"}) == "PRICE_OUT_OF_BAND"


def test_max_order_notional(rules_2021):
    capped = Policy(limits=RiskLimits(max_order_notional=D("100")))
    assert code(rules_2021, policy=capped, quantity="0.01") == "MAX_ORDER_NOTIONAL"
    assert isinstance(decision(rules_2021, policy=capped, quantity="0.002"), OrderPlan)


def test_max_position_size_pct(rules_2021):
    policy = Policy(limits=RiskLimits(max_position_size_pct=D("25")))
    assert code(rules_2021, policy=policy, balances={"USDT": D(1000)}, meta={"position_size_pct": 30}) == (
        "POSITION_SIZE_TOO_LARGE"
    )


@pytest.mark.parametrize(
    ("action", "balances", "expected"),
    [
        ("buy", {"USDT": D("5")}, "INSUFFICIENT_BALANCE"),
        ("buy", {"USDT": D("1000")}, None),
        ("sell", {"BTC": D("0.0001")}, "INSUFFICIENT_BALANCE"),
        ("sell", {"BTC": D("1")}, None),
        ("buy", {"BTC": D("1")}, None),  # quote balance not known, size does not depend on it
    ],
)
def test_balance_checks_when_known(rules_2021, action, balances, expected):
    result = decision(rules_2021, action=action, balances=balances)
    if expected is None:
        assert isinstance(result, OrderPlan), result
    else:
        assert isinstance(result, Rejection) and result.code == expected
        assert "free" in result.reason


def test_market_buy_balance_includes_the_margin(rules_2021):
    # 0.001 BTC at 45000 = 45 USDT; with a 1 % market margin it needs 45.45.
    assert code(rules_2021, quantity="0.001", balances={"USDT": D("45.2")}) == "INSUFFICIENT_BALANCE"
    assert isinstance(decision(rules_2021, quantity="0.001", balances={"USDT": D("45.5")}), OrderPlan)
