"""Survey responses from a CSV or JSON Lines export on disk.

Columns (CSV header) or keys (JSONL): ``response_id`` (or ``id``), ``email``, ``score``,
``comment``, ``created_at`` (ISO 8601 or Unix seconds), ``updated_at`` (defaults to
``created_at``), ``name``, ``survey_type``, ``channel``, ``language``, ``permalink``, and
properties as ``properties.<name>`` or ``property:<name>`` columns (or a ``properties`` object in
JSONL). Header names are matched case-insensitively, with spaces read as underscores. A CSV file
may separate its columns by ``,``, ``;`` (spreadsheets in many locales), tab or ``|``: whichever its
header line holds most of (:func:`csv_delimiter`). In a file
without an id column (or a JSONL record without the key) each record gets an id derived from
(email, created_at, score), so re-reading it is idempotent; an id that is there but empty is a
problem, as two such records would merge.

A response id that comes back later in the same file is read as an edit (the later record
wins) and reported as a warning naming the file and both lines (:class:`FirstLines`).

Both formats follow the same limits: a record (CSV row or JSONL line) may be up to
:data:`MAX_RECORD_CHARS` long, and a comment longer than the stored limit is cut and flagged
(:data:`~connectors.surveys.fields.TRUNCATION_PROPERTY`). Files are read as streams, so memory
stays flat whatever their size, but for the record of the ids read (:class:`FirstLines`).

Cursor: ``sha256:<hex of the file's bytes>:lines:<count>``. When the stored cursor equals the
file's current fingerprint the read is a no-op; otherwise the whole file is read again and the
engine de-duplicates by response id and version. Only the last page carries the fingerprint, so a
run that stops half-way reads the file again next time. A file holding records dated ahead of this
machine's clock (refused for now) adds ``:again:<moment>`` to it, the moment the earliest of them
can be read: the unchanged file is read again from then on, so those records are not lost.
"""

from __future__ import annotations

import hashlib
import io
from array import array
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, Final

from connectors.errors import ConfigError
from connectors.models import MAX_SOURCE_NAME_CHARS, SourceProblem, SourceWarning, SurveyResponse
from connectors.surveys.csv_records import (
    MAX_RECORD_CHARS,
    csv_delimiter,
    csv_encoding,
    read_csv_records,
)
from connectors.surveys.fields import FieldError, FutureMomentError, build_response, parse_json
from connectors.surveys.source import SourcePage

SUFFIXES: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REQUIRED_COLUMNS: Final = ("email", "score", "created_at")
_PROPERTY_PREFIXES: Final = ("properties.", "property:")
_CHUNK: Final = 1024 * 1024
#: Separates a file's fingerprint from the moment it is to be read again in its cursor.
_AGAIN: Final = ":again:"

Parsed = SurveyResponse | SourceProblem | SourceWarning


def file_fingerprint(data: bytes) -> str:
    """The cursor of a file with these bytes (see the module docstring)."""
    return _fingerprint(io.BytesIO(data))


def _fingerprint(stream: BinaryIO) -> str:
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    lines += 0 if last == b"\n" else 1
    return f"sha256:{digest.hexdigest()}:lines:{lines}"


def _unchanged(cursor: str | None, fingerprint: str, until: datetime) -> bool:
    """Whether the file read at ``cursor`` need not be read again at ``until``."""
    if cursor is None:
        return False
    read, _, again = cursor.partition(_AGAIN)
    if read != fingerprint:
        return False
    try:
        return not again or until < datetime.fromisoformat(again)
    except ValueError:
        return False


