"""`tradeengine size`: the installed console script, run as a developer runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import INFO_2021, INFO_2026, signal_dict

EXE = shutil.which("tradeengine") or str(__import__("pathlib").Path(sys.executable).parent / "tradeengine")


def run(*args, stdin=""):
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def lines(*items):
    return "".join(json.dumps(i) + "\n" for i in items)


def test_sizes_each_line_and_exits_zero_for_accepts_and_rejects():
    stdin = lines(
        {"signal": signal_dict(timestamp="2024-01-01T12:00:00Z")},
        {
            "signal": signal_dict(timestamp="2024-01-01T12:00:00Z", symbol="DOGEUSDT", price=0.08),
            "market_price": "0.081",
        },
        {"signal": signal_dict(timestamp="2024-01-01T12:00:00Z", confidence=0.1)},
        {
            "signal": signal_dict(timestamp="2024-01-01T12:00:00Z", action="sell", quantity="0.01"),
            "balances": {"BTC": "0.001"},
        },
        {"signal": signal_dict(timestamp="2024-01-01T12:00:00Z", action="hold")},
    )
    proc = run("size", "--exchange-info", str(INFO_2021), "--now", "2024-01-01T12:00:30Z", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["accepted"] and out[0]["order"] == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.000225",
        "newClientOrderId": out[0]["order"]["newClientOrderId"],
    }
    assert out[0]["order"]["newClientOrderId"].startswith("te-") and out[0]["brackets"] is None
    assert out[1]["order"]["symbol"] == "DOGEUSDT"
    assert out[2] == {"accepted": False, "code": "CONFIDENCE_TOO_LOW", "reason": out[2]["reason"]}
    assert out[3]["code"] == "INSUFFICIENT_BALANCE"
    assert out[4]["accepted"] and out[4]["order"] is None


def test_limit_with_brackets_prints_binance_parameter_names():
    stdin = lines(
        {
            "signal": signal_dict(
                timestamp="2026-09-01T00:00:00Z",
                price="100000",
                quantity="0.001",
                meta={"order_type": "limit", "stop_loss": 98000, "take_profit_pct": 5},
            )
        }
    )
    proc = run("size", "--exchange-info", str(INFO_2026), "--now", "2026-09-01T00:01:00Z", stdin=stdin)
    result = json.loads(proc.stdout)
    assert result["order"]["timeInForce"] == "GTC" and result["order"]["price"] == "100000"
    assert result["brackets"]["kind"] == "OCO" and result["brackets"]["placement"] == "with_entry"
    assert result["brackets"]["stopLoss"]["stopPrice"] == "98000"
    assert result["brackets"]["takeProfit"] == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT_MAKER",
        "quantity": "0.00099",
        "price": "105000",
        "newClientOrderId": result["brackets"]["takeProfit"]["newClientOrderId"],
    }


def test_invalid_signal_is_a_rejection_naming_the_field():
    proc = run("size", "--exchange-info", str(INFO_2021), stdin=lines({"signal": signal_dict(price=-5)}))
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["code"] == "INVALID_SIGNAL" and "signal.price" in result["reason"]


def test_staleness_is_judged_against_the_real_clock_by_default():
    proc = run(
        "size",
        "--exchange-info",
        str(INFO_2021),
        stdin=lines({"signal": signal_dict(timestamp="2024-01-01T12:00:00Z")}),
    )
    assert json.loads(proc.stdout)["code"] == "STALE_SIGNAL"


def test_env_limits_apply(monkeypatch):
    monkeypatch.setenv("MIN_CONFIDENCE", "0.9")
    proc = run(
        "size",
        "--exchange-info",
        str(INFO_2021),
        "--now",
        "2026-11-25T12:00:00Z",
        stdin=lines({"signal": signal_dict()}),
    )
    assert json.loads(proc.stdout)["code"] == "CONFIDENCE_TOO_LOW"


def test_trading_state_flag():
    proc = run(
        "size",
        "--exchange-info",
        str(INFO_2021),
        "--now",
        "2026-11-25T12:00:00Z",
        "--trading-state",
        "HALTED",
        stdin=lines({"signal": signal_dict()}),
    )
    assert json.loads(proc.stdout)["code"] == "TRADING_HALTED"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["size", "--exchange-info", "/nonexistent.json"], "", "cannot read exchange info /nonexistent.json"),
        (["size", "--exchange-info", str(INFO_2021)], "{not json\n", "line 1: not JSON"),
        (["size", "--exchange-info", str(INFO_2021)], '{"no_signal": 1}\n', "line 1: expected an object"),
        (["size", "--exchange-info", str(INFO_2021), "--now", "soon"], "", "--now 'soon'"),
    ],
)
def test_unusable_input_exits_2_with_a_clear_message(args, stdin, message):
    proc = run(*args, stdin=stdin)
    assert proc.returncode == 2 and message in proc.stderr


def test_not_exchange_info(tmp_path):
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    proc = run("size", "--exchange-info", str(bogus), stdin="")
    assert proc.returncode == 2 and "not a Binance exchangeInfo document" in proc.stderr


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("tradeengine ")
