"""Rich tables that keep every figure whole, in a terminal of 80 columns and in a pipe.

Rich fits a table to the width it has by shrinking the columns that may wrap, then, as a last
resort, every column, cutting cells short with "…". So a figure column never wraps (it keeps its
width), text columns wrap at spaces and fold words longer than their width (nothing is cut), and
each table keeps its figure columns narrow enough to fit 80 columns with room for the text.

Cells hold what surveys and remote systems sent (response ids, names, emails, API messages), so
a :class:`DataTable` shows text cells as they are: rich would read a respondent's ``[/b]`` as a
closing tag and stop the command with an error.
"""

from __future__ import annotations

from typing import Any, Literal

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from sync.core.logs import redact

Justify = Literal["left", "right", "center"]


class DataTable(Table):
    """A table whose text cells and title are shown literally, never read as console markup.

    A cell that wants a style passes a :class:`rich.text.Text` built with it."""

    def __init__(self, *headers: Any, title: str | Text | None = None, **options: Any) -> None:
        shown = Text(title, style="table.title") if isinstance(title, str) else title
        super().__init__(*headers, title=shown, **options)

    def add_row(
        self, *renderables: RenderableType | None, style: Any = None, end_section: bool = False
    ) -> None:
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def figure_column(table: Table, header: str, *, justify: Justify = "right") -> None:
    """A column of numbers, dates or short codes: never wrapped, never cut.

    Its header does not wrap either; write a long one on two lines (``"in\\nflight"``).
    """
    table.add_column(header, justify=justify, no_wrap=True)


def text_column(table: Table, header: str) -> None:
    """A column of words: wrapped at spaces, a word longer than the column folded, never cut."""
    table.add_column(header, overflow="fold")


#: The flags of :func:`print_flagged` lines and their colours.
FLAG_STYLES = {
    "skipped": "yellow",
    "error": "red",
    "deferred": "yellow",
    "held": "yellow",
    "waiting": "yellow",
}


def print_flagged(console: Console, flag: str, line: str) -> None:
    """``flag`` in its colour, then ``line``: a record's problem or an API's error, which carry
    what surveys and remote systems sent. Redacted like the logs, and shown as it is (a
    respondent's ``[/b]`` is text, not console markup)."""
    console.print(Text.assemble((flag, FLAG_STYLES[flag]), " ", redact(line)), highlight=False)