def default_name(path: Path) -> str:
    """``file:<file name>``; a name too long to store keeps its start and a hash of the rest."""
    name = f"file:{path.name}"
    if len(name) <= MAX_SOURCE_NAME_CHARS:
        return name
    digest = hashlib.sha256(path.name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{name[: MAX_SOURCE_NAME_CHARS - 17]}~{digest}"


class FileSource:
    """Responses from one ``.csv``, ``.jsonl`` or ``.ndjson`` file."""

    def __init__(self, path: Path, *, name: str | None = None, page_size: int = 500) -> None:
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise ConfigError(
                f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}",
                system=name or "file",
            )
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.path = path
        self.name = name or default_name(path)
        self.page_size = page_size
        self._kind = kind

    def pages(self, cursor: str | None, *, until: datetime) -> Iterator[SourcePage]:
        """Every record of the file, unless it is unchanged since ``cursor`` (and holds no
        record refused for a date ahead of the clock that ``until`` has now reached)."""
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        try:
            with self.path.open("rb") as stream:
                fingerprint = _fingerprint(stream)
                if _unchanged(cursor, fingerprint, until):
                    return
                stream.seek(0)
                yield from self._pages(self._records(stream, until), fingerprint)
        except OSError as error:
            why = error.strerror or str(error)
            raise ConfigError(f"cannot read {self.path}: {why}", system=self.name) from error

    def _pages(self, records: Iterator[Parsed], fingerprint: str) -> Iterator[SourcePage]:
        responses: list[SurveyResponse] = []
        problems: list[SourceProblem] = []
        warnings: list[SourceWarning] = []
        again: datetime | None = None
        for record in records:
            if isinstance(record, SurveyResponse):
                responses.append(record)
            elif isinstance(record, SourceWarning):
                warnings.append(record)
            else:
                problems.append(record)
                if record.readable_after is not None:
                    again = min(again or record.readable_after, record.readable_after)
            if len(responses) + len(problems) >= self.page_size:
                yield SourcePage(responses, problems, None, warnings)
                responses, problems, warnings = [], [], []
        cursor = fingerprint if again is None else f"{fingerprint}{_AGAIN}{again.isoformat()}"
        yield SourcePage(responses, problems, cursor, warnings)

    def _records(self, stream: BinaryIO, until: datetime) -> Iterator[Parsed]:
        read = _csv_records if self._kind == "csv" else _jsonl_records
        first_lines = FirstLines(self.name, str(self.path))
        for line, record in read(stream, source=self.name, path=str(self.path), until=until):
            if isinstance(record, SurveyResponse):
                repeated = first_lines.repeated(record.response_id, line)
                if repeated is not None:
                    yield repeated
            yield record


class FirstLines:
    """The line each response id of one file was first read at: a later record with the same
    id is named with both lines (never with its content); the store keeps the later-dated of
    the two, as for an edit.

    An open-addressing table of 64-bit digests and line numbers in two flat arrays, at most
    half full: 32 to 64 bytes per id, about 70 at the peak of a doubling (measured over a million
    ids: 70 MB traced at the peak, 12 s of CPU), where a dict of ids peaked at 138 bytes each."""

    def __init__(self, source: str, path: str) -> None:
        self._source, self._path = source, path
        self._digests = array("Q", bytes(8 * _FIRST_SLOTS))
        self._lines = array("Q", bytes(8 * _FIRST_SLOTS))
        self._count = 0

    def repeated(self, response_id: str, line: int) -> SourceWarning | None:
        """A warning when ``response_id`` was read before in this file; else None."""
        digest = hashlib.blake2b(response_id.encode("utf-8", "surrogatepass"), digest_size=8)
        key = int.from_bytes(digest.digest()) | 1  # never 0, the empty slot
        slot = _slot(self._digests, key)
        if self._digests[slot] == key:
            first = self._lines[slot]
            reason = (
                f"response id {response_id[:80]!r} repeated (first at line {first}, again at "
                f"line {line}): the record with the later time is kept (the later line if both "
                "have the same), as for an edit"
            )
            return SourceWarning(self._source, f"{self._path}:{line}", reason)
        self._digests[slot], self._lines[slot] = key, line
        self._count += 1
        if 2 * self._count > len(self._digests):
            self._grow()
        return None

    def _grow(self) -> None:
        digests, lines = self._digests, self._lines
        self._digests = array("Q", bytes(16 * len(digests)))
        self._lines = array("Q", bytes(16 * len(lines)))
        for key, line in zip(digests, lines, strict=True):
            if key:
                slot = _slot(self._digests, key)
                self._digests[slot], self._lines[slot] = key, line


#: The first table of :class:`FirstLines` (it doubles when half full).
_FIRST_SLOTS: Final = 1024


def _slot(digests: array[int], key: int) -> int:
    """The slot of ``key`` in ``digests`` (a power of two long), or the empty one it goes to."""
    mask = len(digests) - 1
    slot = key & mask
    while digests[slot] not in (0, key):
        slot = (slot + 1) & mask
    return slot


def _column_keys(headers: list[str]) -> list[str]:
    """Normalised names: ``properties.<name>`` for properties; ``id`` read as ``response_id``
    unless the file has both."""
    keys = [_column_key(header) for header in headers]
    if "response_id" not in keys:
        keys = ["response_id" if key == "id" else key for key in keys]
    return keys


def _column_key(header: str) -> str:
    name = header.strip()
    for prefix in _PROPERTY_PREFIXES:
        if name.lower().startswith(prefix):
            return "properties." + name[len(prefix) :].strip()
    return name.lower().replace(" ", "_").replace("-", "_")


def _has_undecodable(values: list[str]) -> bool:
    """True when a value holds bytes that were not UTF-8 (decoded as lone surrogates)."""
    return any("\udc80" <= char <= "\udcff" for value in values for char in value)


