"""A bounded subset of the fault matrix in ``make test`` (fewer signals, a 5 s MongoDB outage).

``make chaos`` runs every scenario at full size; these are the ones that finish in seconds each.
"""

from __future__ import annotations

import pytest

from tests.chaos.scenarios import QUICK, run

pytestmark = pytest.mark.integration

SUBSET = [
    "exchange_5xx",
    "events_bus_unavailable",
    "notifier_target_down",
    "clock_skew_1021",
    "rate_limit_429_418",
    "venue_budget_exhausted",
    "sqs_redelivered_5x",
    "execution_crash_after_accept",
    "sizing_crash_mid_batch",
    "ddb_conditional_races",
    "bridge_killed_mid_batch",
    "api_and_nats_at_once",
    "mongodb_down",
    "book_crash_before_ledger",
    "book_duplicate_fill_reports",
    "exits_refused_after_fill",
    "exits_refused_alert_policy",
    "exits_unknown_after_fill",
    "exit_canceled_by_hand",
    "partial_fills",
    "protection_trips_mid_burst",
]


@pytest.mark.parametrize("name", SUBSET)
def test_the_engine_survives(chaos_servers, name: str) -> None:
    result = run(name, chaos_servers, QUICK)
    assert result.ok, result.line(name) + "\n" + "\n".join(result.problems)
    refused = {"protection_trips_mid_burst": QUICK.signals - QUICK.signals // 2}.get(name, 0)  # by design
    assert result.signals > 0 and result.orders == result.signals - refused


def test_the_dlq_replay_script_moves_a_plan_back_once_and_leaves_unreadable_ones(chaos_servers) -> None:
    from tests.chaos.harness import Stack
    from tests.chaos.replay_dlq import replay

    stack = Stack.create(chaos_servers)
    sqs = stack.sqs
    body = '{"signal_id": "replay-1", "plan": {}}'
    sqs.send_message(QueueUrl=stack.orders_dlq, MessageBody=body, MessageGroupId="BTCUSDT", MessageDeduplicationId="a")
    sqs.send_message(
        QueueUrl=stack.orders_dlq, MessageBody="{not json", MessageGroupId="unreadable", MessageDeduplicationId="b",
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "not JSON"}},
    )  # fmt: skip
    assert replay(sqs, stack.orders_dlq, stack.orders_url, dry_run=False, limit=10) == (1, 1)
    got = sqs.receive_message(QueueUrl=stack.orders_url, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == [body] and got[0]["Attributes"]["MessageGroupId"] == "BTCUSDT"
