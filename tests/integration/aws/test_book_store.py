"""The strategy book's DynamoDB adapter on MiniStack: each fill once under racing writers, the position
summary that replays the most fills stays, amounts round-trip as exact decimals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D
from typing import Any

from tradeengine.book import BookFill, replay
from tradeengine.stores.book import DynamoDBLedger

from tests.support import tables


def _fill(trade_id: int, side: str = "BUY", qty: str = "0.001", strategy: str = "A") -> BookFill:
    return BookFill(
        venue="binance-testnet",
        trade_id=trade_id,
        order_id=7,
        client_order_id="x-7",
        signal_id="sig-1",
        strategy_id=strategy,
        symbol="BTCUSDT",
        base_asset="BTC",
        quote_asset="USDT",
        side=side,
        price=D("45000.01"),
        qty=D(qty),
        quote_qty=D("45000.01") * D(qty),
        commission=D("0.00000100"),
        commission_asset="BTC",
        commission_quote=D("0.04500001"),
        time_ms=1_700_000_000_000 + trade_id,
    )


def test_racing_writers_record_each_fill_once(ddb: Any, table_name: str) -> None:
    tables.book(ddb, table_name)
    ledgers = [DynamoDBLedger(table_name, ddb_client=ddb) for _ in range(6)]
    fills = [_fill(i) for i in range(1, 6)]
    with ThreadPoolExecutor(len(ledgers)) as pool:
        added = list(pool.map(lambda ledger: ledger.add(fills), ledgers))
    assert sorted(f.trade_id for batch in added for f in batch) == [1, 2, 3, 4, 5]  # one writer each
    stored = ledgers[0].fills("A", "BTCUSDT")
    assert sorted(stored, key=lambda f: f.trade_id) == fills  # exact decimals, every field back


def test_the_summary_replaying_more_fills_wins_and_positions_list_per_strategy(ddb: Any, table_name: str) -> None:
    tables.book(ddb, table_name)
    ledger = DynamoDBLedger(table_name, ddb_client=ddb)
    ledger.add([_fill(1), _fill(2)])
    two = replay(ledger.fills("A", "BTCUSDT"), D("0.00001")).position
    one = replay([_fill(1)], D("0.00001")).position
    assert ledger.save_position(two) is True
    assert ledger.save_position(one) is False  # a writer that saw fewer fills cannot overwrite
    ledger.add([_fill(9, strategy="B")])
    ledger.save_position(replay(ledger.fills("B", "BTCUSDT"), D("0.00001")).position)
    assert ledger.positions("A") == [two]
    assert {p.strategy_id for p in ledger.positions()} == {"A", "B"}
