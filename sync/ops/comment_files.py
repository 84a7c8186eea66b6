"""Read comment files for ``nps-sync text``: CSV or JSONL rows with their line numbers.

A CSV file may separate its columns by ``,``, ``;``, tab or ``|`` (whichever its header holds
most of) and name a column in any case. A row that cannot be used (no id, a line that is not
JSON, a theme the taxonomy does not know) is returned as a :class:`BadRow` naming its line, and
the rest of the file is read; only a file that cannot be read at all (missing columns, a
header that is not UTF-8) raises :class:`CommentFileError`. A CSV file is UTF-8 or, when it
starts with the byte order mark, UTF-16; a row holding bytes that are not UTF-8 is reported on its
own. Messages never quote a comment: comments are personal data.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connectors.surveys.csv_records import (
    MAX_RECORD_CHARS,
    csv_delimiter,
    csv_encoding,
    read_csv_records,
)
from connectors.surveys.fields import FieldError, parse_json
from connectors.surveys.files import bounded_lines
from sync.core.errors import EXIT_CONFIG_FILE, SyncError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: Bytes that were not UTF-8, as ``surrogateescape`` keeps them.
_UNDECODED = re.compile("[\udc80-\udcff]")
_NOT_UTF8 = "not valid UTF-8"
_UTF8 = "not UTF-8 text"
_SAVE_AS_UTF8 = ' (save it as UTF-8: in a spreadsheet, "CSV UTF-8")'


class CommentFileError(SyncError):
    """The file cannot be read as comments at all; nothing was analysed."""

    exit_code = EXIT_CONFIG_FILE


@dataclass(frozen=True, slots=True)
class Row:
    """One usable row: its values by column, and the line it starts on."""

    line: int
    values: dict[str, object]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    message: str

    def describe(self, path: Path) -> str:
        return f"{path}:{self.line}: {self.message}; row skipped"


def read_rows(path: Path, required: Sequence[str]) -> Iterator[Row | BadRow]:
    """The rows of a CSV or JSONL file that has the ``required`` columns (others are ignored).

    The file is opened once and read as a stream, so a pipe (``<(zcat export.csv.gz)``) is read
    as a file is; a device or a directory is refused."""
    try:
        kind = os.stat(path).st_mode
        if not (stat.S_ISREG(kind) or stat.S_ISFIFO(kind)):
            raise CommentFileError(f"{path}: not a file or a pipe")
        with io.BufferedReader(io.FileIO(path), buffer_size=_PEEK) as raw:
            start = raw.peek(_PEEK)[:_PEEK]
            if _is_jsonl(path, start):
                yield from _jsonl_rows(raw, required)
            else:
                yield from _csv_rows(path, raw, start, required)
    except UnicodeDecodeError as error:
        raise CommentFileError(f"{path}: not UTF-16 text ({error.reason})") from None
    except OSError as error:
        raise CommentFileError(f"{path}: cannot be read ({error.strerror})") from None


#: Bytes looked at to tell JSONL from CSV and to find a CSV file's separator, without reading
#: them twice (a pipe cannot be read again).
_PEEK = 1024 * 1024


def _is_jsonl(path: Path, start: bytes) -> bool:
    if path.suffix.lower() in JSON_SUFFIXES:
        return True
    if path.suffix.lower() == ".csv":
        return False
    return start[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _csv_rows(
    path: Path, raw: BinaryIO, start: bytes, required: Sequence[str]
) -> Iterator[Row | BadRow]:
    """The rows of a CSV file (:func:`~connectors.surveys.csv_records.csv_encoding`), with bytes
    that do not decode kept as escapes, for the row holding them to be reported on its own."""
    encoding = csv_encoding(start[:2])
    header_line = start.decode(encoding, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    with io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="") as text:
        records = read_csv_records(text, csv_delimiter(header_line))
        header = next(records, None)
        if header is not None and header.fields is None:
            raise CommentFileError(f"{path}:1: the header is not valid CSV ({header.reason})")
        names = (header.fields or []) if header is not None else []
        if any(_UNDECODED.search(name) for name in names):
            raise CommentFileError(f"{path}:1: the header is not UTF-8 text{_SAVE_AS_UTF8}")
        columns = _named(names, required)
        missing = [c for c in required if c not in columns]
        if missing:
            listed = ", ".join(repr(c) for c in missing)
            raise CommentFileError(
                f"{path}:1: the header has no {listed} column; "
                f"the file needs the columns {', '.join(required)}"
            )
        twice = [c for c in required if columns.count(c) > 1]
        if twice:  # which of them holds the ids or comments would be a guess
            listed = ", ".join(repr(c) for c in twice)
            raise CommentFileError(f"{path}:1: the header has the column {listed} more than once")
        for record in records:
            if record.fields is None:
                yield BadRow(record.line, f"not valid CSV ({record.reason})")
                continue
            values: dict[str, object] = dict(zip(columns, record.fields, strict=True))
            if any(_UNDECODED.search(str(values[c])) for c in required):
                yield BadRow(record.line, "not UTF-8 text")  # in a column it reads: not others
            else:
                yield Row(record.line, values)


def _named(header: Sequence[str], required: Sequence[str]) -> list[str]:
    """The header's column names, stripped; a required column spelled in another case (``ID``,
    ``Comment``) takes the required name when the file has no exact match."""
    columns = [c.strip() for c in header]
    for name in required:
        if name not in columns:
            same = [i for i, c in enumerate(columns) if c.lower() == name.lower()]
            if len(same) == 1:
                columns[same[0]] = name
    return columns


def _jsonl_rows(handle: BinaryIO, required: Sequence[str]) -> Iterator[Row | BadRow]:
    for number, raw in bounded_lines(handle):
        if raw is None:
            yield BadRow(number, f"the line is longer than {MAX_RECORD_CHARS:,} characters")
            continue
        if not raw.strip():
            continue
        try:
            record = parse_json(raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw)
        except FieldError as error:
            reason = str(error)
            yield BadRow(number, _UTF8 if reason == _NOT_UTF8 else f"not a JSON object ({reason})")
            continue
        if not isinstance(record, dict):
            yield BadRow(number, "not a JSON object")
            continue
        problem = next((c for c in required if c not in record), None)
        if problem:
            yield BadRow(number, f"the row has no {problem!r} value")
        else:
            yield Row(number, record)
