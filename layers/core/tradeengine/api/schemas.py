"""Request and response shapes of the API, for validation and for the OpenAPI document (/docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tradeengine.risk import TradingState


class ErrorDetail(BaseModel):
    field: str | None = None
    rule: str | None = None
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="stable, machine-readable: validation_failed, unauthenticated, ...")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorInfo


class SignalAccepted(BaseModel):
    signal_id: str
    status: str = Field(description="the signal's state now: QUEUED, or later on a duplicate")
    status_url: str
    duplicate: bool = False


class SeedOutcome(BaseModel):
    """The ``result`` of the seed's answer: its own fields first, then this engine's detail."""

    status: str = Field(description="executed, open, partially_filled, hold, rejected, failed, canceled, expired")
    order_params: dict[str, Any] | None = Field(
        description="symbol, side (buy | sell), type (market | limit | stop | ...), time_in_force, quantity, price, "
        "stop_price as the seed named them; Binance's names for what the seed has none (quote_order_qty, "
        "new_client_order_id); null when no order was sized"
    )
    confidence: float | None = Field(description="the signal's confidence")
    reason: str = Field(description="what happened, as a sentence")
    state: str
    code: str | None = Field(default=None, description="the rejection or failure code")
    brackets: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None


class SeedResult(BaseModel):
    """The seed's synchronous answer (``?wait=``), once the signal settled."""

    status: str = Field(default="success", description='"success", or "rejected" / "failed" for a refused signal')
    signal_id: str
    duplicate: bool
    signal: dict[str, Any]
    result: SeedOutcome
    status_url: str


class TradingStateView(BaseModel):
    state: TradingState
    reason: str | None = Field(default=None, description="why it was set; null: never set, the default applies")
    set_by: str | None = Field(default=None, description="the token's subject that set it")
    set_at: datetime | None = Field(default=None, description="when it was set (UTC)")


class TradingStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    state: TradingState
    reason: str = Field(min_length=1, max_length=500, description="why: kept with the change")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no token, bad signature or expired"},
    403: {"model": ErrorBody, "description": "the token lacks the scope"},
    422: {"model": ErrorBody, "description": "the request names fields that break a rule"},
}
