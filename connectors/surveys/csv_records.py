"""The records of a CSV export, each with the line it starts on, in bounded memory.

Survey exports and comment files are read by the same rules (:func:`read_csv_records`): strict
quoting; a record cut short or ragged is reported on its own line and the rest of the file is
read; a quoted field whose closing quote is missing loses only the line that opened it (its
later lines are read again on their own); no line or record longer than
:data:`MAX_RECORD_CHARS` is ever held whole, however the file is laid out (one 300 MB line
took 700 MB to be told it was too long).
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Final

#: Longest record (a CSV field or line, a JSONL line) read; longer ones are reported, not loaded.
MAX_RECORD_CHARS: Final = 8 * 1024 * 1024
#: Column separators a CSV export may use; the first wins a tie.
CSV_DELIMITERS: Final = (",", ";", "\t", "|")
#: Characters read at a time while skipping the rest of a line too long to keep.
_SKIP_CHUNK: Final = 1024 * 1024
#: Added to a broken record's reason when its later lines are read again on their own.
READ_AGAIN: Final = (
    "; a quoted field opened on this line seems never closed: the lines after it are read on "
    "their own"
)


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One record: its fields, or (``fields`` None) why it cannot be used."""

    line: int
    fields: list[str] | None
    reason: str = ""


def csv_encoding(start: bytes) -> str:
    """The codec of a CSV file from its first two bytes: UTF-16 after its byte order mark (what
    spreadsheets save as "Unicode text"), else UTF-8 with or without its own mark."""
    return "utf-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"


def csv_error_reason(error: csv.Error) -> str:
    """What is wrong with a CSV record, in the words of :data:`MAX_RECORD_CHARS` when it is the
    record's length (the module's own message names its internal limit)."""
    reason = str(error)
    if reason.startswith("field larger than field limit"):
        return f"a field is longer than {MAX_RECORD_CHARS:,} characters"
    return reason


def csv_delimiter(header: str) -> str:
    """The column separator of a CSV file, from its header line: the one of
    :data:`CSV_DELIMITERS` it holds most of, a comma when it holds none."""
    return max(CSV_DELIMITERS, key=header.count) if header else ","


def read_csv_records(text: IO[str], delimiter: str = ",") -> Iterator[CsvRecord]:
    """Every record of ``text``, the header first; blank records are left out. A record that
    is malformed, has another number of fields than the header, or a line longer than
    :data:`MAX_RECORD_CHARS` comes with its reason instead of its fields."""
    if csv.field_size_limit() < MAX_RECORD_CHARS:  # raised once for the process, never lowered
        csv.field_size_limit(MAX_RECORD_CHARS)
    lines = _RowLines(text)
    reader = csv.reader(lines, strict=True, delimiter=delimiter)
    columns: int | None = None
    while True:
        lines.start_row()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _LineTooLongError:
            line = lines.first_line
            yield CsvRecord(line, None, f"a line is longer than {MAX_RECORD_CHARS:,} characters")
            continue
        except csv.Error as error:
            line = lines.first_line
            again = READ_AGAIN if lines.read_again() else ""
            yield CsvRecord(line, None, f"malformed CSV: {csv_error_reason(error)}{again}")
            continue
        line = lines.first_line
        if columns is None:
            columns = len(fields)
        elif not any(value.strip() for value in fields):
            continue
        elif len(fields) != columns:
            again = READ_AGAIN if lines.read_again() else ""
            yield CsvRecord(line, None, f"expected {columns} columns, found {len(fields)}{again}")
            continue
        yield CsvRecord(line, fields)


class _LineTooLongError(Exception):
    """A physical line past :data:`MAX_RECORD_CHARS`, skipped without being kept."""


class _RowLines:
    """The file's physical lines for :func:`csv.reader`, keeping those of the row being read.

    A quoted field whose closing quote mark is missing swallows the lines after it: to the end
    of the file, or to the next quote mark, making one broken row of many. When such a row
    fails, :meth:`read_again` hands its lines after the first to the reader again, so only
    the line that opened the quote is lost. A row longer than :data:`MAX_RECORD_CHARS` is not
    kept (memory stays bounded) and is lost whole; a single line that long is not even read
    whole: it is skipped and reported (:class:`_LineTooLongError`).
    """

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._again: deque[tuple[int, str]] = deque()
        self._read = 0
        self.row: list[tuple[int, str]] = []
        self._kept = 0

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            line = self._text.readline(MAX_RECORD_CHARS + 1)
            if not line:
                raise StopIteration
            self._read += 1
            number = self._read
            if len(line) > MAX_RECORD_CHARS and line[-1] not in "\r\n":
                while line and line[-1] not in "\r\n":  # the rest of the line, dropped
                    line = self._text.readline(_SKIP_CHUNK)
                if not self.row:
                    self.row.append((number, ""))
                raise _LineTooLongError
        if self._kept <= MAX_RECORD_CHARS:
            self.row.append((number, line))
            self._kept += len(line)
        return line

    def start_row(self) -> None:
        self.row = []
        self._kept = 0

    @property
    def first_line(self) -> int:
        """The number of the line the row just read started on."""
        return self.row[0][0] if self.row else self._read

    def read_again(self) -> bool:
        """Hand the row's lines after its first to the reader again; False when there are
        none, or the row was too long to keep."""
        if len(self.row) < 2 or self._kept > MAX_RECORD_CHARS:
            return False
        self._again.extendleft(reversed(self.row[1:]))
        self.row = []
        return True
