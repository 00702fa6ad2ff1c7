"""The pipeline's real handlers on the real servers, driven the way Lambda drives them, and the tally.

- ``Stack``: fresh DynamoDB tables, SQS FIFO queues (with DLQs and redrive) and the environment the
  functions read; ``use()`` makes it the process environment.
- ``load(name)``: functions/<name>/app.py imported afresh, like a new Lambda container (its own clients,
  its own exchange adapter).
- ``Pump``: Lambda's SQS event source mapping: receive up to 10, invoke, delete what did not fail;
  a handler that dies (raises) deletes nothing, so the whole batch comes back after the visibility timeout.
- ``tally``: the truth is the exchange's book (local exchange ``/admin/state``): one order per accepted
  signal, found by its client order id. lost = accepted signals without an order or without a known
  fate; duplicates = extra orders for one signal.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from tests.chaos.servers import EXCHANGE_KEY, EXCHANGE_SECRET, FAKE_AWS, ROOT, Servers
from tests.support.engine import FakeContext, load_function, provision, sqs_event

JWT_SECRET = "chaos-jwt-secret-0123456789abcdef0123456789"
API_EVENT = json.loads((ROOT / "local" / "events" / "apigw-post-signal.json").read_text())
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT")
IN_FLIGHT = frozenset({"RECEIVED", "QUEUED", "SIZED", "SUBMITTED"})


_APPLIED: set[str] = set()  # the variables the last Stack.use() set


@dataclass
class Stack:
    servers: Servers
    env: dict[str, str]
    sqs: Any
    ddb: Any
    signals_url: str
    orders_url: str
    signals_dlq: str
    orders_dlq: str

    @classmethod
    def create(cls, servers: Servers, *, visibility_timeout: int = 2, **env: str) -> Stack:
        os.environ.update(FAKE_AWS)
        made = provision(servers.aws_url, visibility_timeout=visibility_timeout, prefix="c")
        full = {
            **made.env,
            "MARKET_DATA_URL": servers.exchange_url,
            "MONGODB_URL": servers.mongo_url,
            # The Binance adapter against the local exchange: real signatures, timestamps, error codes.
            "SIMULATION_ENABLED": "false",
            "BINANCE_BASE_URL": servers.exchange_url,
            "BINANCE_API_KEY": EXCHANGE_KEY,
            "BINANCE_API_SECRET": EXCHANGE_SECRET,
            "BINANCE_TIMEOUT_SECONDS": "5",
            "JWT_SECRET_KEY": JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines on stdout would drown the FAULT lines
            **env,
        }
        q = made.queues
        return cls(servers, full, made.sqs, made.ddb, q.signals, q.orders, q.signals_dlq, q.orders_dlq)

    def use(self) -> None:
        """This stack's environment, and nothing another scenario's stack set (UNPROTECTED_POSITION_ACTION of
        one scenario must not leak into the next)."""
        from tradeengine.config import get_settings

        for stale in _APPLIED - set(self.env):
            os.environ.pop(stale, None)
        os.environ.update(self.env)
        _APPLIED.clear()
        _APPLIED.update(self.env)
        get_settings.cache_clear()

    def load(self, name: str) -> ModuleType:
        """functions/<name>/app.py, imported afresh as a Lambda cold start does (settings read now)."""
        self.use()
        return load_function(name, prefix="chaos")

    def deps(self) -> Any:
        from tradeengine.pipeline.deps import build_deps

        self.use()
        return build_deps()


# -- signals and the API ------------------------------------------------------------------------------


def signal(signal_id: str, i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid market buy at the dynamic minimum: the engine must place exactly one order for it.

    Priced at the local exchange's starting price of its symbol: a market signal further than 5 % from the
    market is refused PRICE_OUT_OF_BAND (MAX_SIGNAL_PRICE_DEVIATION_PCT)."""
    from local.exchange.prices import DEFAULT_PRICES

    symbol = str(overrides.get("symbol", SYMBOLS[i % len(SYMBOLS)]))
    body: dict[str, Any] = {
        "strategy_id": "chaos",
        "symbol": symbol,
        "action": "buy",
        "price": DEFAULT_PRICES[symbol],
        "quantity": 0.0,
        "confidence": 0.9,
        "timestamp": datetime.now(UTC).isoformat(),
        "meta": {"order_type": "market"},
        "signal_id": signal_id,
    }
    body.update(overrides)
    return body


def token() -> str:
    from tradeengine.api.tokens import mint

    return mint(JWT_SECRET, "chaos", ["signals:write", "orders:read"])


def api_event(body: dict[str, Any] | str, bearer: str) -> dict[str, Any]:
    event = copy.deepcopy(API_EVENT)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["headers"]["authorization"] = f"Bearer {bearer}"
    event["headers"]["content-length"] = str(len(event["body"]))
    return event


def post(api: ModuleType, body: dict[str, Any], bearer: str) -> tuple[int, dict[str, Any]]:
    if threading.current_thread() is not threading.main_thread():
        try:  # Mangum runs the app on the thread's event loop; a Lambda's main thread always has one
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())
    reply = api.handler(api_event(body, bearer), FakeContext())
    return int(reply["statusCode"]), json.loads(reply["body"])


# -- the event source mapping ---------------------------------------------------------------------------


def receive(sqs: Any, queue_url: str, max_messages: int = 10, wait_s: int = 0) -> dict[str, Any]:
    """Receive from the real queue and shape the records as Lambda's SQS event source does."""
    return sqs_event(sqs, queue_url, max_messages, wait_s)