def _csv_records(
    stream: BinaryIO, *, source: str, path: str, until: datetime
) -> Iterator[tuple[int, Parsed]]:
    # UTF-16 when the file starts with its byte order mark (a spreadsheet's "Unicode text"
    # export), else UTF-8; bytes that do not decode are kept as escapes, for the row holding
    # them to be reported on its own. Closing the wrapper closes the file, which the caller's
    # ``with`` also does: harmless.
    encoding = csv_encoding(stream.read(2))
    stream.seek(0)
    with io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="") as text:
        delimiter = csv_delimiter(text.readline(MAX_RECORD_CHARS))
        text.seek(0)
        yield from _csv_rows(text, source=source, path=path, until=until, delimiter=delimiter)


def _csv_rows(
    text: IO[str], *, source: str, path: str, until: datetime, delimiter: str = ","
) -> Iterator[tuple[int, Parsed]]:
    records = read_csv_records(text, delimiter)
    header = next(records, None)
    if header is None:
        return
    if header.fields is None:
        yield 1, SourceProblem(source, f"{path}:1", f"header: {header.reason}", whole_file=True)
        return
    if _has_undecodable(header.fields):
        yield 1, SourceProblem(source, f"{path}:1", "header is not valid UTF-8", whole_file=True)
        return
    columns = _column_keys(header.fields)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or duplicated:
        reason = f"missing column(s): {', '.join(missing)}" if missing else ""
        if duplicated:
            reason = "; ".join(
                filter(None, [reason, f"duplicate column(s): {', '.join(duplicated)}"])
            )
        yield 1, SourceProblem(source, f"{path}:1", reason, whole_file=True)
        return
    for record in records:
        location = f"{path}:{record.line}"
        if record.fields is None:
            yield record.line, SourceProblem(source, location, record.reason)
        elif _has_undecodable(record.fields):
            yield record.line, SourceProblem(source, location, "not valid UTF-8")
        else:
            fields: dict[str, object] = dict(zip(columns, record.fields, strict=True))
            if "response_id" not in columns:
                fields["response_id"] = None
            yield record.line, _parse_fields(fields, source, location, until)


def bounded_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(number, line without its end) per line; None for a line over the record limit."""
    number = 0
    while True:
        line = stream.readline(MAX_RECORD_CHARS + 2)
        if not line:
            return
        number += 1
        if len(line) > MAX_RECORD_CHARS + 1 or (
            len(line) == MAX_RECORD_CHARS + 2 and not line.endswith(b"\n")
        ):
            while line and not line.endswith(b"\n"):  # skip the rest of the long line
                line = stream.readline(_CHUNK)
            yield number, None
            continue
        yield number, line.rstrip(b"\n").rstrip(b"\r")


def _jsonl_records(
    stream: BinaryIO, *, source: str, path: str, until: datetime
) -> Iterator[tuple[int, Parsed]]:
    for number, line in bounded_lines(stream):
        location = f"{path}:{number}"
        if line is None:
            reason = f"the line is longer than {MAX_RECORD_CHARS:,} characters"
            yield number, SourceProblem(source, location, reason)
            continue
        raw = line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line
        if not raw.strip():
            continue
        try:
            record = parse_json(raw)
        except FieldError as error:
            yield number, SourceProblem(source, location, str(error))
            continue
        if not isinstance(record, dict):
            yield number, SourceProblem(source, location, "expected a JSON object")
            continue
        columns = _column_keys(list(record))
        duplicated = sorted({name for name in columns if columns.count(name) > 1})
        if duplicated:  # "email" and "Email": which one is the respondent's? (CSV refuses too)
            reason = f"duplicate keys: {', '.join(duplicated)} (keys are read ignoring case)"
            yield number, SourceProblem(source, location, reason)
            continue
        fields: dict[str, object] = {"response_id": None}
        for column, value in zip(columns, record.values(), strict=True):
            if column == "properties" and isinstance(value, Mapping):
                fields.update({f"properties.{name}": item for name, item in value.items()})
            else:
                fields[column] = value
        yield number, _parse_fields(fields, source, location, until)


def _parse_fields(
    fields: Mapping[str, object], source: str, location: str, until: datetime
) -> Parsed:
    properties = {
        key.removeprefix("properties."): value
        for key, value in fields.items()
        if key.startswith("properties.") and value not in (None, "")
    }
    try:
        return build_response(
            source=source,
            response_id=fields.get("response_id"),
            email=fields.get("email"),
            score=fields.get("score"),
            comment=fields.get("comment"),
            created_at=fields.get("created_at"),
            updated_at=fields.get("updated_at"),
            until=until,
            person_name=fields.get("name"),
            properties=properties,
            survey_type=fields.get("survey_type"),
            channel=fields.get("channel"),
            language=fields.get("language"),
            permalink=fields.get("permalink"),
            derive_missing_id=True,
        )
    except FutureMomentError as problem:
        again = problem.readable_after
        reason = f"{problem}; the file is read again from {again:%Y-%m-%d %H:%M:%S} UTC"
        return SourceProblem(source, location, reason, readable_after=again)
    except FieldError as problem:
        return SourceProblem(source, location, str(problem))
