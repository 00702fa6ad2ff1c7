"""Dashboard and alarms of the CDK stack: latency, trades by status, errors, DLQ depth.

Engine metrics are CloudWatch EMF from the functions (namespace POWERTOOLS_METRICS_NAMESPACE), named as the
seed's Prometheus series; SEARCH expressions graph them whatever dimensions each series carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns

if TYPE_CHECKING:
    from infra.stack import TradeEngineStack

PERIOD = Duration.minutes(1)


def _search(stack: TradeEngineStack, metric: str, stat: str, label: str) -> cw.MathExpression:
    from infra.stack import METRICS_NAMESPACE

    return cw.MathExpression(
        expression=f"SEARCH('Namespace=\"{METRICS_NAMESPACE}\" MetricName=\"{metric}\"', '{stat}', 60)",
        using_metrics={},
        label=label,
        period=PERIOD,
    )


def _errors_of(stack: TradeEngineStack, kind: str) -> cw.MathExpression:
    """tradeengine_errors_total{type=kind} (EMF) as execution and the monitor emit it, summed."""
    from infra.stack import METRICS_NAMESPACE

    def metric(service: str) -> cw.Metric:
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="tradeengine_errors_total",
            dimensions_map={"service": service, "type": kind},
            statistic="Sum",
            period=PERIOD,
        )

    return cw.MathExpression(
        expression="FILL(execution, 0) + FILL(monitor, 0)",
        using_metrics={"execution": metric("tradeengine-execution"), "monitor": metric("tradeengine-monitor")},
        period=PERIOD,
    )


def _above_zero(stack: TradeEngineStack, metric: cw.IMetric, alarm_id: str, description: str) -> cw.Alarm:
    """An alarm when ``metric`` is above 0 in one period; no data is not breaching."""
    return metric.create_alarm(
        stack,
        alarm_id,
        alarm_description=description,
        threshold=0,
        evaluation_periods=1,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )


def add_monitoring(stack: TradeEngineStack) -> None:
    fns = stack.functions.all
    dlqs = {"signals": stack.signals_dlq, "orders": stack.orders_dlq, "notifications": stack.notifications_dlq}
    dashboard = cw.Dashboard(
        stack, "Dashboard", dashboard_name=f"{stack.stack_name}", default_interval=Duration.hours(3)
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Latency: signal to exchange (p50/p99, EMF) and API Gateway",
            left=[
                _search(stack, "tradeengine_latency_seconds", "p50", "engine p50"),
                _search(stack, "tradeengine_latency_seconds", "p99", "engine p99"),
            ],
            right=[stack.api.metric_latency(statistic="p99", period=PERIOD, label="HTTP API p99 (ms)")],
            width=12,
        ),
        cw.GraphWidget(
            title="Function duration p99 (ms)",
            left=[fn.metric_duration(statistic="p99", period=PERIOD, label=name) for name, fn in fns.items()],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Trades by status (tradeengine_trades_total)",
            left=[_search(stack, "tradeengine_trades_total", "Sum", "")],
            stacked=True,
            width=12,
        ),
        cw.GraphWidget(
            title="Errors: engine (tradeengine_errors_total), functions, HTTP 5xx",
            left=[_search(stack, "tradeengine_errors_total", "Sum", "")],
            right=[
                *(fn.metric_errors(period=PERIOD, label=f"{name} errors") for name, fn in fns.items()),
                stack.api.metric_server_error(period=PERIOD, label="HTTP 5xx"),
            ],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Dead-letter queue depth",
            left=[
                q.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum", label=name)
                for name, q in dlqs.items()
            ],
            width=12,
        ),
        cw.GraphWidget(
            title="Queue backlog: age of the oldest message (s)",
            left=[
                stack.signals_queue.metric_approximate_age_of_oldest_message(period=PERIOD, label="signals"),
                stack.orders_queue.metric_approximate_age_of_oldest_message(period=PERIOD, label="orders"),
            ],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Realized PnL per strategy, quote asset (tradeengine_realized_pnl, the book)",
            left=[_search(stack, "tradeengine_realized_pnl", "Maximum", "")],
            width=12,
        ),
        cw.GraphWidget(
            title="Position quantity per strategy and symbol (tradeengine_position_quantity)",
            left=[_search(stack, "tradeengine_position_quantity", "Maximum", "")],
            width=12,
        ),
    )
    if stack.config.is_local:
        return  # the laptop has no CloudWatch to page anyone
    topic_arn = stack.config.optional("AlarmTopicArn")
    action = cw_actions.SnsAction(sns.Topic.from_topic_arn(stack, "AlarmTopic", topic_arn)) if topic_arn else None
    alarms: list[cw.Alarm] = []
    for name, queue in (
        ("SignalsDeadLetterAlarm", stack.signals_dlq),
        ("OrdersDeadLetterAlarm", stack.orders_dlq),
        ("NotificationsDeadLetterAlarm", stack.notifications_dlq),
    ):
        metric = queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        alarms.append(_above_zero(stack, metric, name, f"{name}: a message went to the DLQ after 5 receives"))
    for alarm_id, kind, what in (
        ("ExitsNotPlacedAlarm", "exits_not_placed", "a filled entry's exits could not be placed (retried)"),
        ("UnprotectedPositionAlarm", "unprotected_position", "a position stands without its exits: act now"),
    ):
        description = f"{alarm_id}: {what} (docs/OPERATIONS.md runbook)"
        alarms.append(_above_zero(stack, _errors_of(stack, kind), alarm_id, description))
    for name, fn in fns.items():
        metric = fn.metric_errors(period=Duration.minutes(5), statistic="Sum")
        alarm_id = name.removesuffix("Function") + "ErrorsAlarm"
        alarms.append(_above_zero(stack, metric, alarm_id, f"{name} raised (Lambda Errors)"))
    if action:
        for alarm in alarms:
            alarm.add_alarm_action(action)
    dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24))
