"""The deployable stack in CDK: the same functions, layer, queues, tables, event sources and environment as
template.yaml (tests/infra/test_cdk.py proves the parity), plus the dashboard and alarms (infra/monitoring.py).

Construct ids equal template.yaml's logical ids, so both read the same in the console and in the parity test.
Values come from infra/config.py (template defaults + samconfig.toml), resolved at synth time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsii
from aws_cdk import (
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from tradeengine.metrics import NAMESPACE

from infra.config import ROOT, StackConfig
from infra.http_api import add_http_api
from infra.logs import log_group
from infra.monitoring import Monitoring, Watched
from infra.tables import TABLES, TableSpec

RUNTIME = lambda_.Runtime.PYTHON_3_12
METRICS_NAMESPACE = NAMESPACE  # tradeengine.metrics: where the functions' EMF goes
FUNCTION_TIMEOUT = Duration.seconds(30)
QUEUE_VISIBILITY = Duration.seconds(6 * 30)  # AWS's guidance: 6 x the consumer's timeout
MAX_RECEIVE_COUNT = 5


@jsii.implements(ILocalBundling)
class _MakeLayer:
    """Builds the layer with layers/Makefile (uv cross-installs arm64/cp312 wheels): no Docker needed."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        import subprocess

        make = [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT / "layers"),
            "build-CoreLayer",
            f"ARTIFACTS_DIR={output_dir}",
        ]
        subprocess.run(make, check=True)  # noqa: S603 - fixed argv, no shell
        return True


@dataclass
class Functions:
    api: lambda_.Function
    sizing: lambda_.Function
    execution: lambda_.Function
    monitor: lambda_.Function
    all: dict[str, lambda_.Function] = field(default_factory=dict)


