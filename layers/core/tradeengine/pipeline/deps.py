"""The composition root: which adapter serves each port. Built once per process (at import in a Lambda).

``memory_deps`` wires in-memory adapters and the paper exchange, for unit tests and dry runs;
``build_deps`` wires DynamoDB, SQS, MongoDB and the configured venue from Settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contracts.status import AuditEvent
from tradeengine.pipeline.events_out import EventsOut, LoggedPublisher, MemoryOutbox
from tradeengine.pipeline.ports import (
    AuditSink,
    Counters,
    Cursors,
    EventOutbox,
    EventPublisher,
    Ledger,
    PlanQueue,
    RulesSource,
    SignalQueue,
    SignalStateStore,
    TradingStateStore,
)
from tradeengine.pipeline.recorder import Recorder

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from contracts.orders import OrderRequest
    from tradeengine.config import Settings
    from tradeengine.exchange.base import (
        Balance,
        Exchange,
        ExchangeOrder,
        Fill,
        OcoRequest,
        OtocoRequest,
        PlaceOutcome,
    )
    from tradeengine.exchange.matching import MatchingConfig
    from tradeengine.exchange.paper import PaperExchange
    from tradeengine.hooks import AuthFailures, HookStore
    from tradeengine.pipeline.quotas import Windows
    from tradeengine.pipeline.sqs_batch import DeadLetters


@dataclass
class Deps:
    settings: Settings
    store: SignalStateStore
    signals: SignalQueue
    plans: PlanQueue
    audit: AuditSink
    counters: Counters
    trading_state: TradingStateStore
    cursors: Cursors  # the monitor's place in its walk over open orders
    dead_letters: DeadLetters  # unreadable signals.fifo messages, with their reason
    order_dead_letters: DeadLetters  # the same for orders.fifo
    exchange: Exchange
    rules: RulesSource
    ledger: Ledger  # the strategy book: fills and positions
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    windows: Windows | None = None  # the quota windows, shared by every instance; None: counted in-process
    hooks: HookStore | None = None  # the webhooks' secrets (control table); None: no webhook intake
    auth_failures: AuthFailures | None = None  # wrong webhook passphrases per source address and minute
    events: EventPublisher | None = None  # the execution events' bus; None: the structured log
    outbox: EventOutbox | None = None  # what the bus did not take, for the monitor; None: in this process only
    _events_out: EventsOut | None = field(default=None, init=False, repr=False)

    def recorder(self, stage: str) -> Recorder:
        return Recorder(
            self.store, self.audit, self.counters, self.settings.mode, stage, self.clock, events=self.events_out()
        )

    def events_out(self) -> EventsOut:
        """The process's best-effort publisher (pipeline.events_out), built once: its breaker is per process."""
        if self._events_out is None:
            self._events_out = EventsOut(
                self.events or LoggedPublisher(), self.outbox or MemoryOutbox(), self.counters, self.settings.mode
            )
        return self._events_out


def parse_balances(text: str) -> dict[str, Decimal]:
    """``USDT=10000,BTC=1`` → {"USDT": Decimal("10000"), "BTC": Decimal("1")}."""
    out: dict[str, Decimal] = {}
    for part in text.split(","):
        if part.strip():
            asset, _, amount = part.partition("=")
            out[asset.strip().upper()] = Decimal(amount.strip())
    return out


def build_exchange(settings: Settings) -> Exchange:
    """The venue: the paper exchange (SIMULATION_ENABLED=true, the default) or Binance testnet/mainnet."""
    if settings.simulation_enabled:
        return _LazyPaperExchange(settings)
    from tradeengine.exchange.binance import BinanceExchange

    return BinanceExchange.from_settings(settings)


def paper_matching_config(settings: Settings) -> MatchingConfig:
    """The paper exchange's fill model from PAPER_FEE_RATE, PAPER_SLIPPAGE_BPS and the PAPER_* depth settings."""
    from tradeengine.exchange.matching import MatchingConfig

    return MatchingConfig(
        maker_fee=settings.paper_fee_rate,
        taker_fee=settings.paper_fee_rate,
        slippage_bps=settings.paper_slippage_bps,
        # as sizing assumes it (COMMISSION_IN_BASE_ON_BUY), so the exits sized after a buy fit what it left
        buy_commission_in="base" if settings.commission_in_base_on_buy else "quote",
        top_of_book_qty=settings.paper_top_of_book_qty,
        level_bps=settings.paper_level_bps,
        book_levels=settings.paper_book_levels,
    )


