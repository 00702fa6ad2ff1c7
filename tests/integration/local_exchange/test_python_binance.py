"""python-binance's real Client against the local exchange, over HTTP: what the Binance adapter will meet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from tradeengine.engine import decide
from tradeengine.exchange_info import parse_exchange_info
from tradeengine.sizing import Market

from contracts.orders import OrderPlan
from contracts.signal import Signal
from tests.integration.local_exchange.conftest import admin, make_client

pytestmark = pytest.mark.integration


def api_error(call: object, **params: object) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        call(**params)  # type: ignore[operator]
    return info.value


def test_a_sized_order_from_the_engine_is_accepted_and_filled(client: Client) -> None:
    rules = parse_exchange_info(client.get_exchange_info())
    price = Decimal(client.get_symbol_ticker(symbol="BTCUSDT")["price"])
    average = Decimal(client.get_avg_price(symbol="BTCUSDT")["price"])
    now = datetime.now(UTC)
    signal = Signal(
        strategy_id="it", symbol="BTCUSDT", action="buy", price=price, confidence=Decimal("0.9"), timestamp=now
    )
    plan = decide(signal, rules, Market(price, average), now, {"USDT": Decimal("10000")})
    assert isinstance(plan, OrderPlan)
    reply = client.create_order(**plan.order.to_binance())
    assert reply["status"] == "FILLED" and reply["clientOrderId"] == plan.order.new_client_order_id
    assert Decimal(reply["executedQty"]) == plan.order.quantity
    fill = reply["fills"][0]
    assert (fill["commissionAsset"], Decimal(fill["price"])) == ("BTC", price)
    assert int(client.response.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    balances = {b["asset"]: b for b in client.get_account()["balances"]}
    assert Decimal(balances["BTC"]["free"]) == Decimal(1) + plan.order.quantity - Decimal(fill["commission"])


def test_the_default_account_can_buy_a_thousandth_of_a_bitcoin(client: Client) -> None:
    assert client.order_market_buy(symbol="BTCUSDT", quantity="0.001")["status"] == "FILLED"


def test_a_wrong_secret_gives_1022_and_a_wrong_key_2015(url: str) -> None:
    err = api_error(make_client(url, secret="not-the-secret").get_account)
    assert (err.status_code, err.code, err.message) == (400, -1022, "Signature for this request is not valid.")
    assert api_error(make_client(url, key="someone-else").get_account).code == -2015


def test_an_off_step_quantity_gives_1013(client: Client) -> None:
    err = api_error(client.create_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0010001")
    assert (err.code, err.message) == (-1013, "Filter failure: LOT_SIZE")


def test_resending_an_open_client_order_id_gives_2010(client: Client) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    first = client.create_order(**order, price="49000", newClientOrderId="dup-1")
    assert first["status"] == "NEW"
    err = api_error(client.create_order, **order, price="49000", newClientOrderId="dup-1")
    assert (err.code, err.message) == (-2010, "Duplicate order sent.")
    assert [o["clientOrderId"] for o in client.get_open_orders(symbol="BTCUSDT")] == ["dup-1"]


def test_a_5xx_after_accept_is_resolved_by_one_lookup(url: str, client: Client) -> None:
    admin(url, "faults", {"fail_next": 1})
    err = api_error(client.create_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001",
                    newClientOrderId="unknown-1")  # fmt: skip
    assert err.status_code == 503
    found = client.get_order(symbol="BTCUSDT", origClientOrderId="unknown-1")
    assert found["status"] == "FILLED"
    state = admin(url, "state")
    assert [o["order_id"] for o in state["book"]["orders"] if o["client_order_id"] == "unknown-1"] == [found["orderId"]]
    assert len(client.get_my_trades(symbol="BTCUSDT", orderId=found["orderId"])) == 1


def test_clock_skew_gives_1021_and_rate_limits_carry_retry_after(url: str, client: Client) -> None:
    admin(url, "faults", {"clock_skew_ms": -30000})
    assert api_error(client.get_account).code == -1021
    admin(url, "faults", {"rate_limit_next": 1, "retry_after_s": 7})
    err = api_error(client.get_account)
    assert (err.status_code, err.code, err.response.headers["Retry-After"]) == (429, -1003, "7")
    admin(url, "faults", {"ban_next": 1})
    assert api_error(client.get_account).status_code == 418
    assert client.get_account()["canTrade"] is True


def test_unknown_orders_on_query_and_cancel(client: Client) -> None:
    assert api_error(client.get_order, symbol="BTCUSDT", orderId=999999).code == -2013
    err = api_error(client.cancel_order, symbol="BTCUSDT", orderId=999999)
    assert (err.code, err.message) == (-2011, "Unknown order sent.")


def test_oco_exit_legs_cancel_each_other(url: str, client: Client) -> None:
    reply = client.create_oco_order(
        symbol="BTCUSDT", side="SELL", quantity="0.001", listClientOrderId="exit-1",
        aboveType="LIMIT_MAKER", abovePrice="52000", aboveClientOrderId="tp-1",
        belowType="STOP_LOSS_LIMIT", belowStopPrice="48000", belowPrice="47900", belowTimeInForce="GTC",
        belowClientOrderId="sl-1",
    )  # fmt: skip
    assert (reply["contingencyType"], reply["listStatusType"]) == ("OCO", "EXEC_STARTED")
    assert [r["status"] for r in reply["orderReports"]] == ["NEW", "NEW"]
    admin(url, "price", {"symbol": "BTCUSDT", "price": "52100"})
    assert client.get_order(symbol="BTCUSDT", origClientOrderId="tp-1")["status"] == "FILLED"
    assert client.get_order(symbol="BTCUSDT", origClientOrderId="sl-1")["status"] == "EXPIRED"
    wrong_side = api_error(
        client.create_oco_order, symbol="BTCUSDT", side="SELL", quantity="0.001",
        aboveType="LIMIT_MAKER", abovePrice="52000", belowType="STOP_LOSS", belowStopPrice="53000",
    )  # fmt: skip
    assert (wrong_side.code, wrong_side.message) == (-2010, "Stop price would trigger immediately.")


def test_otoco_entry_activates_its_exits(url: str, client: Client) -> None:
    reply = client._post(
        "orderList/otoco", True,
        data={
            "symbol": "BTCUSDT", "listClientOrderId": "otoco-1", "workingType": "LIMIT", "workingSide": "BUY",
            "workingPrice": "49000", "workingQuantity": "0.001", "workingTimeInForce": "GTC",
            "pendingSide": "SELL", "pendingQuantity": "0.00099", "pendingAboveType": "LIMIT_MAKER",
            "pendingAbovePrice": "52000", "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "47000",
        },
    )  # fmt: skip
    assert [r["status"] for r in reply["orderReports"]] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    admin(url, "price", {"symbol": "BTCUSDT", "price": "48950"})
    statuses = [o["status"] for o in client.get_open_orders(symbol="BTCUSDT")]
    assert statuses == ["NEW", "NEW"]
    assert client._get("orderList", True, data={"orderListId": reply["orderListId"]})["listOrderStatus"] == "EXECUTING"


def test_order_test_checks_without_placing(client: Client) -> None:
    assert client.create_test_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001") == {}
    assert client.get_open_orders(symbol="BTCUSDT") == [] and client.get_my_trades(symbol="BTCUSDT") == []
    err = api_error(client.create_test_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.000001")
    assert err.code == -1013
