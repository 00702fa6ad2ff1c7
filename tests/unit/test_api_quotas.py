"""Quotas, all settings: requests per token subject (429 with Retry-After and a JSON body), orders per
strategy (STRATEGY_RATE_LIMITED on every path, since sizing is where both paths meet), and the laptop
stack's default MAX_ORDER_NOTIONAL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tradeengine.pipeline.quotas import MemoryWindows
from tradeengine.pipeline.size import size_message
from tradeengine.stores.quotas import DynamoDBWindows

from contracts.status import SignalState
from tests.conftest import INFO_2021, load_info, signal_dict
from tests.support.memory import memory_deps as pipeline_deps
from tests.unit.api_support import bearer, client, memory_deps


def test_a_token_past_its_request_rate_gets_429_with_retry_after_and_a_json_body() -> None:
    c, _ = client(memory_deps(api_rate_limit_per_minute=3))
    mine, other = bearer("orders:read", subject="bot-a"), bearer("orders:read", subject="bot-b")
    assert [c.get("/trading/state", headers=mine).status_code for _ in range(3)] == [200, 200, 200]
    limited = c.get("/trading/state", headers=mine)
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    error = limited.json()["error"]
    assert error["code"] == "rate_limited" and "API_RATE_LIMIT_PER_MINUTE" in error["message"]
    assert error["retry_after_s"] == int(limited.headers["retry-after"])
    assert c.get("/trading/state", headers=other).status_code == 200  # counted per token subject
    assert c.get("/health").status_code == 200  # the probes are not counted


def test_without_the_setting_nothing_is_limited() -> None:
    c, _ = client()
    assert {c.get("/trading/state", headers=bearer("orders:read")).status_code for _ in range(50)} == {200}


def test_memory_windows_start_again_each_minute() -> None:
    now = [120.0]
    windows = MemoryWindows(clock=lambda: now[0])
    assert [windows.hit("k").count for _ in range(3)] == [1, 2, 3]
    assert windows.hit("k").retry_after_s == 60
    now[0] = 179.5
    assert windows.hit("k").retry_after_s == 1
    now[0] = 180.0
    assert windows.hit("k").count == 1 and windows.hit("other").count == 1


class FakeDynamoDB:
    """update_item with ADD semantics, recording what was asked."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], int] = {}
        self.calls: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        key = (kwargs["Key"]["pk"]["S"], kwargs["Key"]["sk"]["S"])
        self.items[key] = self.items.get(key, 0) + 1
        return {"Attributes": {"hits": {"N": str(self.items[key])}}}


def test_dynamodb_windows_count_atomically_under_their_own_partition_with_a_ttl() -> None:
    fake = FakeDynamoDB()
    windows = DynamoDBWindows("counters", ddb_client=fake, clock=lambda: 600.0)
    assert [windows.hit("token:bot").count for _ in range(2)] == [1, 2]
    call = fake.calls[0]
    assert call["Key"] == {"pk": {"S": "quota"}, "sk": {"S": "token:bot|10"}}
    assert call["UpdateExpression"].startswith("ADD hits :one") and call["ReturnValues"] == "UPDATED_NEW"
    assert call["ExpressionAttributeValues"][":expires"] == {"N": "720"}


def test_a_strategy_past_its_order_rate_is_rejected_on_the_queue_path_and_others_go_on() -> None:
    deps = pipeline_deps(load_info(INFO_2021), {"BTCUSDT": "45000"}, {"USDT": "10000", "BTC": "0"})
    deps.settings = deps.settings.model_copy(update={"strategy_orders_per_minute": 2})
    now = datetime.now(UTC).isoformat()

    def size(sid: str, **fields: Any) -> Any:
        body = signal_dict(signal_id=sid, timestamp=now, **fields)
        return size_message({"signal_id": sid, "source": "nats", "signal": body}, deps)

    assert size("h-1", action="hold").state is SignalState.HELD  # a hold places nothing: not counted
    assert [size(f"a-{i}").state for i in range(2)] == [SignalState.SIZED, SignalState.SIZED]
    third = size("a-2")
    assert third.state is SignalState.REJECTED and third.code == "STRATEGY_RATE_LIMITED"
    assert "STRATEGY_ORDERS_PER_MINUTE" in (deps.store.get("a-2").reason or "")
    assert size("b-0", strategy_id="other_v1").state is SignalState.SIZED


def test_the_laptop_stack_caps_one_order_at_1000_by_default() -> None:
    from infra.config import load_template, parameter_values

    assert parameter_values("local")["MaxOrderNotional"] == "1000"
    assert parameter_values("prod")["MaxOrderNotional"] == ""  # elsewhere: no cap unless an operator sets one
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert "MAX_ORDER_NOTIONAL" in env
