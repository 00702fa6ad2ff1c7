"""Dashboard and alarms of the CDK stack: latency, trades by status, errors, DLQ depth, PnL and positions.

``Monitoring`` is a construct handed what it watches (the functions, the queues and their DLQs, the HTTP
API): it knows nothing of the stack that owns them, so the stack imports it and nothing imports back.
Engine metrics are CloudWatch EMF from the functions (namespace ``tradeengine.metrics.NAMESPACE``), named
as the Prometheus series; SEARCH expressions graph them whatever dimensions each series carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from tradeengine.metrics import ERRORS, LATENCY, NAMESPACE, POSITION_QUANTITY, REALIZED_PNL, TRADES

PERIOD = Duration.minutes(1)


@dataclass(frozen=True)
class Watched:
    functions: Mapping[str, lambda_.IFunction]  # logical id -> function (its ErrorsAlarm is named after it)
    queues: Mapping[str, sqs.IQueue]  # label -> a work queue (the age of its oldest message)
    dead_letter_queues: Mapping[str, sqs.IQueue]  # alarm id -> DLQ
    api: apigw.HttpApi


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, cid: str, *, watched: Watched, dashboard_name: str, alarm_topic_arn: str | None,
        alarms: bool,
    ) -> None:  # fmt: skip
        super().__init__(scope, cid)
        self.watched = watched
        self.dashboard = self._dashboard(dashboard_name)
        self.alarms: list[cw.Alarm] = self._alarms() if alarms else []
        if alarm_topic_arn:
            action = cw_actions.SnsAction(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn))
            for alarm in self.alarms:
                alarm.add_alarm_action(action)
        if self.alarms:
            self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))

    def _dashboard(self, name: str) -> cw.Dashboard:
        w = self.watched
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(3))
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Latency: signal to exchange (p50/p99, EMF) and API Gateway",
                left=[_search(LATENCY, "p50", "engine p50"), _search(LATENCY, "p99", "engine p99")],
                right=[w.api.metric_latency(statistic="p99", period=PERIOD, label="HTTP API p99 (ms)")],
                width=12,
            ),
            cw.GraphWidget(
                title="Function duration p99 (ms)",
                left=[fn.metric_duration(statistic="p99", period=PERIOD, label=n) for n, fn in w.functions.items()],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title=f"Trades by status ({TRADES})", left=[_search(TRADES, "Sum", "")], stacked=True, width=12
            ),
            cw.GraphWidget(
                title=f"Errors: engine ({ERRORS}), functions, HTTP 5xx",
                left=[_search(ERRORS, "Sum", "")],
                right=[
                    *(fn.metric_errors(period=PERIOD, label=f"{n} errors") for n, fn in w.functions.items()),
                    w.api.metric_server_error(period=PERIOD, label="HTTP 5xx"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=alarm_id.removesuffix("DeadLetterAlarm").lower()
                    )
                    for alarm_id, q in w.dead_letter_queues.items()
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Queue backlog: age of the oldest message (s)",
                left=[
                    q.metric_approximate_age_of_oldest_message(period=PERIOD, label=label)
                    for label, q in w.queues.items()
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title=f"Realized PnL per strategy, quote asset ({REALIZED_PNL}, the book)",
                left=[_search(REALIZED_PNL, "Maximum", "")],
                width=12,
            ),
            cw.GraphWidget(
                title=f"Position quantity per strategy and symbol ({POSITION_QUANTITY})",
                left=[_search(POSITION_QUANTITY, "Maximum", "")],
                width=12,
            ),
        )
        return dashboard

    def _alarms(self) -> list[cw.Alarm]:
        w = self.watched
        alarms: list[cw.Alarm] = []
        for alarm_id, queue in w.dead_letter_queues.items():
            metric = queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
            alarms.append(self._above_zero(metric, alarm_id, f"{alarm_id}: a message went to the DLQ"))
        for alarm_id, kind, what in (
            ("ExitsNotPlacedAlarm", "exits_not_placed", "a filled entry's exits could not be placed (retried)"),
            ("UnprotectedPositionAlarm", "unprotected_position", "a position stands without its exits: act now"),
        ):
            description = f"{alarm_id}: {what} (docs/OPERATIONS.md runbook)"
            alarms.append(self._above_zero(_errors_of(kind), alarm_id, description))
        for name, fn in w.functions.items():
            metric = fn.metric_errors(period=Duration.minutes(5), statistic="Sum")
            alarm_id = name.removesuffix("Function") + "ErrorsAlarm"
            alarms.append(self._above_zero(metric, alarm_id, f"{name} raised (Lambda Errors)"))
        return alarms

    def _above_zero(self, metric: cw.IMetric, alarm_id: str, description: str) -> cw.Alarm:
        """An alarm when ``metric`` is above 0 in one period; no data is not breaching."""
        return cw.Alarm(
            self,
            alarm_id,
            metric=metric,
            alarm_description=description,
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )


def _search(metric: str, stat: str, label: str) -> cw.MathExpression:
    return cw.MathExpression(
        expression=f"SEARCH('Namespace=\"{NAMESPACE}\" MetricName=\"{metric}\"', '{stat}', 60)",
        using_metrics={},
        label=label,
        period=PERIOD,
    )


def _errors_of(kind: str) -> cw.MathExpression:
    """tradeengine_errors_total{type=kind} (EMF) as execution and the monitor emit it, summed."""

    def metric(service: str) -> cw.Metric:
        return cw.Metric(
            namespace=NAMESPACE,
            metric_name=ERRORS,
            dimensions_map={"service": service, "type": kind},
            statistic="Sum",
            period=PERIOD,
        )

    return cw.MathExpression(
        expression="FILL(execution, 0) + FILL(monitor, 0)",
        using_metrics={"execution": metric("tradeengine-execution"), "monitor": metric("tradeengine-monitor")},
        period=PERIOD,
    )
