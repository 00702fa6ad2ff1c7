"""exchangeInfo → SymbolRules, in either filter shape (legacy MIN_NOTIONAL / PERCENT_PRICE, current
NOTIONAL / PERCENT_PRICE_BY_SIDE). A zero value disables its rule, it is never a divisor. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from contracts.orders import BinanceOrderType
from tradeengine.rules import LotSize, Notional, PriceBand, PriceFilter, SymbolRules, TrailingDelta

_D0 = Decimal(0)


def _dec(raw: Mapping[str, Any], key: str) -> Decimal:
    value = raw.get(key)
    return Decimal(str(value)) if value is not None else _D0


def _num(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return int(value) if value is not None else 0


def parse_symbol(raw: Mapping[str, Any]) -> SymbolRules:
    """One ``symbols[]`` entry of exchangeInfo, in either filter shape."""
    kw: dict[str, Any] = {}
    unknown: list[str] = []
    for f in raw.get("filters", ()):
        ftype = f.get("filterType")
        if ftype == "PRICE_FILTER":
            kw["price_filter"] = PriceFilter(_dec(f, "minPrice"), _dec(f, "maxPrice"), _dec(f, "tickSize"))
        elif ftype == "LOT_SIZE":
            kw["lot_size"] = LotSize(_dec(f, "minQty"), _dec(f, "maxQty"), _dec(f, "stepSize"))
        elif ftype == "MARKET_LOT_SIZE":
            kw["market_lot_size"] = LotSize(_dec(f, "minQty"), _dec(f, "maxQty"), _dec(f, "stepSize"))
        elif ftype == "PERCENT_PRICE":
            up, down = _dec(f, "multiplierUp"), _dec(f, "multiplierDown")
            kw["price_band"] = PriceBand(up, down, up, down, _num(f, "avgPriceMins"), ftype)
        elif ftype == "PERCENT_PRICE_BY_SIDE":
            kw["price_band"] = PriceBand(
                _dec(f, "bidMultiplierUp"),
                _dec(f, "bidMultiplierDown"),
                _dec(f, "askMultiplierUp"),
                _dec(f, "askMultiplierDown"),
                _num(f, "avgPriceMins"),
                ftype,
            )
        elif ftype == "MIN_NOTIONAL":
            if "notional" not in kw:  # NOTIONAL, when both are served, is the stricter current rule
                kw["notional"] = Notional(
                    _dec(f, "minNotional"),
                    bool(f.get("applyToMarket", True)),
                    _D0,
                    False,
                    _num(f, "avgPriceMins"),
                    ftype,
                )
        elif ftype == "NOTIONAL":
            kw["notional"] = Notional(
                _dec(f, "minNotional"),
                bool(f.get("applyMinToMarket", True)),
                _dec(f, "maxNotional"),
                bool(f.get("applyMaxToMarket", False)),
                _num(f, "avgPriceMins"),
                ftype,
            )
        elif ftype == "ICEBERG_PARTS":
            kw["iceberg_parts"] = _num(f, "limit") or None
        elif ftype == "MAX_NUM_ORDERS":
            kw["max_num_orders"] = _num(f, "maxNumOrders") or None
        elif ftype == "MAX_NUM_ALGO_ORDERS":
            kw["max_num_algo_orders"] = _num(f, "maxNumAlgoOrders") or None
        elif ftype == "MAX_NUM_ORDER_LISTS":
            kw["max_num_order_lists"] = _num(f, "maxNumOrderLists") or None
        elif ftype == "MAX_POSITION":
            kw["max_position"] = _dec(f, "maxPosition") or None
        elif ftype == "TRAILING_DELTA":
            kw["trailing_delta"] = TrailingDelta(
                _num(f, "minTrailingAboveDelta"),
                _num(f, "maxTrailingAboveDelta"),
                _num(f, "minTrailingBelowDelta"),
                _num(f, "maxTrailingBelowDelta"),
            )
        elif ftype:
            unknown.append(str(ftype))
    return SymbolRules(
        symbol=str(raw["symbol"]),
        status=str(raw.get("status", "TRADING")),
        base_asset=str(raw.get("baseAsset", "")),
        quote_asset=str(raw.get("quoteAsset", "")),
        base_precision=int(raw.get("baseAssetPrecision", 8)),
        quote_precision=int(raw.get("quoteAssetPrecision", raw.get("quotePrecision", 8))),
        order_types=frozenset(raw.get("orderTypes", [t.value for t in BinanceOrderType])),
        quote_order_qty_market_allowed=bool(raw.get("quoteOrderQtyMarketAllowed", False)),
        oco_allowed=bool(raw.get("ocoAllowed", False)),
        oto_allowed=bool(raw.get("otoAllowed", False)),
        unknown_filters=tuple(unknown),
        **kw,
    )


def parse_exchange_info(info: Mapping[str, Any]) -> dict[str, SymbolRules]:
    """All symbols of an exchangeInfo document, by symbol."""
    symbols: Iterable[Mapping[str, Any]] = info.get("symbols", ())
    return {s["symbol"]: parse_symbol(s) for s in symbols}
