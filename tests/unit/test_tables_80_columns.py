"""make demo's and make dry-run's tables at 80 columns: no word broken across lines, prices as Binance
writes them. The demo rows are the records the deployed stack answered (GET /signals/{id}) in a run."""

from __future__ import annotations

import pytest
from rich.console import Console

from local import examples
from local.stack import demo
from local.stack.tables import widths

FILLED = {
    "state": "FILLED", "symbol": "DOGEUSDT",
    "plan": {"order": {"side": "BUY", "type": "MARKET", "quantity": "126.3"}},
    "execution": {"entry": {"avg_price": "0.08", "commission": {"DOGE": "0.1263"}}},
}  # fmt: skip
OPEN_WITH_EXITS = {
    "state": "OPEN", "symbol": "BTCUSDT",
    "plan": {
        "order": {"side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "44900"},
        "brackets": {"stop_loss": {"type": "STOP_LOSS", "stop_price": "44002"},
                     "take_profit": {"type": "LIMIT_MAKER", "price": "47145"}},
    },
    "execution": {"entry": {"order_id": 9}},
}  # fmt: skip
REFUSED = {"state": "REJECTED", "symbol": "BTCUSDT", "code": "CONFIDENCE_TOO_LOW", "plan": None}


def _render(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115 (closed with the console)
    console.print(renderable)
    return console.export_text()


def _demo_results() -> list[demo.Result]:
    results = []
    for i, (record, example) in enumerate(zip((FILLED, OPEN_WITH_EXITS, REFUSED), demo.EXAMPLES[1:], strict=False)):
        r = demo.Result(example, "nats" if i else "http", f"s-{i}", sent_at=0.0, record=record, seen_at=4.25)
        results.append(r)
    return results


def test_the_demo_table_keeps_every_word_whole_at_80_columns() -> None:
    text = _render(demo.results_table(_demo_results(), width=80))
    assert max(len(line) for line in text.splitlines()) <= 80
    for word in ("LIMIT_MAKER", "STOP_LOSS", "44002,", "47145", "CONFIDENCE_TOO_LOW", "0.1263", "DOGEUSDT", "4.25s"):
        assert word in text, f"{word!r} broken or missing:\n{text}"


def test_the_dry_run_keeps_every_word_whole_and_prints_prices_as_binance_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert examples.main() == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80
    for word in ("CONFIDENCE_TOO_LOW", "LIMIT_MAKER", "position_size_pct", "dynamic_minimum", "quantity=0.00012"):
        assert word in text, f"{word!r} broken or missing:\n{text}"
    assert "STOP_LOSS 44002," in text and "LIMIT_MAKER 47145" in text
    assert ".000000" not in text, "prices without the tick size's trailing zeros"


def test_widths_give_each_column_its_longest_word_first_then_share_the_rest() -> None:
    rows = [("x" * 30 + " y", "CONFIDENCE_TOO_LOW and a long sentence after it")]
    got = widths(("a", "b"), rows, budget=60)
    assert sum(got) == 60 and got[0] >= 30 and got[1] >= len("CONFIDENCE_TOO_LOW")
    assert widths(("a", "b"), rows, budget=200) == [32, 47], "room for every line: each gets its longest"
