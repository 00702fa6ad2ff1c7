"""The strategy book's arithmetic (tradeengine.book): average cost, fees in the quote asset, dust, round
trips, drawdown, and the same answer whatever order the fills are learned in."""

from __future__ import annotations

import random
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from tradeengine.book import BookFill, commission_in_quote, performance, replay

STEP = D("0.00001")


def fill(side, price, qty, *, trade_id, commission="0", asset="USDT", quote=None, t=None, strategy="A"):
    price, qty, commission = D(str(price)), D(str(qty)), D(str(commission))
    converted = commission_in_quote(commission, asset, price, "BTC", "USDT", D("600") if asset == "BNB" else None)
    return BookFill(
        venue="paper",
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=f"c{trade_id}",
        signal_id=f"s{trade_id}",
        strategy_id=strategy,
        symbol="BTCUSDT",
        base_asset="BTC",
        quote_asset="USDT",
        side=side,
        price=price,
        qty=qty,
        quote_qty=price * qty,
        commission=commission,
        commission_asset=asset,
        commission_quote=converted if quote is None else D(quote),
        time_ms=t if t is not None else trade_id * 1000,
    )


def test_a_round_trip_realizes_the_price_difference_less_every_fee():
    fills = [
        fill("BUY", 100, 1, trade_id=1, commission="0.001", asset="BTC"),  # Binance's default: fee in the base
        fill("SELL", 110, "0.999", trade_id=2, commission="0.10989"),
    ]
    p = replay(fills, STEP).position
    # sold 0.999 at +10 = 9.99; fees 0.001 BTC at 100 = 0.1, and 0.10989 USDT
    assert p.realized_pnl == D("9.99") - D("0.1") - D("0.10989")
    assert p.fees == D("0.20989")
    assert p.quantity == 0 and p.dust == 0 and not p.is_open


def test_what_is_left_below_the_lot_step_is_dust_and_the_position_counts_as_closed():
    fills = [
        fill("BUY", 45000, "0.001", trade_id=1, commission="0.000001", asset="BTC"),
        fill("SELL", 46000, "0.00099", trade_id=2, commission="0.045540"),
    ]
    r = replay(fills, STEP)
    assert r.position.quantity == 0 and r.position.dust == D("0.000009")
    assert len(r.trips) == 1 and r.trips[0].pnl == r.position.realized_pnl
    # 0.00099 × (46000 − 45000) − 0.000001 × 45000 − 0.04554
    assert r.position.realized_pnl == D("0.99") - D("0.045") - D("0.04554")


def test_average_cost_over_several_buys_and_a_partial_sell():
    fills = [
        fill("BUY", 100, 1, trade_id=1),
        fill("BUY", 200, 1, trade_id=2),
        fill("SELL", 180, "0.5", trade_id=3),
    ]
    p = replay(fills, STEP).position
    assert p.average_entry_price == D(150) and p.quantity == D("1.5")
    assert p.realized_pnl == D("15") and p.unrealized_pnl(D(160)) == D("15")
    assert p.is_open and p.opened_ms == 1000


def test_a_fee_in_bnb_is_converted_at_the_price_booked_with_it_and_an_unconvertible_one_is_counted_apart():
    priced = replay([fill("BUY", 100, 1, trade_id=1, commission="0.0001", asset="BNB")], STEP).position
    assert priced.fees == D("0.06") and priced.realized_pnl == D("-0.06")
    unknown = replay([fill("BUY", 100, 1, trade_id=1, commission="1", asset="XYZ")], STEP).position
    assert unknown.fees == 0 and unknown.fees_unknown == 1


def test_a_sell_beyond_the_book_realizes_only_the_books_share():
    p = replay([fill("BUY", 100, 1, trade_id=1), fill("SELL", 120, 3, trade_id=2)], STEP).position
    assert p.realized_pnl == D(20) and p.untracked_sold == D(2) and p.quantity == 0


def test_performance_counts_round_trips_wins_losses_and_the_drawdown_of_realized_pnl():
    fills = [
        fill("BUY", 100, 1, trade_id=1),
        fill("SELL", 110, 1, trade_id=2),  # +10
        fill("BUY", 100, 1, trade_id=3),
        fill("SELL", 90, 1, trade_id=4),  # -10
        fill("BUY", 100, 1, trade_id=5),
        fill("SELL", 95, 1, trade_id=6),  # -5
        fill("BUY", 100, 1, trade_id=7),
        fill("SELL", 130, 1, trade_id=8),  # +30
    ]
    perf = performance([replay(fills, STEP)])
    assert (perf.trades, perf.wins, perf.losses) == (4, 2, 2)
    assert perf.realized_pnl == D(25) and perf.best == D(30) and perf.worst == D(-10)
    assert perf.max_drawdown == D(15)  # from +10 down to -5
    recent = performance([replay(fills, STEP)], since_ms=5000)
    assert (recent.trades, recent.realized_pnl) == (2, D(25))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(90, 110), st.integers(1, 5)), max_size=12))
def test_the_position_is_the_same_whatever_order_the_fills_arrive_in(trades):
    fills = [fill(side, price, qty, trade_id=i + 1, commission="0.01") for i, (side, price, qty) in enumerate(trades)]
    expected = replay(fills, STEP).position
    shuffled = fills[:]
    random.Random(len(fills)).shuffle(shuffled)
    assert replay(shuffled, STEP).position == expected
