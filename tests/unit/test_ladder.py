"""Take-profit ladders: meta.take_profit_levels → one OCO per level (its take-profit at the level, its stop at the
shared stop-loss), every level's quantity passing the filters after commission, or a refusal naming the level."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeengine.book import replay
from tradeengine.brackets import after_commission, split
from tradeengine.decimals import floor_to_step
from tradeengine.engine import decide
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message
from tradeengine.rules import OrderContext
from tradeengine.sizing import Market, SizingConfig

from contracts import OrderPlan, Rejection, Side, Signal
from contracts.orders import BinanceOrderType, BracketKind
from contracts.status import SignalState
from tests.conftest import INFO_2021, INFO_2026, NOW, load_info, signal_dict
from tests.support.memory import memory_deps
from tests.unit.test_book_pipeline import hand_pnl

RULES = {**parse_exchange_info(load_info(INFO_2021)), **parse_exchange_info(load_info(INFO_2026))}
LADDER = [{"pct": 1, "share": "0.5"}, {"pct": 2, "share": "0.5"}]


def decision(rules: Any, **overrides: Any) -> OrderPlan | Rejection:
    signal = Signal.model_validate(signal_dict(**overrides))
    return decide(signal, rules, Market(D("45000")), NOW, {"USDT": D(10000)})  # type: ignore[return-value]


@pytest.mark.parametrize("info", ["rules_2021", "rules_2026"])
def test_a_dynamic_minimum_ladder_is_large_enough_for_every_level_to_pass_the_filters(
    info: str, request: pytest.FixtureRequest
) -> None:
    rules = request.getfixturevalue(info)
    plan = decision(rules, meta={"stop_loss_pct": 2, "take_profit_levels": LADDER})
    assert isinstance(plan, OrderPlan), plan
    b = plan.brackets
    assert b is not None and len(b.pairs) == 2 and all(p.kind is BracketKind.OCO for p in b.pairs)
    assert [p.share for p in b.pairs] == [D("0.5"), D("0.5")]
    assert [p.take_profit.price for p in b.pairs if p.take_profit] == [D("45450"), D("45900")]
    assert {p.stop_loss.stop_price for p in b.pairs if p.stop_loss} == {D("44100")}  # the shared stop
    ids = [leg.new_client_order_id for leg in b.all_legs] + [p.list_client_order_id for p in b.pairs]
    assert len(set(ids)) == 6  # each level its own order list and legs
    for leg in b.all_legs:
        assert rules["BTCUSDT"].check(leg) == [], leg
    assert b.total_quantity == sum((p.quantity for p in b.pairs if p.quantity), D(0))


def test_a_single_pair_keeps_its_shape(rules_2026: Any) -> None:
    plan = decision(rules_2026, meta={"stop_loss_pct": 2, "take_profit_pct": 3})
    assert isinstance(plan, OrderPlan) and plan.brackets is not None
    assert plan.brackets.more == () and plan.brackets.share is None
    assert "levels" not in plan.brackets.to_binance()


def test_a_small_level_raises_the_entry_and_a_level_that_cannot_stand_is_refused_by_name(rules_2026: Any) -> None:
    # 1 % of 0.0003 BTC is one exit order far below BTCUSDT's minimum notional
    ladder = [{"pct": 1, "share": "0.99"}, {"pct": 2, "share": "0.01"}]
    plan = decision(rules_2026, quantity="0.0003", meta={"stop_loss_pct": 2, "take_profit_levels": ladder})
    # sizing raises the entry until every level stands, as it does for a single pair's legs
    assert isinstance(plan, OrderPlan), plan
    assert plan.sizing == "raised_to_minimum" and plan.brackets is not None
    assert all(p.quantity and p.quantity * D("44100") >= 5 for p in plan.brackets.pairs)
    bad = [{"pct": 1, "share": "0.5"}, {"price": "90000000000", "share": "0.5"}]
    out = decision(rules_2026, meta={"stop_loss_pct": 2, "take_profit_levels": bad})
    assert isinstance(out, Rejection) and out.reason.startswith("take-profit level 2"), out


def test_split_gives_the_last_level_what_the_floors_leave() -> None:
    assert split(D("0.00024"), [D("0.5"), D("0.5")], D("0.00001")) == [D("0.00012"), D("0.00012")]
    assert split(D("0.00025"), [D("0.3"), D("0.7")], D("0.00001")) == [D("0.00007"), D("0.00018")]


def send(deps: Any, **kw: Any) -> Any:
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    result = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)
    return deps.store.get(result.signal_id)


@pytest.mark.parametrize("info", [INFO_2021, INFO_2026], ids=["2021", "2026"])
def test_a_two_level_ladder_closes_half_at_each_level_and_the_book_matches_the_fills(info: Any) -> None:
    deps = memory_deps(load_info(info), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    entry = send(deps, strategy_id="L", quantity="0.002", meta={"stop_loss_pct": 2, "take_profit_levels": LADDER})
    assert entry.state is SignalState.FILLED and entry.execution["protection"] == "protected", entry.execution
    levels = entry.execution["exits"]["levels"]
    assert [lv["result"] for lv in levels] == ["accepted", "accepted"]
    held = next(p for p in deps.ledger.positions("L") if p.symbol == "BTCUSDT").quantity
    parts = [D(lv["quantity"]) for lv in levels]
    step = parse_exchange_info(load_info(info))["BTCUSDT"].lot_for(BinanceOrderType.LIMIT).step_size
    dust = held - floor_to_step(held, step)  # below the lot step: no order can sell it
    assert held == D("0.001998") and sum(parts) == held - dust and abs(parts[0] - parts[1]) <= step, parts

    deps.exchange.market.set("BTCUSDT", D("45500"))  # through level 1 (45450), not level 2 (45900)
    run_monitor(deps)
    half = next(p for p in deps.ledger.positions("L") if p.symbol == "BTCUSDT")
    assert half.quantity == parts[1] + dust and deps.store.get(entry.signal_id).watching_exits
    deps.exchange.market.set("BTCUSDT", D("46000"))  # through level 2
    run_monitor(deps)
    record = deps.store.get(entry.signal_id)
    assert not record.watching_exits and record.execution["exit_result"]["closed_by"] == "take_profit"
    legs = record.execution["exit_result"]["legs"]
    assert legs["take_profit"]["status"] == legs["take_profit_2"]["status"] == "FILLED"
    assert "FILLED" not in (legs["stop_loss"]["status"], legs["stop_loss_2"]["status"])  # each OCO's other leg
    closed = next(p for p in deps.ledger.positions("L") if p.symbol == "BTCUSDT")
    fills = deps.ledger.fills("L", "BTCUSDT")
    assert sorted(f.role for f in fills) == ["entry", "exit", "exit"]
    assert (
        closed.quantity == 0
        and closed.dust == dust
        and closed.realized_pnl == hand_pnl(fills)
        and closed.realized_pnl > 0
    )
    assert len(replay(fills, step).trips) == 1


def test_a_ladder_stopped_out_after_its_first_level_is_a_stop_out() -> None:
    deps = memory_deps(load_info(INFO_2026), {"BTCUSDT": "45000"}, {"USDT": "10000"})
    entry = send(deps, strategy_id="S", quantity="0.002", meta={"stop_loss_pct": 2, "take_profit_levels": LADDER})
    deps.exchange.market.set("BTCUSDT", D("45500"))
    run_monitor(deps)
    deps.exchange.market.set("BTCUSDT", D("44000"))  # below the shared stop (44100)
    run_monitor(deps)
    record = deps.store.get(entry.signal_id)
    assert record.execution["exit_result"]["closed_by"] == "stop_loss", record.execution["exit_result"]
    position = next(p for p in deps.ledger.positions("S") if p.symbol == "BTCUSDT")
    assert position.quantity == 0


def test_ladder_with_a_trailing_stop_trails_every_level(rules_2026: Any) -> None:
    plan = decision(rules_2026, meta={"trailing_delta_bps": 100, "take_profit_levels": LADDER})
    assert isinstance(plan, OrderPlan) and plan.brackets is not None, plan
    assert [p.stop_loss.trailing_delta for p in plan.brackets.pairs if p.stop_loss] == [100, 100]


@st.composite
def ladders(draw: Any) -> tuple[str, Signal, Decimal]:
    symbol = draw(st.sampled_from(sorted(s for s, r in RULES.items() if r.trading)))
    rules = RULES[symbol]
    tick = rules.tick_size if rules.tick_size > 0 else D("0.00000001")
    low = max(rules.price_filter.min_price if rules.price_filter else tick, tick)
    market = ((low * draw(st.integers(1, 999)) * D(10) ** draw(st.integers(0, 8))) / tick).to_integral_value() * tick
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=1, max_size=3, unique=True)))
    shares = [D(b - a) / 100 for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    levels = [{"pct": str(draw(st.integers(1, 50))), "share": str(s)} for s in shares]
    meta: dict[str, Any] = {"take_profit_levels": levels}
    if draw(st.booleans()) and rules.trailing_delta is not None:
        meta["trailing_delta_bps"] = draw(st.integers(10, 2000))
    else:
        meta["stop_loss_pct"] = str(draw(st.integers(1, 60)))
    quantity = D(draw(st.integers(0, 10**6))) * D(10) ** draw(st.integers(-8, 0))
    body = signal_dict(symbol=symbol, price=str(market), quantity=str(quantity), meta=meta)
    body["meta"].pop("simulate")
    return symbol, Signal.model_validate(body), market


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ladders())
def test_every_level_of_every_ladder_sizing_emits_passes_the_filters(case: tuple[str, Signal, Decimal]) -> None:
    symbol, signal, market = case
    rules = RULES[symbol]
    out = decide(signal, RULES, Market(market), NOW, {rules.quote_asset: D(10**12)})
    if isinstance(out, Rejection):
        assert out.code not in ("FILTER_FAILURE",), out  # sizing itself knows why, and says which level
        return
    assert isinstance(out, OrderPlan) and out.brackets is not None
    b = out.brackets
    assert len(b.pairs) == len(signal.meta.take_profit_levels or ())
    assert b.total_quantity == after_commission(out.order.quantity or D(0), Side.BUY, SizingConfig(), _step(rules))
    for leg in b.all_legs:
        assert rules.check(leg, OrderContext(average_price=market)) == [], leg


def test_a_trailing_stop_whose_floor_rounds_to_zero_sizes_against_the_smallest_price() -> None:
    """Found by the property above in CI: ETH at one tick (0.01) trailing 10 bips floors its stop to 0.00, and
    sizing divided by it. No trade prints below the smallest price, so the minimum is sized against that."""
    rules = RULES["ETHUSDT"]
    meta = {"take_profit_levels": LADDER, "trailing_delta_bps": 10}
    body = signal_dict(symbol="ETHUSDT", price="0.01", quantity="0", meta=meta)
    body["meta"].pop("simulate")
    out = decide(Signal.model_validate(body), RULES, Market(D("0.01")), NOW, {"USDT": D(10**12)})
    assert isinstance(out, OrderPlan), out
    assert out.brackets is not None
    for leg in out.brackets.all_legs:
        assert rules.check(leg, OrderContext(average_price=D("0.01"))) == [], leg


def _step(rules: Any) -> Decimal:
    lot = rules.lot_for(BinanceOrderType.MARKET)
    return lot.step_size if lot.step_size > 0 else D(1).scaleb(-rules.base_precision)


def test_the_largest_ladder_keeps_its_record_and_messages_within_the_bounds() -> None:
    from tests.unit.test_record_bounds import MESSAGE_BOUND, RECORD_BOUND, item_bytes, largest_meta

    deps = memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000000", "BTC": "0"})
    levels = [{"pct": (f"{i + 1}." + "0" * 64)[:64], "share": "0.1" + "0" * 61} for i in range(10)]  # 64 chars
    meta = {**largest_meta(), "order_type": "market", "take_profit_levels": levels}
    meta.pop("take_profit")
    raw = signal_dict(signal_id="L" * 128, strategy_id="🚀" * 128, quantity="0.01", meta=meta,
                      timestamp=datetime.now(UTC).isoformat())  # fmt: skip
    raw["meta"].pop("stop_price")
    result = ingest(raw, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    assert result.accepted, result.errors
    queued = deps.signals.drain()
    for body in queued:
        size_message(body, deps)
    plans = deps.plans.drain()
    assert plans, deps.store.get("L" * 128).reason
    plan_bytes = max(len(json.dumps(m).encode()) for m in plans)
    for body in plans:
        execute_message(body, deps)
    record = deps.store.get("L" * 128)
    assert record.state is SignalState.FILLED and len(record.execution["exits"]["levels"]) == 10, record.execution
    size = item_bytes(record)
    print(f"largest ladder: record {size} bytes, plan message {plan_bytes}")
    assert plan_bytes < MESSAGE_BOUND and size < RECORD_BOUND
