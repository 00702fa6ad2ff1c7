from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts import OrderRequest, Side, Signal, SignalState
from contracts.errors import describe
from contracts.money import plain
from contracts.orders import BinanceOrderType
from tests.conftest import signal_dict

SEED_BODY = """{
  "strategy_id": "momentum_v1", "symbol": "BTCUSDT", "action": "buy", "price": 45000.0,
  "quantity": 0.0, "confidence": 0.85, "timestamp": "2024-01-01T12:00:00Z",
  "meta": {"order_type": "market", "simulate": true, "indicators": {"rsi": 28.5}}
}"""


def test_seed_body_validates_unchanged():
    signal = Signal.model_validate_json(SEED_BODY)
    assert signal.quantity == 0
    assert signal.price == Decimal("45000.0")
    assert signal.timestamp == datetime(2024, 1, 1, 12, tzinfo=UTC)
    # The seed's own keys are documented: simulate (a rule, see test_meta_keys.py) and free-form indicators.
    assert signal.meta.simulate is True and signal.meta.indicators == {"rsi": 28.5}


@pytest.mark.parametrize(
    "stamp",
    [1704110400, 1704110400000, "1704110400", "2024-01-01T12:00:00+00:00", "2024-01-01T09:00:00-03:00"],
)
def test_timestamps_iso_and_epoch(stamp):
    signal = Signal.model_validate(signal_dict(timestamp=stamp))
    assert signal.timestamp == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_naive_timestamp_is_utc():
    assert Signal.model_validate(signal_dict(timestamp="2024-01-01T12:00:00")).timestamp.tzinfo is UTC


def test_meta_fields_of_the_seed():
    meta = {
        "order_type": "LIMIT",
        "time_in_force": "ioc",
        "stop_loss_pct": 2.0,
        "take_profit": 47000,
        "position_size_pct": 10,
        "stop_price": "44000.5",
    }
    signal = Signal.model_validate(signal_dict(meta=meta))
    assert signal.meta.order_type == "limit" and signal.meta.time_in_force == "IOC"
    assert signal.meta.stop_loss_pct == Decimal("2.0") and signal.meta.stop_price == Decimal("44000.5")


@pytest.mark.parametrize(
    ("override", "field", "rule"),
    [
        ({"price": -1}, "price", "greater_than_equal"),
        ({"confidence": 1.5}, "confidence", "less_than_equal"),
        ({"action": "short"}, "action", "enum"),
        ({"quantity": "abc"}, "quantity", "decimal_parsing"),
        ({"quantity": "NaN"}, "quantity", "finite_number"),
        ({"symbol": "BTC/USDT"}, "symbol", "string_pattern_mismatch"),
        ({"timestamp": "yesterday"}, "timestamp", "datetime_from_date_parsing"),
        ({"meta": {"order_type": "trailing"}}, "meta.order_type", "enum"),
        ({"meta": {"stop_loss_pct": 150}}, "meta.stop_loss_pct", "less_than"),
        ({"meta": {"position_size_pct": 0}}, "meta.position_size_pct", "greater_than"),
    ],
)
def test_bad_input_names_field_and_rule(override, field, rule):
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(signal_dict(**override))
    problems = describe(info.value)
    assert any(p["field"] == field and p["rule"] == rule for p in problems), problems


def test_missing_field_is_named():
    body = signal_dict()
    del body["confidence"]
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(body)
    assert describe(info.value)[0] == {"field": "confidence", "rule": "missing", "message": "Field required"}


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"stop_loss": 44000, "stop_loss_pct": 2}, "stop_loss or stop_loss_pct"),
        ({"take_profit": 46000, "take_profit_pct": 2}, "take_profit or take_profit_pct"),
        ({"quote_quantity": 50, "order_type": "limit"}, "only for market orders"),
    ],
)
def test_contradictory_meta_is_refused(meta, words):
    with pytest.raises(ValidationError, match=words):
        Signal.model_validate(signal_dict(meta=meta))


def test_buy_needs_a_price_but_close_does_not():
    with pytest.raises(ValidationError, match="price must be greater than 0"):
        Signal.model_validate(signal_dict(price=0))
    assert Signal.model_validate(signal_dict(action="close", price=0)).price == 0


def test_signal_id_is_deterministic_and_content_bound():
    a = Signal.model_validate(signal_dict())
    b = Signal.model_validate(json.loads(json.dumps(signal_dict())))
    c = Signal.model_validate(signal_dict(price=45001))
    assert a.id == b.id and a.id != c.id and a.id.startswith("sig-")
    assert Signal.model_validate(signal_dict(signal_id="client-1")).id == "client-1"


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.00001", "0.00001"), ("1E-8", "0.00000001"), ("1E+3", "1000"), ("0.29000000", "0.29"), ("0E-8", "0")],
)
def test_plain_never_scientific(value, text):
    assert plain(Decimal(value)) == text


