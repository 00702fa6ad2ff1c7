"""GET|PUT /trading/state: ACTIVE, REDUCING (only sells and closes) or HALTED (nothing is sent)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from tradeengine.api.auth import require
from tradeengine.api.context import get_deps
from tradeengine.api.schemas import ERROR_RESPONSES, TradingStateChange, TradingStateView
from tradeengine.api.tokens import Principal, Scope
from tradeengine.metrics import TRADING_STATE_CHANGES
from tradeengine.pipeline.deps import Deps
from tradeengine.pipeline.ports import TradingStateInfo

router = APIRouter(tags=["trading"])
log = logging.getLogger(__name__)


@router.get("/trading/state", response_model=TradingStateView, responses=ERROR_RESPONSES)
def get_trading_state(
    who: Annotated[Principal, Depends(require(Scope.ORDERS_READ))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> TradingStateView:
    return _view(deps.trading_state.describe())


@router.put(
    "/trading/state",
    response_model=TradingStateView,
    responses=ERROR_RESPONSES,
    summary="Halt, reduce or resume trading (admin)",
)
async def put_trading_state(
    change: TradingStateChange,
    who: Annotated[Principal, Depends(require(Scope.ADMIN))],
    deps: Annotated[Deps, Depends(get_deps)],
) -> TradingStateView:
    await run_in_threadpool(deps.trading_state.set, change.state, who.subject, change.reason)
    deps.counters.incr(TRADING_STATE_CHANGES, {"state": change.state.value})
    log.warning("trading state set to %s by %s: %s", change.state.value, who.subject, change.reason)
    return _view(await run_in_threadpool(deps.trading_state.describe))


def _view(info: TradingStateInfo) -> TradingStateView:
    if info.set_at is None:  # never set: the configured default, nobody to name
        return TradingStateView(state=info.state)
    return TradingStateView(state=info.state, reason=info.reason, set_by=info.set_by, set_at=info.set_at)
