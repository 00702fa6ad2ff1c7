"""The book's CLI tables at 80 columns: figures are never cut or folded, only strategy names fold."""

from __future__ import annotations

from rich.console import Console
from tradeengine.cli_book import _table


def test_figures_stay_whole_at_80_columns() -> None:
    lines = [
        ["a-strategy-with-a-rather-long-name", "DOGEUSDT", "252.34740000", "0.08", "-0.00012345", "-0.020208", "2"],
        ["momentum_v1", "BTCUSDT", "0.00023976", "45000.01", "1.2456135", "-0.0908865", "0"],
    ]
    headers = ["strategy", "symbol", "qty", "avg", "unreal.", "realized", "exits"]
    console = Console(width=80, record=True)
    console.print(_table("positions", headers, lines, text_columns=2))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for line in lines:
        for figure in line[1:]:
            assert figure in text, figure  # whole, on one line
    assert "…" not in text
