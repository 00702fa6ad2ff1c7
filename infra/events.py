"""The execution events' topic in CDK, as template.yaml declares it (ExecutionEventsTopic): SNS FIFO, KMS
(aws/sns), TLS only; every function may publish to it, gets its ARN as EXECUTION_EVENTS_TOPIC_ARN, and may
reach the events outbox on the control table (``events_outbox*`` keys only, never the trading switch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

if TYPE_CHECKING:
    from infra.stack import TradeEngineStack

OUTBOX_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchGetItem",
]


def add_execution_events(stack: TradeEngineStack) -> sns.Topic:
    topic = sns.Topic(
        stack,
        "ExecutionEventsTopic",
        topic_name=f"{stack.stack_name}-execution-events.fifo",
        fifo=True,
        content_based_deduplication=False,
        master_key=kms.Alias.from_alias_name(stack, "ExecutionEventsKey", "alias/aws/sns"),
        enforce_ssl=True,
    )
    for name, fn in stack.functions.all.items():
        fn.add_environment("EXECUTION_EVENTS_TOPIC_ARN", topic.topic_arn)
        topic.grant_publish(fn)
        if name != "ApiFunction":  # the API reads and writes the control table already
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=OUTBOX_ACTIONS,
                    resources=[stack.control_table.table_arn],
                    conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["events_outbox*"]}},
                )
            )
    return topic
