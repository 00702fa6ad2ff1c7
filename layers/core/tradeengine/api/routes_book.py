"""The strategy book over HTTP: positions, trades (the fill ledger), performance, the signal list, flatten.

Amounts are decimal strings, never floats. Lists page with ``limit`` and an opaque ``cursor`` (the
``next_cursor`` of the previous page; absent on the last page).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.money import plain
from contracts.status import SignalState
from tradeengine.api.auth import may_act_for, require
from tradeengine.api.context import get_deps
from tradeengine.api.encode import record_json
from tradeengine.api.errors import ApiError
from tradeengine.api.schemas import ERROR_RESPONSES
from tradeengine.api.tokens import Principal, Scope
from tradeengine.book import Performance, Position, performance, replay
from tradeengine.exchange.base import ExchangeError
from tradeengine.pipeline.booking import fill_json, position_json, protected_by
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.flatten import flatten as flatten_positions
from tradeengine.pipeline.ports import SignalQuery

router = APIRouter(tags=["book"])

NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$"
SYMBOL = r"^[A-Z0-9]{2,20}$"
StrategyQ = Annotated[str | None, Query(pattern=NAME, description="only this strategy")]
SymbolQ = Annotated[str | None, Query(pattern=SYMBOL, description="only this symbol")]
SinceQ = Annotated[datetime | None, Query(description="ISO-8601 time: only what happened at or after it")]
LimitQ = Annotated[int, Query(ge=1, le=500, description="page size")]
CursorQ = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


def _page(items: Sequence[tuple[str, Any]], limit: int, cursor: str | None, name: str) -> dict[str, Any]:
    """``items`` as (sort key, value), already sorted: the page after ``cursor`` and the next cursor."""
    after = _decode(cursor)
    rest = [(k, v) for k, v in items if after is None or k > after]
    page = rest[:limit]
    out: dict[str, Any] = {name: [v for _, v in page]}
    if len(rest) > limit:
        out["next_cursor"] = _encode(page[-1][0])
    return out


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor: not a cursor this API gave out (use next_cursor)") from exc


def _ms(at: datetime | None) -> int | None:
    if at is None:
        return None
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


def _marks(symbols: set[str], deps: Deps) -> dict[str, Decimal | None]:
    marks: dict[str, Decimal | None] = {}
    for symbol in sorted(symbols):
        try:
            marks[symbol] = deps.exchange.ticker_price(symbol)
        except ExchangeError:
            marks[symbol] = None  # the position still shows; its unrealized PnL is unknown
    return marks


def _positions(deps: Deps, who: Principal, strategy_id: str | None, symbol: str | None) -> list[Position]:
    """The positions ``who`` may see (a token limited to some strategies sees only theirs)."""
    return [
        p
        for p in deps.ledger.positions(strategy_id)
        if (symbol is None or p.symbol == symbol) and may_act_for(who, p.strategy_id)
    ]


@router.get("/positions", responses=ERROR_RESPONSES, summary="Positions per strategy and symbol, with PnL")
def get_positions(
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
    strategy_id: StrategyQ = None,
    symbol: SymbolQ = None,
    include_closed: Annotated[
        bool | None, Query(description="closed positions too (default: yes when a strategy or symbol is named)")
    ] = None,
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> JSONResponse:
    closed_too = include_closed if include_closed is not None else (strategy_id is not None or symbol is not None)
    found = [p for p in _positions(deps, who, strategy_id, symbol) if closed_too or p.is_open]
    marks = _marks({p.symbol for p in found if p.is_open}, deps)
    exits = protected_by(deps) if found else {}
    rows = []
    for p in sorted(found, key=lambda p: (p.strategy_id, p.symbol)):
        view = position_json(p, marks.get(p.symbol))
        view["protected_by"] = exits.get((p.strategy_id, p.symbol), [])
        rows.append((f"{p.strategy_id}#{p.symbol}", view))
    return JSONResponse(_page(rows, limit, cursor, "positions"))


@router.get("/trades", responses=ERROR_RESPONSES, summary="The fill ledger: every fill the engine booked")
def get_trades(
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
    strategy_id: StrategyQ = None,
    symbol: SymbolQ = None,
    since: SinceQ = None,
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> JSONResponse:
    since_ms = _ms(since)
    fills = [
        f
        for p in _positions(deps, who, strategy_id, symbol)
        for f in deps.ledger.fills(p.strategy_id, p.symbol)
        if since_ms is None or f.time_ms >= since_ms
    ]
    fills.sort(key=lambda f: (f.time_ms, f.strategy_id, f.symbol, f.key))
    rows = [(f"{f.time_ms:020d}#{f.strategy_id}#{f.symbol}#{f.key}", fill_json(f)) for f in fills]
    return JSONResponse(_page(rows, limit, cursor, "trades"))


def _performance_json(perf: Performance) -> dict[str, Any]:
    return {
        "trades": perf.trades,
        "wins": perf.wins,
        "losses": perf.losses,
        "realized_pnl": plain(perf.realized_pnl),
        "fees": plain(perf.fees),
        "best_trade": plain(perf.best) if perf.best is not None else None,
        "worst_trade": plain(perf.worst) if perf.worst is not None else None,
        "max_drawdown": plain(perf.max_drawdown),
    }


@router.get(
    "/strategies/{strategy_id}/performance",
    responses=ERROR_RESPONSES,
    summary="Round trips closed, wins, losses, realized PnL, fees, best and worst trade, max drawdown",
)
def get_performance(
    strategy_id: Annotated[str, Path(pattern=NAME)],
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
    since: SinceQ = None,
) -> JSONResponse:
    if not may_act_for(who, strategy_id):  # another strategy's book: as if it had none
        raise ApiError(404, "strategy_not_found", f"no book for strategy {strategy_id} that this token may read")
    since_ms = _ms(since)
    replays = []
    for p in _positions(deps, who, strategy_id, None):
        rules = deps.rules.get(p.symbol) if deps.rules is not None else None
        step = rules.lot_size.step_size if rules is not None and rules.lot_size is not None else Decimal(0)
        replays.append((p, replay(deps.ledger.fills(strategy_id, p.symbol), step)))
    quotes = sorted({p.quote_asset for p, _ in replays})
    by_quote = {q: performance([r for p, r in replays if p.quote_asset == q], since_ms) for q in quotes}
    body: dict[str, Any] = {
        "strategy_id": strategy_id,
        "since": since.isoformat() if since else None,
        "trades": sum(x.trades for x in by_quote.values()),
        "wins": sum(x.wins for x in by_quote.values()),
        "losses": sum(x.losses for x in by_quote.values()),
        "by_quote_asset": {q: _performance_json(x) for q, x in by_quote.items()},
        "symbols": {
            p.symbol: {"quote_asset": p.quote_asset, **_performance_json(performance([r], since_ms))}
            for p, r in sorted(replays, key=lambda pr: pr[0].symbol)
        },
    }
    if len(quotes) == 1:  # the usual case: one quote asset, so the amounts add up at the top level too
        body["quote_asset"] = quotes[0]
        body |= {k: v for k, v in _performance_json(by_quote[quotes[0]]).items() if k not in body}
    return JSONResponse(body)


@router.get("/signals", responses=ERROR_RESPONSES, summary="Signals with their state (the list view)")
def list_signals(
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
    strategy_id: StrategyQ = None,
    symbol: SymbolQ = None,
    state: Annotated[SignalState | None, Query(description="only signals in this state")] = None,
    since: SinceQ = None,
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> JSONResponse:
    query = SignalQuery(strategy_id, symbol, state.value if state else None, since)
    after = _decode(cursor)
    records = deps.store.list_signals(query, limit + 1, after)
    shown = [_summary(r) for r in records[:limit] if may_act_for(who, r.strategy_id)]
    out: dict[str, Any] = {"signals": shown}
    if len(records) > limit:
        out["next_cursor"] = _encode(records[limit - 1].signal_id)
    return JSONResponse(out)


def _summary(record: Any) -> dict[str, Any]:
    full = record_json(record)
    return {k: full[k] for k in full if k != "history"}


class FlattenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy_id: str | None = Field(default=None, pattern=NAME)
    symbol: str | None = Field(default=None, pattern=SYMBOL)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/positions/flatten",
    responses=ERROR_RESPONSES,
    status_code=202,
    summary="Cancel the working orders of these positions, then sell what they hold at market (admin)",
)
async def flatten(
    request: Request,
    change: FlattenRequest,
    who: Annotated[Principal, Depends(require(Scope.ADMIN))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(_flatten, change, who, deps, request), status_code=202)


def _flatten(change: FlattenRequest, who: Principal, deps: Deps, request: Request) -> dict[str, Any]:
    """One close signal per (strategy, symbol) (tradeengine.pipeline.flatten), answered per position."""
    done = flatten_positions(deps, change.strategy_id, change.symbol, change.reason, who.subject)
    root = request.scope.get("root_path", "")
    for line in done:
        line["status_url"] = f"{root}/signals/{line['signal_id']}"
    return {"reason": change.reason, "by": who.subject, "positions": done}
