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

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from connectors.surveys.files import (
    MAX_RECORD_CHARS,
    bounded_lines,
    csv_delimiter,
    csv_encoding,
    csv_error_reason,
)
from sync.core.errors import EXIT_CONFIG_FILE, SyncError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: Bytes that were not UTF-8, as ``surrogateescape`` keeps them.
_UNDECODED = re.compile("[\udc80-\udcff]")
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
    """The rows of a CSV or JSONL file that has the ``required`` columns (others are ignored)."""
    try:
        if _is_jsonl(path):
            yield from _jsonl_rows(path, required)
        else:
            yield from _csv_rows(path, required)
    except UnicodeDecodeError as error:
        raise CommentFileError(f"{path}: not UTF-16 text ({error.reason})") from None
    except OSError as error:
        raise CommentFileError(f"{path}: cannot be read ({error.strerror})") from None


def _is_jsonl(path: Path) -> bool:
    if path.suffix.lower() in JSON_SUFFIXES:
        return True
    if path.suffix.lower() == ".csv":
        return False
    with path.open("rb") as handle:
        return handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _csv_text(path: Path) -> IO[str]:
    """The file as text (:func:`~connectors.surveys.files.csv_encoding`), with bytes that do not
    decode kept as escapes, for the row holding them to be reported on its own."""
    with path.open("rb") as handle:
        encoding = csv_encoding(handle.read(2))
    return path.open(encoding=encoding, errors="surrogateescape", newline="")


def _csv_rows(path: Path, required: Sequence[str]) -> Iterator[Row | BadRow]:
    if csv.field_size_limit() < MAX_RECORD_CHARS:  # as survey exports: raised, never lowered
        csv.field_size_limit(MAX_RECORD_CHARS)
    with _csv_text(path) as handle:
        delimiter = csv_delimiter(handle.readline())
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=delimiter)
        if any(_UNDECODED.search(name) for name in reader.fieldnames or []):
            raise CommentFileError(f"{path}:1: the header is not UTF-8 text{_SAVE_AS_UTF8}")
        columns = _named(reader.fieldnames or [], required)
        missing = [c for c in required if c not in columns]
        if missing:
            listed = ", ".join(repr(c) for c in missing)
            raise CommentFileError(
                f"{path}:1: the header has no {listed} column; "
                f"the file needs the columns {', '.join(required)}"
            )
        reader.fieldnames = columns
        start = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield BadRow(start, f"not valid CSV ({csv_error_reason(error)})")
                # The reader may not count the line it gave up on: the next row starts after it.
                start = max(reader.line_num, start) + 1
                continue
            problem = next((c for c in required if record.get(c) is None), None)
            if None in record:  # DictReader's key for the fields beyond the header's
                yield BadRow(start, f"the row has more fields than the header's {len(columns)}")
            elif any(_UNDECODED.search(record.get(c) or "") for c in required):
                yield BadRow(start, "not UTF-8 text")  # in a column it reads: others are ignored
            elif problem:
                yield BadRow(start, f"the row has no {problem!r} value")
            else:
                yield Row(start, dict(record))
            start = reader.line_num + 1


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


def _jsonl_rows(path: Path, required: Sequence[str]) -> Iterator[Row | BadRow]:
    with path.open("rb") as handle:
        for number, raw in bounded_lines(handle):
            if raw is None:
                yield BadRow(number, f"the line is longer than {MAX_RECORD_CHARS:,} characters")
                continue
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield BadRow(number, "not UTF-8 text")
                continue
            except json.JSONDecodeError as error:
                yield BadRow(number, f"not a JSON object ({error.msg})")
                continue
            if not isinstance(record, dict):
                yield BadRow(number, "not a JSON object")
                continue
            problem = next((c for c in required if c not in record), None)
            if problem:
                yield BadRow(number, f"the row has no {problem!r} value")
            else:
                yield Row(number, record)
