"""The paper book's DynamoDB store: conditional writes on the version, Decimal-safe, large books fit."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from tradeengine.exchange.paper_store import PaperBookStore
from tradeengine.stores.paper_book_dynamodb import DynamoDBPaperBookStore

from tests.support import tables

pytestmark = pytest.mark.integration


@pytest.fixture
def book_table(ddb: Any, table_name: str) -> str:
    tables.paper_book(ddb, table_name)
    return table_name


def test_implements_the_port(ddb: Any, book_table: str) -> None:
    assert isinstance(DynamoDBPaperBookStore(book_table, ddb_client=ddb), PaperBookStore)


def test_empty_book_then_first_save(ddb: Any, book_table: str) -> None:
    store = DynamoDBPaperBookStore(book_table, "empty", ddb_client=ddb)
    assert store.load() == ({}, 0)

    assert store.save({"balances": {"USDT": "10000"}}, 0) is True
    assert store.load() == ({"balances": {"USDT": "10000"}}, 1)


def test_conflicting_writers_only_one_wins(ddb: Any, book_table: str) -> None:
    a = DynamoDBPaperBookStore(book_table, "race", ddb_client=ddb)
    b = DynamoDBPaperBookStore(book_table, "race", ddb_client=ddb)
    assert a.save({"orders": []}, 0)
    state_a, version_a = a.load()
    state_b, version_b = b.load()

    assert a.save({**state_a, "orders": ["a"]}, version_a) is True
    assert b.save({**state_b, "orders": ["b"]}, version_b) is False  # b read version 1, a moved it to 2

    state, version = b.load()
    assert (state, version) == ({"orders": ["a"]}, 2)
    assert b.save({**state, "orders": ["a", "b"]}, version) is True
    assert a.load() == ({"orders": ["a", "b"]}, 3)


def test_two_first_writers_only_one_creates(ddb: Any, book_table: str) -> None:
    a = DynamoDBPaperBookStore(book_table, "create-race", ddb_client=ddb)
    assert a.save({"who": "a"}, 0) is True
    assert a.save({"who": "b"}, 0) is False
    assert a.load() == ({"who": "a"}, 1)


def test_decimals_are_stored_as_exact_strings(ddb: Any, book_table: str) -> None:
    store = DynamoDBPaperBookStore(book_table, "decimal", ddb_client=ddb)
    assert store.save({"fee": Decimal("0.00000100"), "qty": Decimal("1E-8")}, 0)
    state, _ = store.load()
    assert state == {"fee": "0.000001", "qty": "0.00000001"}


def test_books_are_separate(ddb: Any, book_table: str) -> None:
    one = DynamoDBPaperBookStore(book_table, "one", ddb_client=ddb)
    two = DynamoDBPaperBookStore(book_table, "two", ddb_client=ddb)
    assert one.save({"n": 1}, 0)
    assert two.load() == ({}, 0)


def test_a_large_book_is_compressed_and_round_trips(ddb: Any, book_table: str) -> None:
    store = DynamoDBPaperBookStore(book_table, "large", ddb_client=ddb)
    orders = [{"orderId": i, "clientOrderId": f"sig-{i:08d}", "price": "64000.01", "qty": "0.001"} for i in range(8000)]
    assert len(json.dumps(orders)) > 400 * 1024  # would not fit one DynamoDB item uncompressed
    assert store.save({"orders": orders}, 0)
    state, version = store.load()
    assert version == 1 and state["orders"][-1] == orders[-1]
