"""Rich tables that keep every figure whole, in a terminal of 80 columns and in a pipe.

Rich fits a table to the width it has by shrinking the columns that may wrap, then, as a last
resort, every column, cutting cells short with "…". So a figure column never wraps (it keeps its
width), text columns wrap at spaces and fold words longer than their width (nothing is cut), and
each table keeps its figure columns narrow enough to fit 80 columns with room for the text.
"""

from __future__ import annotations

from typing import Literal

from rich.table import Table

Justify = Literal["left", "right", "center"]


def figure_column(table: Table, header: str, *, justify: Justify = "right") -> None:
    """A column of numbers, dates or short codes: never wrapped, never cut.

    Its header does not wrap either; write a long one on two lines (``"in\\nflight"``).
    """
    table.add_column(header, justify=justify, no_wrap=True)


def text_column(table: Table, header: str) -> None:
    """A column of words: wrapped at spaces, a word longer than the column folded, never cut."""
    table.add_column(header, overflow="fold")
