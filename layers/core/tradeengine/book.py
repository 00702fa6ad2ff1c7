"""The strategy book's arithmetic (pure: no I/O): positions, realized PnL and performance from fills.

The rules, which the README's "The strategy book" repeats for traders:
- Spot, long only. Buys raise a (strategy, symbol) position, sells reduce it; the average entry price is
  the average price paid for what is held (average cost).
- A sell realizes ``qty × (price − average entry price)``. Every fee is realized when it is paid, in the
  quote asset: a commission in the quote as charged; in the base asset at the fill's own price; in any
  other asset (BNB) at that asset's price in the quote recorded with the fill when it was booked. A buy's
  commission taken in the base asset also lowers the quantity held (Binance delivers that much less).
- Fills are replayed in exchange order (time, then trade id), whatever order they were learned in, so a
  position rebuilt after a restart or from fills that arrived out of order is the same.
- What is left below the symbol's lot step cannot be sold on the venue: it is the position's ``dust``,
  the position counts as closed (quantity 0), and the dust carries over into the next entry.
- A round trip ("trade") opens when a closed position is bought into and closes when it is closed again;
  its PnL is everything realized in between (entry and exit fees included). Wins are round trips with
  a PnL above zero.
- A sell larger than the book's quantity (allowed only for balances the book does not know) reduces the
  position to zero; the excess is reported as ``untracked_sold`` and realizes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BookFill:
    """One fill in the ledger: the venue's trade, which signal's order it belongs to, and its fee."""

    venue: str
    trade_id: int
    order_id: int
    client_order_id: str
    signal_id: str
    strategy_id: str
    symbol: str
    base_asset: str
    quote_asset: str
    side: str  # BUY | SELL
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    commission_quote: Decimal | None  # the commission in the quote asset, converted when booked; None: unknown
    time_ms: int
    role: str = "entry"  # entry | exit | close

    @property
    def key(self) -> str:
        """Unique per fill of one order: the same trade may be both sides of a self-trade."""
        return f"{self.venue}#{self.trade_id:020d}#{self.order_id}"

    @property
    def order_key(self) -> tuple[int, int, int]:
        return (self.time_ms, self.trade_id, self.order_id)


def commission_in_quote(
    commission: Decimal, asset: str, price: Decimal, base: str, quote: str, rate: Decimal | None
) -> Decimal | None:
    """A commission in the quote asset: as is, at the fill's price (base), or at ``rate`` (anything else)."""
    if commission == 0 or asset == quote:
        return commission
    if asset == base:
        return commission * price
    return None if rate is None else commission * rate


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A position opened from flat and closed again."""

    symbol: str
    opened_ms: int
    closed_ms: int
    quantity: Decimal  # the most it held
    pnl: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class Position:
    strategy_id: str
    symbol: str
    base_asset: str
    quote_asset: str
    quantity: Decimal  # 0 when closed (below the lot step)
    dust: Decimal  # held, but below the lot step: cannot be sold on its own
    average_entry_price: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    fees_unknown: int  # fills whose fee could not be converted to the quote asset (not in ``fees``)
    untracked_sold: Decimal
    fills: int
    opened_ms: int | None  # when the current round trip opened (None: closed)
    updated_ms: int

    @property
    def is_open(self) -> bool:
        return self.quantity > 0

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal | None:
        if mark is None or self.average_entry_price is None:
            return None if self.quantity > 0 else ZERO
        return self.quantity * (mark - self.average_entry_price)


@dataclass
class Replay:
    """Everything a position's fills say, in exchange order."""

    position: Position
    trips: list[RoundTrip] = field(default_factory=list)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)  # (time, cumulative realized) per fill