class _LazyPaperExchange:
    """The paper exchange, built on first use: its exchangeInfo comes over the network from the market
    data venue, which must not happen at import (a Lambda cold start, a test collecting modules).

    Each method of the Exchange port is spelled out rather than forwarded by ``__getattr__``: mypy checks
    this class against the port, and a method the use-cases look for with ``getattr`` that the paper
    exchange does not have either (``admit``, ``prefetch_open_orders``, ``exact_balances``) is simply
    absent, without building the exchange to find that out."""

    name = "paper"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._real: PaperExchange | None = None

    def _paper(self) -> PaperExchange:
        if self._real is None:
            from tradeengine.exchange.market_data import RestMarketData
            from tradeengine.exchange.paper import PaperExchange
            from tradeengine.stores.paper_book_dynamodb import DynamoDBPaperBookStore

            market = RestMarketData(self._settings.market_data_url)
            info = market.exchange_info()
            self._real = PaperExchange(
                info,
                market,
                DynamoDBPaperBookStore.from_settings(self._settings),
                starting_balances=parse_balances(self._settings.paper_starting_balances),
                config=paper_matching_config(self._settings),
            )
        return self._real

    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        return self._paper().exchange_info(symbols)

    def ticker_price(self, symbol: str) -> Decimal:
        return self._paper().ticker_price(symbol)

    def average_price(self, symbol: str) -> Decimal:
        return self._paper().average_price(symbol)

    def balances(self) -> dict[str, Balance]:
        return self._paper().balances()

    def place_order(self, order: OrderRequest) -> PlaceOutcome:
        return self._paper().place_order(order)

    def place_oco(self, request: OcoRequest) -> PlaceOutcome:
        return self._paper().place_oco(request)

    def place_otoco(self, request: OtocoRequest) -> PlaceOutcome:
        return self._paper().place_otoco(request)

    def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder | None:
        return self._paper().get_order(symbol, order_id=order_id, client_order_id=client_order_id)

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> PlaceOutcome:
        return self._paper().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        return self._paper().open_orders(symbol)

    def recent_fills(self, symbol: str, limit: int = 50) -> list[Fill]:
        return self._paper().recent_fills(symbol, limit)

    def order_fills(self, symbol: str, order_id: int) -> list[Fill]:
        return self._paper().order_fills(symbol, order_id)


# Each function's composition root: the ports it wires. template.yaml grants each function the resources of
# these ports and no others (tests/infra/test_template.py holds the two together), so a port a function
# reaches without wiring it is a missing grant on AWS: here it is a NotWired error, which the integration,
# chaos and e2e tests (the real handlers) meet first, instead of an AccessDenied in production.
WIRING: dict[str, frozenset[str]] = {
    "api": frozenset({"store", "signals", "audit", "counters", "trading_state", "exchange", "rules", "ledger",
                      "windows", "hooks", "auth_failures"}),
    # signals: a protection that halts trading with FLATTEN_ON_HALT ingests one close per position
    "sizing": frozenset({"store", "signals", "plans", "audit", "counters", "trading_state", "dead_letters",
                         "exchange", "rules", "ledger", "windows"}),
    "execution": frozenset({"store", "audit", "counters", "order_dead_letters", "exchange", "rules", "ledger"}),
    # rules: booking a fill the monitor finds, and placing exits, read the symbol's filters
    "monitor": frozenset({"store", "audit", "counters", "cursors", "exchange", "rules", "ledger"}),
}  # fmt: skip


class NotWired(RuntimeError):
    """A function used a port its composition root does not wire (and its IAM role does not grant)."""


class _Unwired:
    def __init__(self, port: str, function: str) -> None:
        self._what = f"the {function} function does not wire {port} (pipeline/deps.WIRING), nor may it reach it"

    def __getattr__(self, name: str) -> Any:
        raise NotWired(f"{self._what}: {name} was asked for")

    def __bool__(self) -> bool:
        raise NotWired(self._what)


