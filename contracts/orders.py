"""Exchange-ready orders: what the engine will send, in Binance's own parameter names."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.money import Money, plain


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class BinanceOrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"

    @property
    def is_market(self) -> bool:
        """Fills at market when it executes (so MARKET_LOT_SIZE and market notional rules apply)."""
        return self in (BinanceOrderType.MARKET, BinanceOrderType.STOP_LOSS, BinanceOrderType.TAKE_PROFIT)

    @property
    def needs_price(self) -> bool:
        return self in (
            BinanceOrderType.LIMIT,
            BinanceOrderType.LIMIT_MAKER,
            BinanceOrderType.STOP_LOSS_LIMIT,
            BinanceOrderType.TAKE_PROFIT_LIMIT,
        )

    @property
    def needs_stop_price(self) -> bool:
        return self in (
            BinanceOrderType.STOP_LOSS,
            BinanceOrderType.STOP_LOSS_LIMIT,
            BinanceOrderType.TAKE_PROFIT,
            BinanceOrderType.TAKE_PROFIT_LIMIT,
        )

    @property
    def needs_time_in_force(self) -> bool:
        return self in (
            BinanceOrderType.LIMIT,
            BinanceOrderType.STOP_LOSS_LIMIT,
            BinanceOrderType.TAKE_PROFIT_LIMIT,
        )


class OrderRequest(BaseModel):
    """One spot order. Exactly one of ``quantity`` / ``quote_order_qty`` is set."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    side: Side
    type: BinanceOrderType
    quantity: Money | None = None
    quote_order_qty: Money | None = None
    price: Money | None = None
    stop_price: Money | None = None
    time_in_force: Literal["GTC", "IOC", "FOK"] | None = None
    # A trailing stop's delta in bips (STOP_LOSS / TAKE_PROFIT kinds; stopPrice then optional, the activation price).
    trailing_delta: int | None = None
    new_client_order_id: str

    def to_binance(self) -> dict[str, str]:
        """The REST parameters, named and formatted as Binance expects them."""
        params: dict[str, str] = {"symbol": self.symbol, "side": self.side.value, "type": self.type.value}
        optional: dict[str, Decimal | str | None] = {
            "quantity": self.quantity,
            "quoteOrderQty": self.quote_order_qty,
            "price": self.price,
            "stopPrice": self.stop_price,
            "timeInForce": self.time_in_force,
            "trailingDelta": str(self.trailing_delta) if self.trailing_delta is not None else None,
        }
        for key, value in optional.items():
            if value is not None:
                params[key] = plain(value) if isinstance(value, Decimal) else value
        params["newClientOrderId"] = self.new_client_order_id
        return params


class BracketKind(StrEnum):
    OCO = "OCO"  # stop-loss and take-profit, one cancels the other
    STOP_LOSS = "STOP_LOSS"  # stop-loss only
    TAKE_PROFIT = "TAKE_PROFIT"  # take-profit only


class BracketPlacement(StrEnum):
    AFTER_FILL = "after_fill"  # market entry: placed once the fill (and its commission) is known
    WITH_ENTRY = "with_entry"  # limit entry: one order list (OTOCO / OTO) with the entry


