"""The pipeline's functions against real local servers: MiniStack (SQS, DynamoDB), SecantusDB (audit),
the local Binance-compatible exchange (market data for the paper venue)."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws.conftest import aws_env, ddb, ministack_endpoint  # noqa: F401 (fixtures)
from tests.integration.local_exchange.conftest import exchange_url  # noqa: F401 (fixture)
from tests.integration.mongo.conftest import mongo_server_factory, mongo_url  # noqa: F401 (fixtures)

ROOT = Path(__file__).parents[3]


@dataclass
class Stack:
    env: dict[str, str]
    queues: Any
    sqs: Any
    ddb: Any


@pytest.fixture
def stack(ministack_endpoint: str, mongo_url: str, exchange_url: str, aws_env: None) -> Iterator[Stack]:
    """Fresh tables and queues for one test, and the environment the functions read."""
    from tradeengine.pipeline.idempotency import create_table as create_idempotency
    from tradeengine.stores import aws, control, counters, paper_book_dynamodb, rules_cache, signal_state
    from tradeengine.stores.queues import create_queues

    run = uuid.uuid4().hex[:8]
    dynamodb = aws.client("dynamodb", endpoint_url=ministack_endpoint, region="us-east-1")
    sqs = aws.client("sqs", endpoint_url=ministack_endpoint, region="us-east-1")
    tables = {
        "SIGNALS_TABLE": (signal_state.create_table, f"signals-{run}"),
        "COUNTERS_TABLE": (counters.create_table, f"counters-{run}"),
        "CONTROL_TABLE": (control.create_table, f"control-{run}"),
        "RULES_TABLE": (rules_cache.create_table, f"rules-{run}"),
        "PAPER_BOOK_TABLE": (paper_book_dynamodb.create_table, f"paper-{run}"),
        "IDEMPOTENCY_TABLE": (create_idempotency, f"idem-{run}"),
    }
    for create, name in tables.values():
        create(dynamodb, name)
    queues = create_queues(sqs, f"p{run}", visibility_timeout=1)
    env = {
        **{key: name for key, (_, name) in tables.items()},
        "AWS_ENDPOINT_URL": ministack_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SIGNALS_QUEUE_URL": queues.signals,
        "ORDERS_QUEUE_URL": queues.orders,
        "SIGNALS_DLQ_URL": queues.signals_dlq,
        "ORDERS_DLQ_URL": queues.orders_dlq,
        "MARKET_DATA_URL": exchange_url,
        "MONGODB_URL": mongo_url,
        "MONGODB_DATABASE": f"audit_{run}",
        "SIMULATION_ENABLED": "true",
        "PAPER_STARTING_BALANCES": "USDT=10000",
        "JWT_SECRET_KEY": "integration-secret-0123456789abcdef0123456789",
        "ENVIRONMENT": "test",
        "POWERTOOLS_METRICS_NAMESPACE": "Petrosa/TradeEngine",
        "POWERTOOLS_SERVICE_NAME": "tradeengine",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield Stack(env, queues, sqs, dynamodb)


def load_function(name: str) -> Any:
    """Import functions/<name>/app.py afresh, as a Lambda cold start does (settings read now)."""
    from tradeengine.config import get_settings

    get_settings.cache_clear()
    module_name = f"fn_{name}_{uuid.uuid4().hex[:6]}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    """The attributes of a LambdaContext that powertools reads."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:local"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(sqs: Any, queue_url: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive from the real queue and shape the records as Lambda's SQS event source does."""
    got = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        WaitTimeSeconds=1,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for m in got
        ]
    }


os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Petrosa/TradeEngine")
