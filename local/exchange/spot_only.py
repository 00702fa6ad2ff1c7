"""Answers to the parts of Binance's other APIs that clients ask for while loading a spot venue.

ccxt's ``load_markets`` with its default options also reads the futures venues' exchangeInfo
(``/fapi/v1``, ``/dapi/v1``), the margin pairs and, with credentials, the wallet's coin list
(``/sapi/v1/capital/config/getall``). A spot-only venue has no futures and no margin: those answer with
no symbols and no pairs; the coin list names every asset of the served symbols, with the account's
balances, and neither deposits nor withdrawals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from local.exchange import wire

if TYPE_CHECKING:
    from local.exchange.venue import Venue


def no_symbols(now_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [],
        "exchangeFilters": [],
        "assets": [],
        "symbols": [],
    }


def coins(venue: Venue) -> list[dict[str, Any]]:
    assets = sorted({a for r in venue.rules.values() for a in (r.base_asset, r.quote_asset)} | set(venue.book.free))
    zero = wire.num(Decimal(0))
    out = []
    for asset in assets:
        free, locked = venue.book.balance(asset)
        out.append(
            {
                "coin": asset,
                "name": asset,
                "depositAllEnable": False,
                "withdrawAllEnable": False,
                "free": wire.num(free),
                "locked": wire.num(locked),
                "freeze": zero,
                "withdrawing": zero,
                "ipoing": zero,
                "ipoable": zero,
                "storage": zero,
                "isLegalMoney": False,
                "trading": True,
                "networkList": [],
            }
        )
    return out
