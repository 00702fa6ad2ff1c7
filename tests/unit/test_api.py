"""The HTTP API over in-memory adapters and the paper exchange: what a strategy or an operator sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tradeengine.exchange.base import Accepted
from tradeengine.pipeline.ports import SignalRecord, Step
from tradeengine.risk import TradingState

from contracts.orders import BinanceOrderType, OrderRequest, Side
from contracts.status import SignalState
from tests.conftest import signal_dict
from tests.support.memory import MemorySignalStore
from tests.unit.api_support import SECRET, bearer, client, memory_deps

WRITE = bearer("signals:write")
READ = bearer("orders:read")


def post(c: Any, body: Any, query: str = "", headers: dict[str, str] | None = None) -> Any:
    return c.post(f"/trade/signal{query}", json=body, headers=headers or WRITE)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], list)
    return dict(error)


# ---- POST /trade/signal ---------------------------------------------------------------------------


def test_a_seed_signal_is_accepted_with_202_and_a_status_url_that_answers() -> None:
    c, deps = client()
    response = post(c, signal_dict())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "QUEUED" and body["duplicate"] is False
    assert body["status_url"] == f"/signals/{body['signal_id']}" == response.headers["location"]
    assert [sid for sid, _, _ in deps.signals.messages] == [body["signal_id"]]  # type: ignore[attr-defined]
    status = c.get(body["status_url"], headers=READ).json()
    assert status["state"] == "QUEUED" and [h["state"] for h in status["history"]] == ["RECEIVED", "QUEUED"]
    assert status["signal"]["price"] == "45000"  # Decimal as a plain string, not a float


def test_a_repeated_signal_answers_the_same_id_as_duplicate_and_is_queued_once() -> None:
    c, deps = client()
    first = post(c, signal_dict(signal_id="strat-42")).json()
    again = post(c, signal_dict(signal_id="strat-42"))
    assert again.status_code == 202
    assert again.json()["signal_id"] == first["signal_id"] == "strat-42" and again.json()["duplicate"] is True
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


def test_an_invalid_signal_answers_422_naming_each_field_and_rule() -> None:
    c, deps = client()
    body = signal_dict(confidence=1.5, symbol="BTC/USDT")
    del body["action"]
    error = assert_error(post(c, body), 422, "validation_failed")
    named = {(d["field"], d["rule"]) for d in error["details"]}
    assert {("confidence", "less_than_equal"), ("symbol", "string_pattern_mismatch"), ("action", "missing")} <= named
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_an_invalid_signal_with_its_own_id_is_recorded_rejected_so_the_strategy_can_look_it_up() -> None:
    c, _ = client()
    error = assert_error(post(c, signal_dict(signal_id="bad-1", price=-1)), 422, "validation_failed")
    assert error["signal_id"] == "bad-1"
    status = c.get("/signals/bad-1", headers=READ).json()
    assert (status["state"], status["code"]) == ("REJECTED", "INVALID_SIGNAL")
    assert status["terminal"] is True and status["exits_working"] is False


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b'{"price": NaN}', "application/json", 400, "malformed_json"),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 413, "payload_too_large"),
        (b"[" * 20_000 + b"]" * 20_000, "application/json", 422, "validation_failed"),  # valid but too deep
        (b"\xff\xfe\x00garbage", "application/json", 400, "malformed_json"),
        (b'["a", "list"]', "application/json", 422, "validation_failed"),
        (b"strategy_id=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"{}", "", 415, "unsupported_media_type"),
        (b'{"x": "' + b"a" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
    ],
)
def test_bad_bodies_answer_a_4xx_json_error_never_a_5xx(
    content: bytes, content_type: str, status: int, code: str
) -> None:
    c, deps = client()
    headers = {**WRITE, **({"content-type": content_type} if content_type else {})}
    assert_error(c.post("/trade/signal", content=content, headers=headers), status, code)
    assert deps.signals.messages == []  # type: ignore[attr-defined]


def test_an_unreachable_queue_answers_503_and_the_retry_queues_the_signal_once() -> None:
    c, deps = client()
    deps.signals.fail_next = 1  # type: ignore[attr-defined]
    down = post(c, signal_dict(signal_id="retry-me"))
    assert_error(down, 503, "unavailable")
    assert down.headers["retry-after"] == "1"
    again = post(c, signal_dict(signal_id="retry-me"))
    assert again.status_code == 202 and again.json()["status"] == "QUEUED"
    assert len(deps.signals.messages) == 1  # type: ignore[attr-defined]


class SettlingStore(MemorySignalStore):
    """A store where a worker moves the signal on while the API polls: settled on the ``after``-th read."""

    def __init__(self, path: list[SignalState], after: int = 2, **fields: Any) -> None:
        super().__init__()
        self.path, self.after, self.fields, self.reads = path, after, fields, 0

    def get(self, signal_id: str) -> SignalRecord | None:
        self.reads += 1
        if self.reads == self.after:
            for state in self.path:
                self.advance(signal_id, Step(state, stage="worker", **(self.fields if state is self.path[-1] else {})))
        return super().get(signal_id)


def test_wait_answers_in_the_seeds_shape_once_the_order_is_filled() -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("0.00012"),
             "price": None, "new_client_order_id": "te-7"}  # fmt: skip
    execution = {"entry": {"order_id": 7, "executed_qty": Decimal("0.00012"), "avg_price": Decimal("45000")}}
    path = [SignalState.SIZED, SignalState.SUBMITTED, SignalState.FILLED]
    store = SettlingStore(path, plan={"order": order}, execution=execution)
    c, _ = client(memory_deps(store))
    response = post(c, signal_dict(), query="?wait=5")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["signal"]["symbol"] == "BTCUSDT"
    result = body["result"]
    assert result["status"] == "executed" and result["state"] == "FILLED"
    # The seed's words and lower-case values; Binance's name only for what the seed has no word for.
    assert result["order_params"] == {
        "symbol": "BTCUSDT", "side": "buy", "type": "market", "time_in_force": "GTC",
        "quantity": "0.00012", "price": None, "stop_price": None, "new_client_order_id": "te-7",
    }  # fmt: skip
    assert result["confidence"] == 0.85
    assert result["reason"] == "market buy of 0.00012 BTCUSDT filled at 45000"


def test_wait_names_a_resting_limit_order_in_the_seeds_words() -> None:
    order = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": Decimal("0.001"),
             "price": Decimal("44000"), "stop_price": Decimal("44100"), "time_in_force": "IOC"}  # fmt: skip
    store = SettlingStore([SignalState.SIZED, SignalState.SUBMITTED, SignalState.OPEN], plan={"order": order})
    c, _ = client(memory_deps(store))
    result = post(c, signal_dict(), query="?wait=5").json()["result"]
    params = result["order_params"]
    assert (params["side"], params["type"], params["time_in_force"]) == ("sell", "stop_limit", "IOC")
    assert result["status"] == "open"
    assert result["reason"] == "stop_limit sell of 0.001 BTCUSDT is open on the exchange at 44000"


def test_wait_reports_a_rejection_with_its_code() -> None:
    store = SettlingStore([SignalState.REJECTED], code="CONFIDENCE_TOO_LOW", reason="confidence 0.85 < 0.9")
    c, _ = client(memory_deps(store))
    body = post(c, signal_dict(), query="?wait=5").json()
    assert body["status"] == "rejected", "a refused signal is not a success"
    assert body["result"]["status"] == "rejected" and body["result"]["code"] == "CONFIDENCE_TOO_LOW"
    assert body["result"]["reason"] == "confidence 0.85 < 0.9" and body["result"]["order_params"] is None
    assert body["result"]["confidence"] == 0.85


def test_wait_that_times_out_answers_202_with_the_current_state() -> None:
    c, _ = client()
    response = post(c, signal_dict(), query="?wait=0.3")
    assert response.status_code == 202 and response.json()["status"] == "QUEUED"


@pytest.mark.parametrize("wait", ["21", "-1", "soon", "nan", "inf"])
def test_wait_outside_0_to_20_seconds_is_refused_with_422(wait: str) -> None:
    c, deps = client()
    error = assert_error(post(c, signal_dict(), query=f"?wait={wait}"), 422, "validation_failed")
    assert error["details"][0]["field"] == "query.wait"
    assert deps.signals.messages == []  # type: ignore[attr-defined]


# ---- GET /signals/{id} ------------------------------------------------------------------------------


def test_an_unknown_or_malformed_signal_id_answers_404_or_422() -> None:
    c, _ = client()
    assert_error(c.get("/signals/never-sent", headers=READ), 404, "signal_not_found")
    assert_error(c.get("/signals/" + "x" * 200, headers=READ), 422, "validation_failed")


# ---- exchange routes ---------------------------------------------------------------------------------


def test_account_lists_the_paper_balances_as_strings() -> None:
    c, _ = client()
    body = c.get("/account", headers=bearer("account:read")).json()
    assert body["mode"] == "simulation" and body["venue"] == "paper"
    assert {"asset": "USDT", "free": "10000", "locked": "0"} in body["balances"]


def test_price_answers_the_venue_price_and_404_for_an_unknown_symbol() -> None:
    c, _ = client()
    assert c.get("/price/btcusdt", headers=READ).json() == {"symbol": "BTCUSDT", "price": "50000", "venue": "paper"}
    assert_error(c.get("/price/NOPEUSDT", headers=READ), 404, "unknown_symbol")
    assert_error(c.get("/price/BTC-USDT", headers=READ), 422, "validation_failed")


def test_an_order_can_be_read_by_id_or_client_id_and_canceled_once() -> None:
    c, deps = client()
    placed = deps.exchange.place_order(
        OrderRequest(
            symbol="BTCUSDT", side=Side.BUY, type=BinanceOrderType.LIMIT, quantity=Decimal("0.001"),
            price=Decimal("40000"), time_in_force="GTC", new_client_order_id="sig-abc",
        )
    )  # fmt: skip
    assert isinstance(placed, Accepted)
    order_id = placed.order.order_id  # type: ignore[union-attr]
    by_id = c.get(f"/order/BTCUSDT/{order_id}", headers=READ).json()
    assert by_id == c.get("/order/BTCUSDT/sig-abc", headers=READ).json()
    assert (by_id["status"], by_id["price"], by_id["orig_qty"]) == ("NEW", "40000", "0.001")
    canceled = c.delete(f"/order/BTCUSDT/{order_id}", headers=bearer("orders:write"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    assert_error(c.delete(f"/order/BTCUSDT/{order_id}", headers=bearer("orders:write")), 404, "order_not_found")
    assert_error(c.get("/order/BTCUSDT/999999", headers=READ), 404, "order_not_found")


# ---- trading state -----------------------------------------------------------------------------------


def test_an_admin_halts_trading_with_a_reason_and_readers_see_it() -> None:
    c, deps = client()
    never_set = c.get("/trading/state", headers=READ).json()
    assert never_set == {"state": "ACTIVE", "reason": None, "set_by": None, "set_at": None}  # the default
    admin = bearer("admin", subject="oncall")
    changed = c.put("/trading/state", json={"state": "HALTED", "reason": "exchange incident"}, headers=admin)
    assert deps.trading_state.get() is TradingState.HALTED
    seen = c.get("/trading/state", headers=READ).json()
    assert seen == changed.json()
    assert (seen["state"], seen["reason"], seen["set_by"]) == ("HALTED", "exchange incident", "oncall")
    assert abs(datetime.fromisoformat(seen["set_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    snapshot = deps.counters.snapshot()
    assert snapshot[("tradeengine_trading_state_changes_total", (("state", "HALTED"),))] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"state": "PAUSED", "reason": "x"}, "body.state"), ({"state": "HALTED"}, "body.reason"),
     ({"state": "ACTIVE", "reason": ""}, "body.reason")],
)  # fmt: skip
def test_a_bad_trading_state_change_names_the_field(body: dict[str, str], field: str) -> None:
    c, deps = client()
    error = assert_error(c.put("/trading/state", json=body, headers=bearer("admin")), 422, "validation_failed")
    assert field in {d["field"] for d in error["details"]}
    assert deps.trading_state.get() is TradingState.ACTIVE


def test_a_malformed_trading_state_body_is_a_4xx() -> None:
    c, _ = client()
    headers = {**bearer("admin"), "content-type": "application/json"}
    response = c.put("/trading/state", content=b"{oops", headers=headers)
    assert 400 <= response.status_code < 500 and "error" in response.json()


# ---- operations --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("simulation", "testnet", "mode"),
    [(True, True, "simulation"), (False, True, "testnet"), (False, False, "mainnet")],
)
def test_health_says_which_mode_is_live_without_a_token(simulation: bool, testnet: bool, mode: str) -> None:
    from tradeengine import __version__

    c, _ = client(memory_deps(simulation_enabled=simulation, binance_testnet=testnet))
    assert c.get("/health").json() == {"status": "ok", "mode": mode, "version": __version__}
    body = c.get("/health", headers=READ).json()  # the detail needs a token
    assert (body["status"], body["mode"], body["version"]) == ("ok", mode, __version__)
    assert body["live_trading"] is (mode != "simulation")
    assert body["dependencies"]["signal_store"]["status"] == "ok"


def test_ready_answers_503_when_the_state_store_is_down() -> None:
    class DownStore(MemorySignalStore):
        def get(self, signal_id: str) -> SignalRecord | None:
            raise ConnectionError("dynamodb unreachable")

    c, _ = client(memory_deps(DownStore()))
    assert c.get("/live").json() == {"status": "alive"}
    assert c.get("/ready").status_code == 503 and c.get("/ready").json()["failed"] == ["signal_store"]
    assert c.get("/health").json()["status"] == "degraded"
    health = c.get("/health", headers=READ).json()
    down = {"adapter": "DownStore", "status": "error", "error": "ConnectionError"}
    assert health["dependencies"]["signal_store"] == down
    assert c.get("/ready").status_code == 503


def test_metrics_is_prometheus_text_with_the_pipeline_counters() -> None:
    c, deps = client()
    post(c, signal_dict())
    post(c, signal_dict())
    deps.counters.observe("tradeengine_latency_seconds", {"stage": "ingest"}, 0.02, [0.01, 0.05, 0.1])
    deps.counters.incr("tradeengine_trades_total", {"status": "filled", "type": "market"})
    response = c.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    signals = {tuple(sorted(s.labels.items())): s.value for s in families["tradeengine_signals"].samples}
    assert signals[(("result", "queued"), ("source", "api"))] == 1
    assert signals[(("result", "duplicate"), ("source", "api"))] == 1
    assert families["tradeengine_latency_seconds"].type == "histogram"
    assert families["tradeengine_trades"].type == "counter"
    assert families["tradeengine_build_info"].samples[0].labels["mode"] == "simulation"


def test_openapi_documents_the_signal_body_and_docs_are_served() -> None:
    c, _ = client()
    doc = c.get("/openapi.json").json()
    body = doc["paths"]["/trade/signal"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Signal"}
    assert {"Signal", "SignalMeta"} <= set(doc["components"]["schemas"])
    assert json.dumps(doc).count("#/$defs/") == 0  # every reference resolves inside the document
    assert c.get("/docs").status_code == 200


def test_a_failing_adapter_answers_a_json_500_that_quotes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore(MemorySignalStore):
        def get(self, signal_id: str) -> SignalRecord | None:
            raise RuntimeError(f"connect failed: {SECRET}")

    c, _ = client(memory_deps(BrokenStore()))
    response = c.get("/signals/any-signal", headers=READ)
    assert_error(response, 500, "internal_error")
    assert SECRET not in response.text and SECRET not in caplog.text
    assert "RuntimeError" in caplog.text  # the kind of failure is logged for the operator


def test_unknown_routes_and_methods_answer_json() -> None:
    c, _ = client()
    assert_error(c.get("/nowhere"), 404, "not_found")
    assert_error(c.patch("/trade/signal", headers=WRITE), 405, "method_not_allowed")
