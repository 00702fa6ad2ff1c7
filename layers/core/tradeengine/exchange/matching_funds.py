"""The account side of the fill model: free and locked balances, what an order locks, what a fill costs.

Commission like Binance: a buy pays it in the base asset received, a sell in the quote asset received
(``buy_commission_in="quote"`` charges buys in the quote asset), rounded down to the asset's precision.
Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from decimal import Decimal

from contracts.orders import BinanceOrderType, OrderRequest
from tradeengine.decimals import quantize_places
from tradeengine.exchange import codes
from tradeengine.exchange import matching_trailing as trailing
from tradeengine.exchange.matching_depth import walk, walk_cost, walk_quote
from tradeengine.exchange.matching_state import INSUFFICIENT_BALANCE, ZERO, MatchingConfig, MatchingError, Order, refuse
from tradeengine.rules import SymbolRules

# fee asset, fee, asset paid, amount paid, asset received, amount received
Charge = tuple[str, Decimal, str, Decimal, str, Decimal]


class Funds:
    """Balances and locks of one account (the book in ``matching_book`` builds on it)."""

    rules: dict[str, SymbolRules]
    config: MatchingConfig
    free: dict[str, Decimal]
    locked: dict[str, Decimal]

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        return self.free.get(asset, ZERO), self.locked.get(asset, ZERO)

    def release(self, order: Order) -> None:
        if order.lock_amount > 0:
            self.locked[order.lock_asset] -= order.lock_amount
            self.free[order.lock_asset] = self.free.get(order.lock_asset, ZERO) + order.lock_amount
        order.lock_amount = ZERO

    def _charge(self, order: Order, price: Decimal, qty: Decimal, is_maker: bool) -> Charge:
        rules = self.rules[order.symbol]
        quote = price * qty
        rate = self.config.maker_fee if is_maker else self.config.taker_fee
        if order.side == "BUY":
            if self.config.buy_commission_in == "quote":
                fee = quantize_places(quote * rate, rules.quote_precision)
                return rules.quote_asset, fee, rules.quote_asset, quote + fee, rules.base_asset, qty
            fee = quantize_places(qty * rate, rules.base_precision)
            return rules.base_asset, fee, rules.quote_asset, quote, rules.base_asset, qty - fee
        fee = quantize_places(quote * rate, rules.quote_precision)
        return rules.quote_asset, fee, rules.base_asset, qty, rules.quote_asset, quote - fee

    def _pay(self, order: Order, asset: str, amount: Decimal) -> bool:
        from_lock = min(order.lock_amount, amount) if order.lock_asset == asset else ZERO
        rest = amount - from_lock
        if self.free.get(asset, ZERO) < rest:
            return False
        if from_lock:
            self.locked[asset] -= from_lock
            order.lock_amount -= from_lock
        self.free[asset] = self.free.get(asset, ZERO) - rest
        return True

    def _lock_needed(self, order: Order, price: Decimal) -> tuple[str, Decimal]:
        rules = self.rules[order.symbol]
        if order.side == "SELL":
            return rules.base_asset, order.orig_qty
        at = order.price if order.price > 0 else order.stop_price if order.stop_price > 0 else price
        if order.price <= 0:
            at = trailing.buy_lock_price(order, at, rules.tick_size)
        cost = at * order.orig_qty
        if order.type == "MARKET":  # what walking the book costs now
            cost = walk_cost(walk(self.config, rules, order, price))
        return rules.quote_asset, self._with_quote_fee(rules, cost)

    def _trim_lock(self, order: Order) -> None:
        """After a partial fill of a limit buy: keep locked only what its rest needs at its limit price."""
        if order.side != "BUY" or order.price <= 0 or order.lock_amount <= 0:
            return
        need = self._with_quote_fee(self.rules[order.symbol], order.price * (order.orig_qty - order.executed_qty))
        surplus = order.lock_amount - need  # it took levels better than its limit
        if surplus > 0:
            self.locked[order.lock_asset] -= surplus
            self.free[order.lock_asset] = self.free.get(order.lock_asset, ZERO) + surplus
            order.lock_amount = need

    def _with_quote_fee(self, rules: SymbolRules, cost: Decimal) -> Decimal:
        if self.config.buy_commission_in != "quote":
            return cost
        return cost + quantize_places(cost * max(self.config.maker_fee, self.config.taker_fee), rules.quote_precision)

    def _lock(self, order: Order, need: tuple[str, Decimal]) -> None:
        asset, amount = need
        if self.free.get(asset, ZERO) < amount:
            raise refuse(INSUFFICIENT_BALANCE)
        self.free[asset] = self.free.get(asset, ZERO) - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount
        order.lock_asset, order.lock_amount = asset, amount

    def _quote_qty_to_base(self, order: OrderRequest, rules: SymbolRules, price: Decimal) -> Decimal:
        assert order.quote_order_qty is not None
        qty = walk_quote(self.config, rules, order.side.value, price, order.quote_order_qty)
        lot = rules.lot_for(BinanceOrderType.MARKET)
        if qty <= 0 or (lot.min_qty > 0 and qty < lot.min_qty):
            raise MatchingError(codes.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        return qty
