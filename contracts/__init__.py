"""Shared contracts of the Petrosa Trading Engine: pydantic v2 models, no I/O."""

from contracts.money import Money, plain
from contracts.orders import (
    BinanceOrderType,
    BracketKind,
    BracketPlacement,
    Brackets,
    Hold,
    OcoBrackets,
    OrderPlan,
    OrderRequest,
    Side,
    StopLossBracket,
    TakeProfitBracket,
)
from contracts.rejection import Rejection, RejectionCode
from contracts.signal import Action, OrderType, Signal, SignalMeta, TimeInForce, derive_signal_id
from contracts.status import EXITING, TERMINAL, TRANSITIONS, AuditEvent, Life, SignalState, SignalStatus, SubState

__all__ = [
    "EXITING",
    "TERMINAL",
    "TRANSITIONS",
    "Action",
    "AuditEvent",
    "BinanceOrderType",
    "BracketKind",
    "BracketPlacement",
    "Brackets",
    "Hold",
    "Life",
    "Money",
    "OcoBrackets",
    "OrderPlan",
    "OrderRequest",
    "OrderType",
    "Rejection",
    "RejectionCode",
    "Side",
    "Signal",
    "SignalMeta",
    "SignalState",
    "SignalStatus",
    "StopLossBracket",
    "SubState",
    "TakeProfitBracket",
    "TimeInForce",
    "derive_signal_id",
    "plain",
]