def replay(fills: Iterable[BookFill], step: Decimal) -> Replay:
    """Replay one (strategy, symbol) ledger. ``step``: the lot step below which a holding is dust."""
    ordered = sorted(fills, key=lambda f: f.order_key)
    held = cost = realized = fees = untracked = ZERO
    unknown = 0
    opened: int | None = None
    trip_start_pnl = trip_start_fees = peak = ZERO
    trips: list[RoundTrip] = []
    equity: list[tuple[int, Decimal]] = []
    first = ordered[0] if ordered else None
    for f in ordered:
        fee = f.commission_quote
        if fee is None:
            unknown += 1
            fee = ZERO
        was_open = held >= step and held > 0
        if f.side == "BUY":
            received = f.qty - (f.commission if f.commission_asset == f.base_asset else ZERO)
            cost += f.price * received
            held += received
        else:
            sold = f.qty + (f.commission if f.commission_asset == f.base_asset else ZERO)
            if f.commission_asset == f.base_asset:
                fee = ZERO  # a base-asset commission on a sell is disposed of below, at the average cost
            average = cost / held if held > 0 else ZERO
            from_book = min(sold, held)
            untracked += sold - from_book
            sell_qty = min(f.qty, from_book)
            realized += sell_qty * (f.price - average)
            base_fee = from_book - sell_qty
            if base_fee > 0:
                fee += base_fee * average
            cost -= from_book * average
            held -= from_book
        fees += fee
        realized -= fee
        now_open = held >= step and held > 0
        if now_open and not was_open:
            # the trip starts before this fill's fee: the opening buy's fee belongs to the trip
            opened, trip_start_pnl, trip_start_fees, peak = f.time_ms, realized + fee, fees - fee, held
        if now_open:
            peak = max(peak, held)
        if was_open and not now_open and opened is not None:
            trips.append(
                RoundTrip(f.symbol, opened, f.time_ms, peak, realized - trip_start_pnl, fees - trip_start_fees)
            )
            opened = None
        equity.append((f.time_ms, realized))
    if held <= 0:
        cost = ZERO
    is_open = held >= step and held > 0
    position = Position(
        strategy_id=first.strategy_id if first else "",
        symbol=first.symbol if first else "",
        base_asset=first.base_asset if first else "",
        quote_asset=first.quote_asset if first else "",
        quantity=held if is_open else ZERO,
        dust=ZERO if is_open else max(held, ZERO),
        average_entry_price=(cost / held) if held > 0 else None,
        realized_pnl=realized,
        fees=fees,
        fees_unknown=unknown,
        untracked_sold=untracked,
        fills=len(ordered),
        opened_ms=opened if is_open else None,
        updated_ms=ordered[-1].time_ms if ordered else 0,
    )
    return Replay(position, trips, equity)


@dataclass(frozen=True, slots=True)
class Performance:
    """A strategy's closed round trips, per symbol and in all (amounts in each symbol's quote asset)."""

    trades: int
    wins: int
    losses: int
    realized_pnl: Decimal
    fees: Decimal
    best: Decimal | None
    worst: Decimal | None
    max_drawdown: Decimal  # largest fall of the cumulative realized PnL from its running peak, >= 0


def performance(replays: Sequence[Replay], since_ms: int | None = None) -> Performance:
    """Round trips closed at or after ``since_ms`` (all when None). ``realized_pnl`` is everything realized
    in that span (the fees of a position still open included); ``fees`` is every fee paid (since None) or
    the fees of the round trips counted. Amounts add up as they are: callers group by quote asset first."""
    trips = [t for r in replays for t in r.trips if since_ms is None or t.closed_ms >= since_ms]
    pnls = [t.pnl for t in trips]
    curve = sorted((point for r in replays for point in _increments(r.equity)), key=lambda p: p[0])
    total = peak = drawdown = ZERO
    realized = ZERO
    for at, change in curve:
        total += change
        if since_ms is None or at >= since_ms:
            realized += change
        peak = max(peak, total)
        drawdown = max(drawdown, peak - total)
    paid = (t.fees for t in trips) if since_ms is not None else (r.position.fees for r in replays)
    fees = sum(paid, ZERO)
    return Performance(
        trades=len(trips),
        wins=sum(1 for p in pnls if p > 0),
        losses=sum(1 for p in pnls if p <= 0),
        realized_pnl=realized,
        fees=fees,
        best=max(pnls) if pnls else None,
        worst=min(pnls) if pnls else None,
        max_drawdown=drawdown,
    )


def _increments(equity: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    out, last = [], ZERO
    for at, value in equity:
        out.append((at, value - last))
        last = value
    return out