def build_deps(settings: Settings | None = None, *, batch_counters: bool = False, function: str | None = None) -> Deps:
    """Production wiring from Settings: DynamoDB, SQS, MongoDB and the configured venue.

    Clients are created here, once per process; none of them touches the network until first used.
    ``batch_counters``: sum counters in memory until ``deps.counters.flush()`` (the queue functions flush
    at the end of each invocation: a couple of writes per batch of messages, not per message).
    ``function``: one of ``WIRING``'s, whose ports only are built; the others are NotWired stand-ins.
    None (tools, tests): every port.
    """
    from tradeengine import logs
    from tradeengine.config import get_settings
    from tradeengine.metrics import EmittingCounters
    from tradeengine.stores import venue_budget
    from tradeengine.stores.book import DynamoDBLedger
    from tradeengine.stores.control import DynamoDBCursors, DynamoDBTradingState
    from tradeengine.stores.counters import BufferedCounters, DynamoDBCounters
    from tradeengine.stores.hooks import DynamoDBAuthFailures, DynamoDBHookStore
    from tradeengine.stores.queues import plan_queue, signal_queue
    from tradeengine.stores.quotas import DynamoDBWindows
    from tradeengine.stores.rules_cache import RulesCache
    from tradeengine.stores.secrets import resolve_settings
    from tradeengine.stores.signal_state import DynamoDBSignalStateStore

    # JWT_SECRET_ID / MONGODB_URL_SECRET_ID -> the values, read now (cold start) and before configure(), so
    # the log redactor knows them; the Lambda environment holds only the secrets' names.
    settings = resolve_settings(settings or get_settings())
    logs.configure(settings)
    shared = DynamoDBCounters.from_settings(settings)
    counters = EmittingCounters(BufferedCounters(shared) if batch_counters else shared)
    exchange = build_exchange(settings)
    rules = RulesCache.from_settings(settings, exchange)
    venue_budget.wire(settings, exchange, rules)  # Binance: one request and order budget for every instance
    makers: dict[str, Callable[[], Any]] = {
        "store": lambda: DynamoDBSignalStateStore.from_settings(settings),
        "signals": lambda: signal_queue(settings),
        "plans": lambda: plan_queue(settings),
        "audit": lambda: build_audit(settings),
        "counters": lambda: counters,
        "trading_state": lambda: DynamoDBTradingState.from_settings(settings),
        "cursors": lambda: DynamoDBCursors.from_settings(settings),
        "dead_letters": lambda: _dead_letters(settings.signals_dlq_url),
        "order_dead_letters": lambda: _dead_letters(settings.orders_dlq_url),
        "exchange": lambda: exchange,
        "rules": lambda: rules,
        "ledger": lambda: DynamoDBLedger.from_settings(settings),
        "windows": lambda: DynamoDBWindows.from_settings(settings),
        "hooks": lambda: DynamoDBHookStore.from_settings(settings),
        "auth_failures": lambda: DynamoDBAuthFailures.from_settings(settings),
    }
    wired = WIRING[function] if function is not None else frozenset(makers)

    def port(name: str) -> Any:
        return makers[name]() if name in wired else _Unwired(name, str(function))

    return Deps(
        settings=settings,
        store=port("store"),
        signals=port("signals"),
        plans=port("plans"),
        audit=port("audit"),
        counters=port("counters"),
        trading_state=port("trading_state"),
        cursors=port("cursors"),
        dead_letters=port("dead_letters"),
        order_dead_letters=port("order_dead_letters"),
        exchange=port("exchange"),
        rules=port("rules"),
        ledger=port("ledger"),
        windows=port("windows"),
        hooks=port("hooks"),
        auth_failures=port("auth_failures"),
        **build_events(settings),
    )


def build_events(settings: Settings) -> dict[str, Any]:
    """With EXECUTION_EVENTS_TOPIC_ARN: the SNS topic and the control table's outbox; else the log."""
    if not settings.execution_events_topic_arn:
        return {}
    from tradeengine.stores.events import DynamoDBEventOutbox, SnsEventPublisher

    return {
        "events": SnsEventPublisher(settings.execution_events_topic_arn),
        "outbox": DynamoDBEventOutbox.from_settings(settings),
    }


def build_audit(settings: Settings) -> AuditSink:
    if settings.mongodb_url is None:
        return _LoggedAudit()
    from tradeengine.stores.audit import MongoAuditSink

    return MongoAuditSink.from_settings(settings)


class _LoggedAudit:
    """Without MONGODB_URL the audit trail goes to the structured log (CloudWatch Logs on AWS)."""

    def record(self, events: Sequence[AuditEvent]) -> None:
        for event in events:
            log.info("audit %s", event.model_dump_json())

    def events(self, signal_id: str) -> Sequence[AuditEvent]:
        return []


def _dead_letters(url: str | None) -> DeadLetters:
    from tradeengine.stores.queues import SqsDeadLetters

    return SqsDeadLetters(url) if url else _LoggedDeadLetters()


class _LoggedDeadLetters:
    def send(self, body: str, reason: str) -> None:
        log.error("unreadable message (no dead-letter queue configured): %s", reason)