def test_orders_serialise_as_plain_strings():
    order = OrderRequest(
        symbol="SHIBUSDT",
        side=Side.BUY,
        type=BinanceOrderType.LIMIT,
        quantity=Decimal("1E+6"),
        price=Decimal("0.00000700"),
        time_in_force="GTC",
        new_client_order_id="te-1",
    )
    params = order.to_binance()
    assert params == {
        "symbol": "SHIBUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "1000000",
        "price": "0.000007",
        "timeInForce": "GTC",
        "newClientOrderId": "te-1",
    }
    dumped = json.loads(order.model_dump_json())
    assert (dumped["quantity"], dumped["price"]) == ("1000000", "0.000007")


def test_state_transitions_only_move_forward():
    assert SignalState.RECEIVED.can_become(SignalState.QUEUED)
    assert SignalState.SUBMITTED.can_become(SignalState.FILLED)
    assert not SignalState.FILLED.can_become(SignalState.OPEN)
    assert not SignalState.QUEUED.can_become(SignalState.RECEIVED)
    assert all(not s.can_become(t) for s in SignalState if s.terminal for t in SignalState)


def _exit_leg(kind: str, suffix: str, price: str | None = None, stop: str | None = None) -> dict[str, object]:
    return {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": kind,
        "quantity": "0.001",
        "price": price,
        "stop_price": stop,
        "new_client_order_id": "te-1-" + suffix,
    }


def test_brackets_are_told_apart_by_kind_as_stored_plans_carry_them() -> None:
    from pydantic import TypeAdapter

    from contracts.orders import Brackets, OcoBrackets, StopLossBracket, TakeProfitBracket

    read = TypeAdapter(Brackets).validate_python
    # a stored plan's single-leg brackets carry the missing leg as null, and "share" / "more" as before
    common = {"placement": "after_fill", "side": "SELL", "quantity": "0.001", "list_client_order_id": "te-1-ls"}
    common |= {"share": None, "more": []}
    stop = read(
        {**common, "kind": "STOP_LOSS", "stop_loss": _exit_leg("STOP_LOSS", "sl", stop="40000"), "take_profit": None}
    )
    tp = read({**common, "kind": "TAKE_PROFIT", "stop_loss": None, "take_profit": _exit_leg("LIMIT", "tp", "50000")})
    pair = read(
        {
            **common,
            "kind": "OCO",
            "stop_loss": _exit_leg("STOP_LOSS", "sl", stop="40000"),
            "take_profit": _exit_leg("LIMIT_MAKER", "tp", "50000"),
        }
    )
    assert isinstance(stop, StopLossBracket) and stop.leg.new_client_order_id == "te-1-sl"
    assert isinstance(tp, TakeProfitBracket) and tp.leg.new_client_order_id == "te-1-tp"
    assert isinstance(pair, OcoBrackets) and pair.take_profit_price == Decimal("50000")
    assert stop.model_dump(mode="json")["take_profit"] is None and stop.model_dump(mode="json")["more"] == []
    with pytest.raises(ValidationError):  # an OCO has both legs
        read({**common, "kind": "OCO", "stop_loss": _exit_leg("STOP_LOSS", "sl", stop="40000")})
    with pytest.raises(ValidationError):  # and its take-profit has a price
        read(
            {
                **common,
                "kind": "OCO",
                "stop_loss": _exit_leg("STOP_LOSS", "sl", stop="40000"),
                "take_profit": _exit_leg("LIMIT_MAKER", "tp"),
            }
        )
    with pytest.raises(ValidationError):  # a stop-loss bracket has its stop
        read({**common, "kind": "STOP_LOSS", "take_profit": _exit_leg("LIMIT", "tp", "50000")})


def test_exiting_is_a_sub_state_of_filled_written_in_the_one_table() -> None:
    from tradeengine.pipeline.ports import Step

    from contracts.status import EXIT_MOVES, EXITING, ORDER_MOVES, TRANSITIONS

    s = SignalState
    assert EXITING.public is s.FILLED and not EXITING.terminal and s.FILLED.terminal
    assert TRANSITIONS[EXITING] == {EXITING, s.FILLED}  # one more step while the exits work, or their end
    assert [x for x in TRANSITIONS if EXITING in TRANSITIONS[x]] == [s.SUBMITTED, s.OPEN, s.PARTIALLY_FILLED, EXITING]
    # an order's own move enters EXITING, never re-enters it; the exits' steps start only from it
    assert Step(EXITING, source=ORDER_MOVES).sources() == [s.SUBMITTED, s.OPEN, s.PARTIALLY_FILLED]
    assert Step(s.FILLED, source=EXIT_MOVES).sources() == [EXITING]
    assert Step(s.FILLED).sources() == [s.SUBMITTED, s.OPEN, s.PARTIALLY_FILLED, EXITING]
