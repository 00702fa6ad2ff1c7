"""`make run` today: the seed's examples decided against the local exchange's shipped exchangeInfo."""

from __future__ import annotations

import subprocess
import sys


def test_make_run_examples_show_each_expected_decision():
    proc = subprocess.run(
        [sys.executable, "-m", "local.examples"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for label, decision in [
        ("BTCUSDT market, dynamic minimum", "SIZED"),
        ("DOGEUSDT market, dynamic minimum", "SIZED"),
        ("ETHUSDT market, dynamic minimum", "SIZED"),
        ("BTCUSDT limit with stop-loss", "SIZED"),
        ("BTCUSDT close with dust", "REJECTED DUST"),
        ("BTCUSDT low confidence", "REJECTED CONFIDENCE_TOO_LOW"),
    ]:
        line = next(line for line in out.splitlines() if label in line)
        assert decision in line, line
    assert "exits OCO" in out
