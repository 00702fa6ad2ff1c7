"""The book's HTTP routes on the in-process app over the in-memory pipeline: /positions, /trades,
/strategies/{id}/performance, the /signals list and POST /positions/flatten (amounts as strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from fastapi.testclient import TestClient
from tradeengine.api.app import create_app
from tradeengine.pipeline.execute import execute_message
from tradeengine.pipeline.ingest import ingest
from tradeengine.pipeline.monitor import run_monitor
from tradeengine.pipeline.size import size_message

from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps
from tests.unit.api_support import bearer, settings

READ = bearer("orders:read")


@pytest.fixture
def deps():
    return memory_deps(load_info(INFO_2021), {"BTCUSDT": "45000", "ETHUSDT": "3000"}, {"USDT": "10000"}, settings())


@pytest.fixture
def api(deps):
    return TestClient(create_app(lambda: deps), raise_server_exceptions=False)


def drain(deps):
    for message in deps.signals.drain():
        size_message(message, deps)
    for message in deps.plans.drain():
        execute_message(message, deps)


def send(deps, **kw):
    body = signal_dict(timestamp=datetime.now(UTC).isoformat(), **kw)
    result = ingest(body, source="api", recorder=deps.recorder("ingest"), queue=deps.signals)
    drain(deps)
    return result.signal_id


def test_positions_show_quantity_average_pnl_and_the_exits_protecting_them(api, deps):
    send(deps, strategy_id="A", quantity="0.001", meta={"take_profit_pct": 3, "stop_loss_pct": 2})
    send(deps, strategy_id="B", quantity="0.002")
    body = api.get("/positions", headers=READ).json()
    rows = {p["strategy_id"]: p for p in body["positions"]}
    assert set(rows) == {"A", "B"}
    a = rows["A"]
    assert a["quantity"] == "0.000999" and a["quote_asset"] == "USDT" and a["mark_price"] == "45000"
    assert isinstance(a["realized_pnl"], str) and D(a["realized_pnl"]) < 0  # the entry's fee, paid
    assert len(a["protected_by"]) == 2 and rows["B"]["protected_by"] == []
    only_a = api.get("/positions", params={"strategy_id": "A"}, headers=READ).json()["positions"]
    assert [p["strategy_id"] for p in only_a] == ["A"]
    page = api.get("/positions", params={"limit": 1}, headers=READ).json()
    assert len(page["positions"]) == 1 and "next_cursor" in page
    rest = api.get("/positions", params={"limit": 1, "cursor": page["next_cursor"]}, headers=READ).json()
    assert [p["strategy_id"] for p in rest["positions"]] == ["B"] and "next_cursor" not in rest


def test_a_closed_round_trip_shows_in_trades_and_performance_as_one_win(api, deps):
    send(deps, strategy_id="A", quantity="0.001", meta={"take_profit_pct": 3, "stop_loss_pct": 2})
    deps.exchange.market.set("BTCUSDT", D("47000"))
    run_monitor(deps)
    trades = api.get("/trades", params={"strategy_id": "A"}, headers=READ).json()["trades"]
    assert [t["side"] for t in trades] == ["BUY", "SELL"] and [t["role"] for t in trades] == ["entry", "exit"]
    assert all(isinstance(t[k], str) for t in trades for k in ("price", "qty", "commission"))
    assert api.get("/positions", headers=READ).json()["positions"] == []  # open ones, unless asked
    assert api.get("/positions", params={"strategy_id": "A", "include_closed": "false"}, headers=READ).json() == {
        "positions": []
    }
    closed = api.get("/positions", params={"strategy_id": "A"}, headers=READ).json()  # named: closed ones too
    assert closed["positions"][0]["quantity"] == "0"
    perf = api.get("/strategies/A/performance", headers=READ).json()
    assert (perf["trades"], perf["wins"], perf["losses"]) == (1, 1, 0)
    assert perf["realized_pnl"] == closed["positions"][0]["realized_pnl"] and D(perf["realized_pnl"]) > 0
    assert perf["symbols"]["BTCUSDT"]["trades"] == 1 and perf["max_drawdown"] == "0.045"


def test_the_signal_list_filters_and_pages(api, deps):
    ids = [send(deps, strategy_id="A", quantity="0.001") for _ in range(3)]
    send(deps, strategy_id="B", quantity="0.001")
    first = api.get("/signals", params={"strategy_id": "A", "limit": 2}, headers=READ).json()
    second = api.get("/signals", params={"strategy_id": "A", "cursor": first["next_cursor"]}, headers=READ).json()
    seen = [s["signal_id"] for s in first["signals"] + second["signals"]]
    assert sorted(seen) == sorted(ids) and all(s["state"] == "FILLED" for s in first["signals"])
    assert api.get("/signals", params={"state": "REJECTED"}, headers=READ).json()["signals"] == []
    assert api.get("/signals", params={"state": "NOPE"}, headers=READ).status_code == 422
    assert api.get("/signals", params={"cursor": "%%%"}, headers=READ).status_code == 400


def test_flatten_cancels_working_orders_and_sells_every_position_and_needs_admin(api, deps):
    send(deps, strategy_id="A", quantity="0.001", meta={"take_profit_pct": 3, "stop_loss_pct": 2})
    send(deps, strategy_id="B", quantity="0.002")
    send(deps, strategy_id="B", action="buy", price="40000", quantity="0.001", meta={"order_type": "limit"})
    assert deps.exchange.open_orders("BTCUSDT")
    assert api.post("/positions/flatten", json={"reason": "x"}, headers=READ).status_code == 403
    answer = api.post("/positions/flatten", json={"reason": "end of day"}, headers=bearer("admin"))
    assert answer.status_code == 202, answer.text
    done = answer.json()["positions"]
    assert {(p["strategy_id"], p["symbol"]) for p in done} == {("A", "BTCUSDT"), ("B", "BTCUSDT")}
    drain(deps)
    run_monitor(deps)
    assert not any(o.status.is_open for o in deps.exchange.open_orders())
    assert api.get("/positions", headers=READ).json()["positions"] == []
    for p in done:
        record = deps.store.get(p["signal_id"])
        assert record.state.value == "FILLED" and record.source == "flatten", (record.code, record.reason)
        assert [e.state.value for e in deps.audit.events(p["signal_id"])][-1] == "FILLED"


def test_book_queries_refuse_bad_input_with_4xx(api):
    assert api.get("/positions", params={"symbol": "btc usdt"}, headers=READ).status_code == 422
    assert api.get("/trades", params={"limit": 0}, headers=READ).status_code == 422
    assert api.get("/strategies/..%2F/performance", headers=READ).status_code in (404, 422)
    assert api.post("/positions/flatten", json={}, headers=bearer("admin")).status_code == 422
    assert api.get("/positions").status_code == 401


def test_metrics_carry_the_books_gauges(api, deps):
    send(deps, strategy_id="A", quantity="0.001")
    text = api.get("/metrics").text
    assert "# TYPE tradeengine_position_quantity gauge" in text
    assert 'tradeengine_position_quantity{strategy="A",symbol="BTCUSDT"} 0.000999' in text
    assert 'tradeengine_realized_pnl{quote="USDT",strategy="A"} -0.045' in text


def test_a_token_limited_to_some_strategies_sees_only_their_book(api, deps):
    from tradeengine.api.tokens import mint

    from tests.unit.api_support import SECRET

    send(deps, strategy_id="A", quantity="0.001")
    send(deps, strategy_id="B", quantity="0.001")
    only_a = {"Authorization": f"Bearer {mint(SECRET, 'a-bot', ['orders:read'], 300, strategies=['A'])}"}
    assert [p["strategy_id"] for p in api.get("/positions", headers=only_a).json()["positions"]] == ["A"]
    assert {t["strategy_id"] for t in api.get("/trades", headers=only_a).json()["trades"]} == {"A"}
    assert {s["strategy_id"] for s in api.get("/signals", headers=only_a).json()["signals"]} == {"A"}
    assert api.get("/strategies/B/performance", headers=only_a).status_code == 404
    assert api.get("/strategies/A/performance", headers=only_a).status_code == 200
