"""The notifier in CDK, as template.yaml declares it: notifications.fifo (and its DLQ) subscribed to the
execution events' topic with raw delivery, and NotifierFunction consuming it. It reads the channels on the
control table, writes its counters and delivered marks on the counters table, and reaches no signal, order,
book, exchange or secret (tests/infra/test_cdk.py holds it to template.yaml's grants)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

if TYPE_CHECKING:
    from infra.stack import TradeEngineStack


def add_notifier(stack: TradeEngineStack, topic: sns.ITopic) -> lambda_.Function:
    stack.notifications_dlq = stack._fifo("NotificationsDeadLetterQueue", "notifications-dlq", None)
    stack.notifications_queue = stack._fifo("NotificationsQueue", "notifications", stack.notifications_dlq)
    topic.add_subscription(subscriptions.SqsSubscription(stack.notifications_queue, raw_message_delivery=True))
    notifier = stack._function(
        "NotifierFunction",
        "notifier",
        "tradeengine-notifier",
        memory=256,
        secrets=False,
        extra_env={
            "NOTIFICATIONS_QUEUE_URL": stack.notifications_queue.queue_url,
            "NOTIFICATIONS_DLQ_URL": stack.notifications_dlq.queue_url,
            "TELEGRAM_API_URL": stack.config.get("TelegramApiUrl"),
        },
    )
    stack.control_table.grant_read_data(notifier)
    stack.counters_table.grant_read_write_data(notifier)
    stack.notifications_dlq.grant_send_messages(notifier)
    notifier.add_to_role_policy(  # a retry's backoff (SqsEventSource grants it too; said here, as in SAM)
        iam.PolicyStatement(actions=["sqs:ChangeMessageVisibility"], resources=[stack.notifications_queue.queue_arn])
    )
    notifier.add_event_source(
        sources.SqsEventSource(stack.notifications_queue, batch_size=10, report_batch_item_failures=True)
    )
    return notifier