class _Exits(BaseModel):
    """What every kind of exit has. Exit orders protecting an entry; legs are checked against the symbol's filters.

    ``Brackets`` is one of its kinds, told apart by ``kind`` (a discriminated union): an OCO has both legs, a
    STOP_LOSS only its stop, a TAKE_PROFIT only its take-profit, so code that holds one knows which legs it has."""

    model_config = ConfigDict(frozen=True)

    kind: BracketKind
    placement: BracketPlacement
    side: Side
    quantity: Money | None  # None: sized on the quantity actually received (quoteOrderQty entries)
    stop_loss: OrderRequest | None = None
    take_profit: OrderRequest | None = None
    list_client_order_id: str
    # A take-profit ladder: this pair is its first level, ``more`` the others (each its own OCO, the same stop).
    share: Money | None = None  # the part of the position this pair sells (None: all of it)
    more: tuple[OcoBrackets, ...] = ()

    @property
    def legs(self) -> list[OrderRequest]:
        return [leg for leg in (self.stop_loss, self.take_profit) if leg is not None]

    @property
    def pairs(self) -> tuple[_Exits, ...]:
        """Every exit pair: this one, then the ladder's other levels."""
        return (self, *self.more)

    @property
    def all_legs(self) -> list[OrderRequest]:
        return [leg for pair in self.pairs for leg in pair.legs]

    @property
    def total_quantity(self) -> Decimal | None:
        if self.quantity is None:
            return None
        return sum((p.quantity for p in self.pairs if p.quantity is not None), Decimal(0))

    def to_binance(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind.value,
            "placement": self.placement.value,
            "side": self.side.value,
            "quantity": plain(self.quantity) if self.quantity is not None else None,
            "listClientOrderId": self.list_client_order_id,
        }
        if self.stop_loss is not None:
            out["stopLoss"] = self.stop_loss.to_binance()
        if self.take_profit is not None:
            out["takeProfit"] = self.take_profit.to_binance()
        if self.more:
            out["share"] = plain(self.share) if self.share is not None else None
            out["levels"] = [pair.to_binance() for pair in self.more]
        return out


class OcoBrackets(_Exits):
    """Stop-loss and take-profit, one cancelling the other; a ladder's levels are OCOs too."""

    kind: Literal[BracketKind.OCO] = BracketKind.OCO
    stop_loss: OrderRequest
    take_profit: OrderRequest

    @model_validator(mode="after")
    def _priced_take_profit(self) -> OcoBrackets:
        if self.take_profit.price is None:
            raise ValueError("an OCO's take-profit is a limit order and needs its price")
        return self

    @property
    def pairs(self) -> tuple[OcoBrackets, ...]:
        return (self, *self.more)

    @property
    def take_profit_price(self) -> Decimal:
        """The take-profit's limit price (set: checked when the pair is made)."""
        price = self.take_profit.price
        if price is None:  # only a copy made without validation can get here (model_copy)
            raise ValueError(f"OCO {self.list_client_order_id} has a take-profit without a price")
        return price


class StopLossBracket(_Exits):
    """A stop-loss only."""

    kind: Literal[BracketKind.STOP_LOSS] = BracketKind.STOP_LOSS
    stop_loss: OrderRequest
    take_profit: None = None

    @property
    def leg(self) -> OrderRequest:
        return self.stop_loss


class TakeProfitBracket(_Exits):
    """A take-profit only."""

    kind: Literal[BracketKind.TAKE_PROFIT] = BracketKind.TAKE_PROFIT
    stop_loss: None = None
    take_profit: OrderRequest

    @property
    def leg(self) -> OrderRequest:
        return self.take_profit


Brackets = Annotated[OcoBrackets | StopLossBracket | TakeProfitBracket, Field(discriminator="kind")]
OneLeg = StopLossBracket | TakeProfitBracket


class WorkingOrder(BaseModel):
    """An order of another signal that a close cancels before it sells (its exits lock the balance)."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    client_order_id: str


class OrderPlan(BaseModel):
    """An accepted signal: the entry order, its brackets, and the figures behind the sizing."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    order: OrderRequest
    brackets: Brackets | None = None
    reference_price: Money
    notional: Money
    min_quantity: Money
    sizing: str  # how the quantity was chosen: explicit, dynamic_minimum, raised_to_minimum, ...
    notes: tuple[str, ...] = ()
    # A close: the strategy's working orders on the symbol, canceled before the sell (exits, open entries).
    cancel_first: tuple[WorkingOrder, ...] = ()


class Hold(BaseModel):
    """A ``hold`` signal: recorded, nothing sent."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    reason: str = "hold: the strategy asked for no order"