class TradeEngineStack(Stack):
    notifications_queue: sqs.Queue  # infra/notifier.py
    notifications_dlq: sqs.Queue

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self._tables()
        self._queues()
        self.layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            description="tradeengine + contracts + pinned runtime dependencies (layers/deps/requirements.txt)",
            code=lambda_.Code.from_asset(
                str(ROOT / "layers"),
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"), local=_MakeLayer()
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.functions = self._functions()
        from infra.events import add_execution_events

        self.events_topic = add_execution_events(self)
        from infra.notifier import add_notifier  # after the events' grants: it publishes nothing

        self.functions.all["NotifierFunction"] = add_notifier(self, self.events_topic)
        self.api = add_http_api(self, self.functions.api, self.config)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            watched=Watched(
                functions=self.functions.all,
                queues={"signals": self.signals_queue, "orders": self.orders_queue,
                        "notifications": self.notifications_queue},
                dead_letter_queues={
                    "SignalsDeadLetterAlarm": self.signals_dlq,
                    "OrdersDeadLetterAlarm": self.orders_dlq,
                    "NotificationsDeadLetterAlarm": self.notifications_dlq,
                },
                api=self.api,
            ),
            dashboard_name=self.stack_name,
            alarm_topic_arn=self.config.optional("AlarmTopicArn"),
            alarms=not config.is_local,  # the laptop has no CloudWatch to page anyone
        )  # fmt: skip

    # --- DynamoDB: each table as infra/tables.py defines it (the one definition) ---------------------------
    def _table(self, spec: TableSpec) -> ddb.Table:
        def key(name: str | None) -> ddb.Attribute | None:
            return ddb.Attribute(name=name, type=ddb.AttributeType.STRING) if name else None

        table = ddb.Table(
            self,
            spec.logical_id,
            partition_key=ddb.Attribute(name=spec.pk, type=ddb.AttributeType.STRING),
            sort_key=key(spec.sk),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=spec.ttl,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self.config.is_prod and spec.keep,
            removal_policy=RemovalPolicy.RETAIN if spec.keep else RemovalPolicy.DESTROY,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=ddb.Attribute(name=index.pk, type=ddb.AttributeType.STRING),
                sort_key=key(index.sk),
                projection_type=ddb.ProjectionType.ALL,
            )
        return table

    def _tables(self) -> None:
        made = {spec.logical_id: self._table(spec) for spec in TABLES}
        self.signals_table = made["SignalsTable"]
        self.rules_table = made["RulesTable"]
        self.paper_book_table = made["PaperBookTable"]
        self.counters_table = made["CountersTable"]
        self.control_table = made["ControlTable"]
        self.book_table = made["BookTable"]

    # --- SQS FIFO: group = symbol, dedup = signal id; DLQ after 5 receives, kept 14 days -------------------
    def _fifo(self, cid: str, name: str, dlq: sqs.IQueue | None) -> sqs.Queue:
        return sqs.Queue(
            self,
            cid,
            queue_name=f"{self.stack_name}-{name}.fifo",
            fifo=True,
            content_based_deduplication=False,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=QUEUE_VISIBILITY if dlq else None,
            retention_period=None if dlq else Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT) if dlq else None,
        )

    def _queues(self) -> None:
        self.signals_dlq = self._fifo("SignalsDeadLetterQueue", "signals-dlq", None)
        self.signals_queue = self._fifo("SignalsQueue", "signals", self.signals_dlq)
        self.orders_dlq = self._fifo("OrdersDeadLetterQueue", "orders-dlq", None)
        self.orders_queue = self._fifo("OrdersQueue", "orders", self.orders_dlq)

    # --- functions -------------------------------------------------------------------------------------------
    def _common_environment(self, secrets: bool = True) -> dict[str, str]:
        """Every function's variables; ``secrets=False`` (the notifier): no exchange key, no audit trail."""
        c = self.config
        env = {
            "ENVIRONMENT": c.get("Environment"),
            "LOG_LEVEL": c.get("LogLevel"),
            "POWERTOOLS_LOG_LEVEL": c.get("LogLevel"),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "SIMULATION_ENABLED": c.get("SimulationEnabled"),
            "BINANCE_TESTNET": c.get("BinanceTestnet"),
            "MARKET_DATA_URL": c.get("MarketDataUrl"),
            "PAPER_STARTING_BALANCES": c.get("PaperStartingBalances"),
            "PAPER_FEE_RATE": c.get("PaperFeeRate"),
            "PAPER_SLIPPAGE_BPS": c.get("PaperSlippageBps"),
            "PAPER_TOP_OF_BOOK_QTY": c.get("PaperTopOfBookQty"),
            "MONGODB_DATABASE": c.get("MongoDbDatabase"),
            "SIGNALS_TABLE": self.signals_table.table_name,
            "COUNTERS_TABLE": self.counters_table.table_name,
            "CONTROL_TABLE": self.control_table.table_name,
            "RULES_TABLE": self.rules_table.table_name,
            "PAPER_BOOK_TABLE": self.paper_book_table.table_name,
            "BOOK_TABLE": self.book_table.table_name,
            "SIGNALS_QUEUE_URL": self.signals_queue.queue_url,
            "ORDERS_QUEUE_URL": self.orders_queue.queue_url,
        }
        if c.optional("BinanceBaseUrl"):
            env["BINANCE_BASE_URL"] = c.get("BinanceBaseUrl")
        if c.optional("MaxOrderNotional"):
            env["MAX_ORDER_NOTIONAL"] = c.get("MaxOrderNotional")
        if not secrets:
            return env
        if c.optional("BinanceSecretName"):
            env["BINANCE_SECRET_ID"] = c.get("BinanceSecretName")
        # The secret's NAME, read by the functions at cold start (never its value in the environment); the
        # plain URL only on the laptop, and only without a secret name.
        if c.optional("MongoDbUrlSecretName"):
            env["MONGODB_URL_SECRET_ID"] = c.get("MongoDbUrlSecretName")
        elif c.optional("MongoDbUrl"):
            env["MONGODB_URL"] = c.get("MongoDbUrl")
        return env

    def _function(
        self,
        cid: str,
        folder: str,
        service: str,
        *,
        timeout: Duration = FUNCTION_TIMEOUT,
        memory: int = 512,
        extra_env: dict[str, str] | None = None,
        secrets: bool = True,
    ) -> lambda_.Function:
        group = log_group(
            self,
            f"{cid.removesuffix('Function')}LogGroup",
            f"/aws/lambda/{self.stack_name}-{folder}",
            self.config.get("LogRetentionDays"),
        )
        # Its own role, writing only to its own log group (no AWSLambdaBasicExecutionRole: that one may write
        # to every log group of the account).
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{cid}: its tables, queues and secrets only",
        )
        group.grant_write(role)
        fn = lambda_.Function(
            self,
            cid,
            role=role,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(ROOT / "functions" / folder), exclude=["__pycache__", "*.pyc"]),
            layers=[self.layer],
            timeout=timeout,
            memory_size=memory,
            log_group=group,
            environment={**self._common_environment(secrets), "POWERTOOLS_SERVICE_NAME": service, **(extra_env or {})},
        )
        for param, suffix in (("BinanceSecretName", "BinanceSecret"), ("MongoDbUrlSecretName", "MongoDbUrlSecret")):
            if secrets:
                self._grant_secret(fn, cid, param, suffix)
        return fn

    def _grant_secret(self, fn: lambda_.Function, cid: str, param: str, suffix: str) -> None:
        """GetSecretValue on the secret named by ``param`` (when set), for this function only."""
        if secret_name := self.config.optional(param):
            secret = secretsmanager.Secret.from_secret_name_v2(self, f"{cid}{suffix}", secret_name)
            secret.grant_read(fn)

    def _functions(self) -> Functions:
        api_env: dict[str, str] = {}
        if self.config.optional("JwtSecretName"):  # the NAME, read at cold start; the key itself only locally
            api_env["JWT_SECRET_ID"] = self.config.get("JwtSecretName")
        elif self.config.optional("JwtSecretKey"):
            api_env["JWT_SECRET_KEY"] = self.config.get("JwtSecretKey")
        api = self._function(
            "ApiFunction", "api", "tradeengine-api", timeout=Duration.seconds(29), memory=1024, extra_env=api_env
        )
        self._grant_secret(api, "ApiFunction", "JwtSecretName", "JwtSecret")
        for table in (self.signals_table, self.counters_table, self.control_table, self.paper_book_table):
            table.grant_read_write_data(api)
        self.book_table.grant_read_data(api)
        self.rules_table.grant_read_write_data(api)  # a strategy's performance reads the symbols' filters
        self.signals_queue.grant_send_messages(api)

        sizing = self._function(
            "SizingFunction", "sizing", "tradeengine-sizing", extra_env={"SIGNALS_DLQ_URL": self.signals_dlq.queue_url}
        )
        for table in (self.signals_table, self.counters_table, self.rules_table, self.paper_book_table):
            table.grant_read_write_data(sizing)
        self.control_table.grant_read_data(sizing)
        self.book_table.grant_read_data(sizing)
        self.orders_queue.grant_send_messages(sizing)
        self.signals_dlq.grant_send_messages(sizing)
        self.signals_queue.grant_send_messages(sizing)  # FLATTEN_ON_HALT: one close per position
        sizing.add_event_source(
            sources.SqsEventSource(self.signals_queue, batch_size=10, report_batch_item_failures=True)
        )

        execution = self._function(
            "ExecutionFunction",
            "execution",
            "tradeengine-execution",
            extra_env={
                "ORDERS_DLQ_URL": self.orders_dlq.queue_url,
            },
        )
        for table in (
            self.signals_table,
            self.counters_table,
            self.rules_table,
            self.paper_book_table,
            self.book_table,
        ):
            table.grant_read_write_data(execution)
        self.orders_dlq.grant_send_messages(execution)
        execution.add_event_source(
            sources.SqsEventSource(self.orders_queue, batch_size=10, report_batch_item_failures=True)
        )

        monitor = self._function("MonitorFunction", "monitor", "tradeengine-monitor", timeout=Duration.seconds(60))
        for table in (
            self.signals_table,
            self.counters_table,
            self.paper_book_table,
            self.book_table,
            self.rules_table,
        ):
            table.grant_read_write_data(monitor)  # rules: booking a fill and placing exits read the filters
        monitor.add_to_role_policy(  # its place in the walk over open orders, never the trading switch
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.control_table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["cursor#*"]}},
            )
        )
        events.Rule(
            self,
            "MonitorFunctionSchedule",
            description="follow open orders to their end",
            schedule=events.Schedule.expression(self.config.get("MonitorSchedule")),
            targets=[targets.LambdaFunction(monitor)],
        )
        fns = Functions(api, sizing, execution, monitor)
        fns.all = {
            "ApiFunction": api,
            "SizingFunction": sizing,
            "ExecutionFunction": execution,
            "MonitorFunction": monitor,
        }
        return fns
