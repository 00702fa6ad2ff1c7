"""One Settings model for every environment variable the engine reads (validated once, at start)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradeengine.engine import Policy
from tradeengine.protections import ProtectionLimits
from tradeengine.risk import RiskLimits, TradingState
from tradeengine.sizing import SizingConfig


class Settings(BaseSettings):
    """The seed's variables keep their names and defaults; the engine's own limits sit beside them."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Seed-compatible
    simulation_enabled: bool = True
    binance_testnet: bool = True
    binance_api_key: SecretStr | None = None
    binance_api_secret: SecretStr | None = None
    environment: str = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    mongodb_url: SecretStr | None = None
    mongodb_database: str = "petrosa"
    nats_servers: str = "nats://127.0.0.1:4222"
    nats_signal_subject: str = "signals.trading"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret_key: SecretStr | None = None
    jwt_max_lifetime_seconds: int = Field(default=7 * 24 * 3600, gt=0)  # a token living longer (exp - iat) is refused
    # Quotas (pipeline.quotas), off when unset: API requests per token subject a minute (then 429), and signals
    # that would trade per strategy a minute (then REJECTED STRATEGY_RATE_LIMITED, HTTP and NATS alike).
    api_rate_limit_per_minute: int | None = Field(default=None, gt=0)
    strategy_orders_per_minute: int | None = Field(default=None, gt=0)
    # POST /webhooks/{hook_id}: wrong passphrases one source address may send in a minute before it gets 429.
    webhook_auth_failures_per_minute: int = Field(default=10, gt=0)
    # Secrets Manager names/ARNs read at cold start (stores.secrets.resolve_settings) when the plain value
    # above is unset: on AWS only the name sits in the Lambda environment, never the value.
    jwt_secret_id: str | None = None  # SecretString = the HS256 key (plain text)
    mongodb_url_secret_id: str | None = None  # SecretString = the MongoDB URL (plain text)

    # Risk and sizing
    min_confidence: Decimal = Field(default=Decimal("0.6"), ge=0, le=1)
    max_signal_age_seconds: int = Field(default=300, gt=0)
    max_clock_skew_seconds: int = Field(default=30, ge=0)
    symbol_allowlist: Annotated[frozenset[str] | None, NoDecode] = None
    max_order_notional: Decimal | None = Field(default=None, gt=0)
    max_position_size_pct: Decimal = Field(default=Decimal(100), gt=0, le=100)
    max_signal_price_deviation_pct: Decimal = Field(default=Decimal(5), ge=0)  # 0: no fat-finger guard
    market_order_margin_pct: Decimal = Field(default=Decimal("1"), ge=0, lt=50)
    trading_fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    commission_in_base_on_buy: bool = True
    trading_state: TradingState = TradingState.ACTIVE
    exchange_info_ttl_seconds: int = Field(default=3600, gt=0)
    # How much older than the TTL cached rules may be and still serve while exchangeInfo fails (0: never).
    exchange_info_max_stale_seconds: int = Field(default=86_400, ge=0)

    @field_validator("symbol_allowlist", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            symbols = frozenset(s.strip().upper() for s in value.split(",") if s.strip())
            return symbols or None
        return value

    @property
    def mode(self) -> Literal["simulation", "testnet", "mainnet"]:
        if self.simulation_enabled:
            return "simulation"
        return "testnet" if self.binance_testnet else "mainnet"

    def policy(self, state: TradingState | None = None) -> Policy:
        return Policy(
            limits=RiskLimits(
                min_confidence=self.min_confidence,
                max_signal_age_seconds=self.max_signal_age_seconds,
                max_clock_skew_seconds=self.max_clock_skew_seconds,
                symbol_allowlist=self.symbol_allowlist,
                max_order_notional=self.max_order_notional,
                max_position_size_pct=self.max_position_size_pct,
                max_signal_price_deviation_pct=self.max_signal_price_deviation_pct,
                live=self.mode == "mainnet",
            ),
            sizing=SizingConfig(
                market_margin_pct=self.market_order_margin_pct,
                fee_rate=self.trading_fee_rate,
                commission_in_base_on_buy=self.commission_in_base_on_buy,
            ),
            state=state or self.trading_state,
        )

    def protection_limits(self) -> ProtectionLimits:
        minutes = timedelta(minutes=1)
        return ProtectionLimits(
            max_daily_loss=self.max_daily_loss,
            max_drawdown=self.max_drawdown,
            max_daily_loss_account=self.max_daily_loss_account,
            max_drawdown_account=self.max_drawdown_account,
            stoploss_guard_trades=self.stoploss_guard_trades,
            stoploss_guard_window=self.stoploss_guard_window_minutes * minutes,
            stoploss_guard_cooldown=self.stoploss_guard_cooldown_minutes * minutes,
            stoploss_guard_per_symbol=self.stoploss_guard_per_symbol,
            cooldown_after_exit=self.cooldown_after_exit_minutes * minutes
            if self.cooldown_after_exit_minutes
            else None,
        )

    # Exchange adapters and stores
    binance_base_url: str | None = None  # e.g. http://127.0.0.1:8900 for the local exchange; wins over testnet
    binance_recv_window_ms: int = Field(default=5000, gt=0, le=60000)
    binance_timeout_seconds: float = Field(default=10.0, gt=0)
    binance_secret_id: str | None = None  # Secrets Manager ARN/name holding api_key / api_secret
    # The venue's limits (tradeengine.venue_budget): the share of each REQUEST_WEIGHT limit every instance
    # together spends, and of each ORDERS limit entries may use (exits, cancels and flattens may use all of it).
    venue_weight_share: Decimal = Field(default=Decimal("0.8"), gt=0, le=1)
    venue_order_share: Decimal = Field(default=Decimal("0.9"), gt=0, le=1)
    # How old the shared snapshots sizing reads may be (tradeengine.venue_cache; docs/DESIGN.md "Venue limits").
    ticker_max_age_seconds: float = Field(default=1.0, gt=0, le=10)
    avg_price_max_age_seconds: float = Field(default=10.0, gt=0, le=60)
    balance_max_age_seconds: float = Field(default=60.0, gt=0, le=3600)
    rules_table: str = "tradeengine-exchange-rules"
    paper_book_table: str = "tradeengine-paper-book"

    # Pipeline state and queues
    signals_table: str = "tradeengine-signals"
    counters_table: str = "tradeengine-counters"
    control_table: str = "tradeengine-control"
    book_table: str = "tradeengine-book"  # the strategy book: fills and positions
    # Sells larger than the strategy's position in the book: refused (spot is long-only), unless the account
    # held coins before the engine did and the strategy may sell them (the book then counts only its share).
    allow_untracked_sells: bool = False
    # A filled entry whose exits cannot stand (refused, unknown, unplaceable) after EXIT_PLACEMENT_ATTEMPTS
    # tries, EXIT_RETRY_SECONDS x 2^(n-1) apart (the monitor's runs): sell it at market, or only alert.
    unprotected_position_action: Literal["flatten", "alert"] = "flatten"
    exit_placement_attempts: int = Field(default=3, ge=1, le=20)
    exit_retry_seconds: int = Field(default=30, ge=0, le=3600)
    # Automatic protections (tradeengine.protections), each off until set; amounts in the quote asset.
    max_daily_loss: Decimal | None = Field(default=None, gt=0)  # per strategy, realized since 00:00 UTC
    max_drawdown: Decimal | None = Field(default=None, gt=0)  # per strategy, of the realized equity curve
    max_daily_loss_account: Decimal | None = Field(default=None, gt=0)
    max_drawdown_account: Decimal | None = Field(default=None, gt=0)
    stoploss_guard_trades: int | None = Field(default=None, ge=1)
    stoploss_guard_window_minutes: int = Field(default=60, gt=0)
    stoploss_guard_cooldown_minutes: int = Field(default=60, gt=0)
    stoploss_guard_per_symbol: bool = False
    cooldown_after_exit_minutes: int | None = Field(default=None, gt=0)
    # An account-wide protection that trips moves the trading state itself; HALTED may also flatten.
    protection_trading_state: Literal["REDUCING", "HALTED"] = "REDUCING"
    flatten_on_halt: bool = False
    signal_retention_days: int = Field(default=90, gt=0)  # TTL of a signal's record after its last change
    signals_queue_url: str | None = None  # SQS FIFO signals.fifo
    orders_queue_url: str | None = None  # SQS FIFO orders.fifo
    signals_dlq_url: str | None = None  # unreadable signal messages, with their reason
    # SNS FIFO topic of the execution events (contracts.events); unset: they go to the structured log
    execution_events_topic_arn: str | None = None
    orders_dlq_url: str | None = None  # unreadable order-plan messages, with their reason
    # The notifier (pipeline.notify): its queue (subscribed to the events topic), its DLQ, the first retry's
    # wait (doubled per delivery), and Telegram's bot API (the laptop stack points it at its local sink).
    notifications_queue_url: str | None = None
    notifications_dlq_url: str | None = None
    notify_retry_seconds: int = Field(default=30, ge=0, le=900)
    telegram_api_url: str = "https://api.telegram.org"

    # Audit trail in MongoDB
    audit_collection: str = "audit_events"
    audit_retention_days: int | None = Field(default=None, gt=0)  # None keeps events forever (TTL on `at`)

    # Wiring of the functions
    market_data_url: str = "https://api.binance.com"  # paper prices: Binance public REST, or the local exchange
    paper_starting_balances: str = "USDT=10000"  # ASSET=amount,... for a new paper book
    # The paper exchange's fill model (TRADING_FEE_RATE is what sizing assumes, this is what the paper charges).
    paper_fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)  # maker and taker
    paper_slippage_bps: Decimal = Field(default=Decimal(0), ge=0, lt=10000)  # market fills, against the trader
    # Depth: what one price level holds, in the quote asset (0: unlimited, every fill whole); levels
    # PAPER_LEVEL_BPS apart; a taker walks at most PAPER_BOOK_LEVELS, what is left of a market order expires.
    paper_top_of_book_qty: Decimal = Field(default=Decimal(0), ge=0)
    paper_level_bps: Decimal = Field(default=Decimal(1), ge=0, lt=10000)
    paper_book_levels: int = Field(default=100, ge=1, le=1000)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
