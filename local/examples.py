"""The seed's example signals, decided by the engine against the local exchange's real exchangeInfo.

``make run`` shows this today: what the engine would send to Binance for each example (or why it
refuses), with nothing sent anywhere. It is the first face of the laptop stack.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeengine.engine import decide
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.sizing import Market

from contracts import Hold, OrderPlan, Signal
from contracts.money import plain

EXCHANGE_INFO = Path(__file__).parent / "exchange" / "data" / "exchange_info.json"

# (label, signal fields, market price, balances)
EXAMPLES: list[tuple[str, dict[str, Any], str, dict[str, str] | None]] = [
    ("BTCUSDT market, dynamic minimum", {"symbol": "BTCUSDT", "price": "45000"}, "45000", None),
    ("DOGEUSDT market, dynamic minimum", {"symbol": "DOGEUSDT", "price": "0.08"}, "0.08", None),
    ("ETHUSDT market, dynamic minimum", {"symbol": "ETHUSDT", "price": "3000"}, "3000", None),
    (
        "BTCUSDT limit with stop-loss / take-profit",
        {
            "symbol": "BTCUSDT",
            "price": "44900",
            "quantity": "0.001",
            "meta": {"order_type": "limit", "stop_loss_pct": 2.0, "take_profit_pct": 5.0},
        },
        "45000",
        None,
    ),
    (
        "ETHUSDT 10 % of free USDT",
        {"symbol": "ETHUSDT", "price": "3000", "meta": {"position_size_pct": 10}},
        "3000",
        {"USDT": "1000"},
    ),
    (
        "BTCUSDT close with dust",
        {"symbol": "BTCUSDT", "action": "close", "price": "45000"},
        "45000",
        {"BTC": "0.00001"},
    ),
    ("BTCUSDT low confidence", {"symbol": "BTCUSDT", "price": "45000", "confidence": 0.3}, "45000", None),
]


def _signal(fields: dict[str, Any], now: datetime) -> Signal:
    body = {
        "strategy_id": "momentum_v1",
        "action": "buy",
        "quantity": 0.0,
        "confidence": 0.85,
        "timestamp": now.isoformat(),
        "meta": {"order_type": "market"},
        **fields,
    }
    return Signal.model_validate(body)


def _describe(decision: object) -> tuple[str, str, str]:
    if isinstance(decision, OrderPlan):
        params = decision.order.to_binance()
        order = " ".join(f"{k}={_plain(v)}" for k, v in params.items() if k not in ("symbol", "newClientOrderId"))
        if decision.brackets is not None:
            legs = ", ".join(
                f"{leg.type.value} {_plain(leg.stop_price or leg.price)}" for leg in decision.brackets.legs
            )
            order += f"\nexits {decision.brackets.kind.value}: {legs}"
        return "SIZED", order, decision.sizing
    if isinstance(decision, Hold):
        return "HOLD", "-", decision.reason
    code = getattr(decision, "code", "?")
    return f"REJECTED {code}", "-", getattr(decision, "reason", "")


def _plain(value: object) -> str:
    """A price or quantity as the exchange writes it: 44002, not 44002.000000."""
    return plain(value) if isinstance(value, Decimal) else str(value)


def main() -> int:
    from rich.console import Console

    from local.stack.tables import fitted_table

    rules = parse_exchange_info(json.loads(EXCHANGE_INFO.read_text()))
    now = datetime.now(UTC)
    rows = []
    for label, fields, price, balances in EXAMPLES:
        bal = {k: Decimal(v) for k, v in balances.items()} if balances else None
        decision = decide(_signal(fields, now), rules, Market(Decimal(price)), now, bal)
        rows.append((label, *_describe(decision)))
    title = "Petrosa Trading Engine: the seed's examples (dry run, nothing sent)"
    Console().print(fitted_table(title, ("example", "decision", "order (Binance parameters)", "why"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
