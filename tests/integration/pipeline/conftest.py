"""The pipeline's functions against real local servers: MiniStack (SQS, DynamoDB), SecantusDB (audit),
the local Binance-compatible exchange (market data for the paper venue)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.aws.conftest import aws_env, ddb, ministack_endpoint  # noqa: F401 (fixtures)
from tests.integration.local_exchange.conftest import exchange_url  # noqa: F401 (fixture)
from tests.integration.mongo.conftest import mongo_server_factory, mongo_url  # noqa: F401 (fixtures)
from tests.support.engine import ROOT, FakeContext, load_function, provision, sqs_event  # noqa: F401 (re-exported)


@dataclass
class Stack:
    env: dict[str, str]
    queues: Any
    sqs: Any
    ddb: Any


@pytest.fixture
def stack(ministack_endpoint: str, mongo_url: str, exchange_url: str, aws_env: None) -> Iterator[Stack]:
    """Fresh tables and queues for one test, and the environment the functions read."""
    made = provision(ministack_endpoint, visibility_timeout=1, prefix="p")
    env = {
        **made.env,
        "MARKET_DATA_URL": exchange_url,
        "MONGODB_URL": mongo_url,
        "SIMULATION_ENABLED": "true",
        "PAPER_STARTING_BALANCES": "USDT=10000",
        "JWT_SECRET_KEY": "integration-secret-0123456789abcdef0123456789",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield Stack(env, made.queues, made.sqs, made.ddb)


os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Petrosa/TradeEngine")