def settle(sqs: Any, queue_url: str, event: dict[str, Any], reply: dict[str, Any] | None) -> int:
    """Delete what the handler did not report as failed; ``reply`` None (the handler died) deletes nothing."""
    if reply is None:
        return 0
    failed = {f["itemIdentifier"] for f in reply.get("batchItemFailures", [])}
    done = [r for r in event["Records"] if r["messageId"] not in failed]
    for i in range(0, len(done), 10):
        entries = [{"Id": str(k), "ReceiptHandle": r["receiptHandle"]} for k, r in enumerate(done[i : i + 10])]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return len(done)


def invoke(fn: ModuleType, event: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any] | None:
    """One Lambda invocation; an invocation that dies answers None (Lambda then deletes nothing)."""
    try:
        reply: dict[str, Any] = fn.handler(event, context or FakeContext())
        return reply
    except BaseException as exc:  # a crash drill (see Crash) or a real failure: the batch comes back
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None


class Crash(BaseException):
    """Raised by a fault wrapper to stand for the process dying mid-work: nothing in the engine catches it."""


def pump_once(stack: Stack, fns: dict[str, ModuleType], stage: str) -> int:
    url = stack.signals_url if stage == "sizing" else stack.orders_url
    event = receive(stack.sqs, url)
    if not event["Records"]:
        return 0
    settle(stack.sqs, url, event, invoke(fns[stage], event))
    return len(event["Records"])


def run_pipeline(
    stack: Stack,
    fns: dict[str, ModuleType],
    expected: Iterable[str],
    timeout_s: float = 60.0,
    between: Callable[[], None] | None = None,
) -> None:
    """Pump sizing and execution until every expected signal has left the in-flight states (or time is up)."""
    wanted = set(expected)
    deadline = time.monotonic() + timeout_s
    deps = stack.deps()
    while time.monotonic() < deadline:
        moved = pump_once(stack, fns, "sizing") + pump_once(stack, fns, "execution")
        if between is not None:
            between()
        if moved:
            continue
        pending = [s for s in wanted if (r := deps.store.get(s)) is None or r.state.value in IN_FLIGHT]
        if not pending:
            return
        wanted = set(pending)
        time.sleep(0.3)


def functions(stack: Stack, names: Iterable[str] = ("api", "sizing", "execution", "monitor")) -> dict[str, ModuleType]:
    return {name: stack.load(name) for name in names}


# -- the tally -----------------------------------------------------------------------------------------


@dataclass
class Tally:
    signals: int
    orders: int
    lost: int
    duplicates: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and not self.problems

    def line(self, name: str) -> str:
        verdict = "ok" if self.ok else "FAILED"
        counts = f"signals={self.signals} orders={self.orders} lost={self.lost} duplicates={self.duplicates}"
        return f"FAULT {name}: {counts} {verdict}"


def exchange_orders(servers: Servers) -> Counter[str]:
    """Orders in the exchange's book, by client order id: the truth about what was placed."""
    book = servers.admin("state")["book"]
    return Counter(str(o.get("client_order_id") or o.get("clientOrderId")) for o in book["orders"])


def book_problems(stack: Stack, deps: Any, signal_ids: Iterable[str]) -> list[str]:
    """The strategy book against the exchange's own book: every signal's order booked exactly, each fill once
    (the ledger's entry fills of a signal sum to what the exchange says its order executed)."""
    from decimal import Decimal

    from tradeengine.sizing_base import client_order_id

    executed = {
        str(o.get("client_order_id")): Decimal(str(o.get("executed_qty", "0")))
        for o in stack.servers.admin("state")["book"]["orders"]
    }
    problems = []
    ledgers: dict[tuple[str, str], list[Any]] = {}
    for sid in signal_ids:
        record = deps.store.get(sid)
        if record is None:
            continue
        key = (record.strategy_id, record.symbol)
        if key not in ledgers:
            ledgers[key] = deps.ledger.fills(*key)
        cid = client_order_id(sid)
        booked = sum((f.qty for f in ledgers[key] if f.client_order_id == cid), Decimal(0))
        want = executed.get(cid, Decimal(0))
        if booked != want:
            problems.append(f"{sid}: the book holds {booked} of its order's {want} executed")
    return problems


def tally(stack: Stack, fns: dict[str, ModuleType], signal_ids: Iterable[str], audit: bool = True) -> Tally:
    """Run the monitor once, then count: every accepted signal needs exactly one order and a known fate."""
    from tradeengine.sizing_base import client_order_id

    ids = sorted(set(signal_ids))
    invoke(fns["monitor"], {"source": "aws.events", "detail-type": "Scheduled Event"})
    placed = exchange_orders(stack.servers)
    deps = stack.deps()
    lost, duplicates, problems = 0, 0, []
    orders = 0
    for sid in ids:
        n = placed.get(client_order_id(sid), 0)
        orders += n
        record = deps.store.get(sid)
        state = record.state.value if record else "MISSING"
        if n == 0 or state in IN_FLIGHT or state == "MISSING":
            lost += 1
            problems.append(f"{sid}: state={state} orders={n}")
        duplicates += max(0, n - 1)
        if audit and record is not None:
            stored = len(deps.audit.events(sid))
            if stored != len(record.history):
                problems.append(f"{sid}: audit has {stored} of {len(record.history)} steps")
    problems += book_problems(stack, deps, ids)
    for url in (stack.signals_dlq, stack.orders_dlq):
        left = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(left["Attributes"]["ApproximateNumberOfMessages"]):
            problems.append(f"{url.rsplit('/', 1)[-1]} is not empty")
    return Tally(len(ids), orders, lost, duplicates, problems)
