"""Result tables that read at 80 columns: a column is never narrower than its longest word.

rich shrinks the widest columns of a table too wide for the terminal towards each other, whatever they
hold, and then folds their words in the middle (``CONFIDENCE_TO`` / ``O_LOW``). Here each column gets a
fixed width: first its longest word, then a share of what is left in proportion to how much longer its
text is. Only when the terminal cannot hold every longest word side by side does rich fold, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _lines(cell: str) -> list[str]:
    return Text.from_markup(cell).plain.splitlines() or [""]


def widths(headers: Sequence[str], rows: Sequence[Sequence[str]], budget: int) -> list[int]:
    """Content widths (padding and borders excluded) for ``budget`` columns of text in all."""
    columns = [[header, *(row[i] for row in rows)] for i, header in enumerate(headers)]
    lines = [[line for cell in column for line in _lines(cell)] for column in columns]
    longest_word = [max((len(w) for line in col for w in line.split()), default=1) for col in lines]
    longest_line = [
        max(max((len(line) for line in col), default=1), w) for col, w in zip(lines, longest_word, strict=True)
    ]
    if sum(longest_line) <= budget:
        return longest_line
    spare = budget - sum(longest_word)
    if spare <= 0:
        return longest_word
    wants = [line - word for line, word in zip(longest_line, longest_word, strict=True)]
    total = sum(wants)
    out = [word + spare * want // total for word, want in zip(longest_word, wants, strict=True)]
    for i in sorted(range(len(out)), key=lambda i: wants[i] - (out[i] - longest_word[i]), reverse=True):
        if sum(out) >= budget:
            break
        if out[i] < longest_line[i]:
            out[i] += 1  # the rounding remainder, to the columns that still want the most
    return out


def fitted_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None = None) -> Table:
    """A table of ``rows`` (rich markup allowed) sized for ``width`` columns (the console's by default)."""
    width = width or Console().width
    table = Table(title=title)
    borders = len(headers) + 1
    padding = 2 * len(headers)
    for header, w in zip(headers, widths(headers, rows, width - borders - padding), strict=True):
        table.add_column(header, width=w, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
