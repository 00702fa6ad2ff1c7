"""The engine's own resources for tests that run the real handlers: fresh tables and queues in the
emulator, the environment the functions read, a function module loaded like a Lambda cold start, and
the context powertools reads. Shared by tests/integration/pipeline and tests/chaos."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).parents[2]
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Provisioned:
    env: dict[str, str]  # table names, queue URLs, endpoint: what build_deps reads
    queues: Any  # tests.support.tables.FifoQueues
    ddb: Any
    sqs: Any


def provision(aws_url: str, *, visibility_timeout: int, prefix: str = "t") -> Provisioned:
    """Every table and queue of template.yaml, created fresh (unique names) by tests.support.tables."""
    from tradeengine.stores import aws

    from tests.support import tables as schemas

    run = uuid.uuid4().hex[:8]
    ddb = aws.client("dynamodb", endpoint_url=aws_url, region="us-east-1")
    sqs = aws.client("sqs", endpoint_url=aws_url, region="us-east-1")
    tables = {
        "SIGNALS_TABLE": (schemas.signals, f"signals-{run}"),
        "COUNTERS_TABLE": (schemas.counters, f"counters-{run}"),
        "CONTROL_TABLE": (schemas.control, f"control-{run}"),
        "RULES_TABLE": (schemas.rules, f"rules-{run}"),
        "PAPER_BOOK_TABLE": (schemas.paper_book, f"paper-{run}"),
        "BOOK_TABLE": (schemas.book, f"book-{run}"),
    }
    for create, name in tables.values():
        create(ddb, name)
    queues = schemas.create_queues(sqs, f"{prefix}{run}", visibility_timeout=visibility_timeout)
    env = {
        **FAKE_AWS,
        **{key: name for key, (_, name) in tables.items()},
        "AWS_ENDPOINT_URL": aws_url,
        "SIGNALS_QUEUE_URL": queues.signals,
        "ORDERS_QUEUE_URL": queues.orders,
        "SIGNALS_DLQ_URL": queues.signals_dlq,
        "ORDERS_DLQ_URL": queues.orders_dlq,
        "MONGODB_DATABASE": f"audit_{run}",
        "ENVIRONMENT": "test",
        "POWERTOOLS_METRICS_NAMESPACE": "Petrosa/TradeEngine",
        "POWERTOOLS_SERVICE_NAME": "tradeengine",
    }
    return Provisioned(env, queues, ddb, sqs)


def load_function(name: str, prefix: str = "fn") -> ModuleType:
    """functions/<name>/app.py imported afresh, as a Lambda cold start does (settings read now)."""
    from tradeengine.config import get_settings

    get_settings.cache_clear()
    module_name = f"{prefix}_{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    """The attributes of a LambdaContext that powertools reads (remaining time sets the in-progress expiry)."""

    remaining_ms: int = 60_000
    function_name: str = "local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sqs_event(sqs: Any, queue_url: str, max_messages: int = 10, wait_s: int = 1) -> dict[str, Any]:
    """Receive from the real queue and shape the records as Lambda's SQS event source does."""
    got = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        WaitTimeSeconds=wait_s,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
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
                "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queue_url.rsplit('/', 1)[-1]}",
                "awsRegion": "us-east-1",
            }
            for m in got
        ]
    }
