"""FileSource: CSV and JSON Lines exports, one bad line never spoils the rest."""

from __future__ import annotations

import csv
import io
import json
import logging
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.errors import ConfigError
from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys import FileSource, SourcePage
from connectors.surveys.csv_records import MAX_RECORD_CHARS
from connectors.surveys.fields import MAX_COMMENT_CHARS, TRUNCATION_PROPERTY, derive_response_id
from sync.core.retry import RetryPolicy
from sync.stages.pull import pull
from sync.state import StateStore

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
HEADER = (
    "response_id,email,score,comment,created_at,updated_at,name,properties.plan,property:region"
)
GOOD_CSV = HEADER + "\nr1,Jane@Example.com,9,Great,2026-05-01T10:00:00Z,,Jane,SMB,EMEA\n"


def read(path: Path, cursor: str | None = None) -> list[SourcePage]:
    return list(FileSource(path).pages(cursor, until=UNTIL))


def responses(pages: list[SourcePage]) -> list[SurveyResponse]:
    return [r for page in pages for r in page.responses]


def problems(pages: list[SourcePage]) -> list[SourceProblem]:
    return [p for page in pages for p in page.problems]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_csv_rows_become_responses(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", GOOD_CSV)
    (response,) = responses(read(path))
    assert response == SurveyResponse(
        source="file:export.csv",
        response_id="r1",
        email="jane@example.com",
        score=9,
        comment="Great",
        created_at=datetime(2026, 5, 1, 10, tzinfo=UTC),
        updated_at=datetime(2026, 5, 1, 10, tzinfo=UTC),
        person_name="Jane",
        properties={"plan": "SMB", "region": "EMEA"},
    )


def test_jsonl_lines_become_responses(tmp_path: Path) -> None:
    lines = [
        {"id": 17, "email": "a@b.io", "score": 6, "created_at": 1_777_000_000,
         "updated_at": "2026-04-25T03:10:00+02:00", "properties": {"plan": "SMB", "seats": 4},
         "channel": "Web", "language": "de"},
    ]  # fmt: skip
    path = write(tmp_path, "export.ndjson", "\n".join(json.dumps(x) for x in lines))
    (response,) = responses(read(path))
    assert response.response_id == "17"
    assert response.created_at == datetime.fromtimestamp(1_777_000_000, tz=UTC)
    assert response.updated_at == datetime(2026, 4, 25, 1, 10, tzinfo=UTC)
    assert response.properties == {"plan": "SMB", "seats": "4"}
    assert (response.channel, response.language) == ("web", "de")


def test_a_multi_line_csv_comment_is_one_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        HEADER
        + '\nr1,a@b.io,3,"Line one\nline two",2026-05-01,,,,\nr2,c@d.io,10,,2026-05-02,,,,\n',
    )
    pages = read(path)
    assert [r.comment for r in responses(pages)] == ["Line one\nline two", ""]
    assert problems(pages) == []


CSV_CASES = [
    ("r2,a@b.io,11,x,2026-05-01,,,,", "score '11' is not a whole number from 0 to 10"),
    ("r2,,7,x,2026-05-01,,,,", "missing email"),
    ("r2,a b@c.io,7,x,2026-05-01,,,,", "invalid email (a space inside): 'a*** b***@c***.i***'"),
    ("r2,a@b.io,7,x,yesterday,,,,", "created_at 'yesterday' is not a Unix time or ISO 8601 date"),
    ("r2,a@b.io,7,x,2030-01-01,,,,", "created_at 2030-01-01T00:00:00+00:00 is in the future"),
    ("r2,a@b.io,7,x", "expected 9 columns, found 4"),
    ("r2,a@b.io,7,x,2026-05-01,,,,,extra", "expected 9 columns, found 10"),
    ('r2,a@b.io,7,"unterminated" here,2026-05-01,,,,', "malformed CSV"),
]


@pytest.mark.parametrize(("line", "reason"), CSV_CASES)
def test_csv_bad_lines_are_reported_at_their_line(tmp_path: Path, line: str, reason: str) -> None:
    content = GOOD_CSV + line + "\nr3,z@y.io,8,ok,2026-05-03,,,,\n"
    path = write(tmp_path, "bad.csv", content)
    pages = read(path)
    assert [r.response_id for r in responses(pages)] == ["r1", "r3"]
    (problem,) = problems(pages)
    assert problem.location == f"{path}:3"
    assert problem.reason.startswith(reason)


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        pytest.param(
            ["r3,z@y.io,8,ok,2026-05-03,,,,", "r4,x@y.io,9,fine,2026-05-04,,,,"],
            "malformed CSV: unexpected end of data",
            id="no quote mark after it",
        ),
        pytest.param(
            ["r3,z@y.io,8,ok,2026-05-03,,,,", 'r4,x@y.io,9,"a, quoted\nline",2026-05-04,,,,'],
            "malformed CSV: ',' expected after '\"'",
            id="a later quoted field",
        ),
        pytest.param(
            ["r3,z@y.io,8,ok,2026-05-03,,,,", 'r4,x@y.io,9,a",x,2026-05-04,,,,'],
            "expected 9 columns, found 10",
            id="a later quote mark closes it",
        ),
    ],
)
def test_a_quote_never_closed_loses_its_own_line_not_the_rest_of_the_file(
    tmp_path: Path, later: list[str], reason: str
) -> None:
    lines = [*GOOD_CSV.splitlines(), 'r2,a@b.io,7,"never closed,2026-05-01,,,,', *later]
    path = write(tmp_path, "quote.csv", "\n".join([*lines, "r5,w@y.io,10,end,2026-05-05,,,,\n"]))
    pages = read(path)
    found = [r.response_id for r in responses(pages)]
    assert found[:2] == ["r1", "r3"]
    assert found[-1] == "r5"
    first, *rest = problems(pages)
    assert first.location == f"{path}:3"
    assert first.reason.startswith(reason)
    assert first.reason.endswith("the lines after it are read on their own")
    assert rest == [] or [p.location for p in rest] == [f"{path}:5"]  # r4's own stray quote


def test_csv_non_utf8_line_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    content = (
        GOOD_CSV.encode() + b"r2,a@b.io,7,caf\xe9,2026-05-01,,,,\nr3,z@y.io,8,ok,2026-05-03,,,,\n"
    )
    path = write(tmp_path, "latin1.csv", content)
    pages = read(path)
    assert [r.response_id for r in responses(pages)] == ["r1", "r3"]
    assert problems(pages) == [SourceProblem("file:latin1.csv", f"{path}:3", "not valid UTF-8")]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("id,email,comment,created_at", "missing column(s): score"),
        ("id,email,score,created_at,Email", "duplicate column(s): email"),
    ],
)
def test_csv_unusable_header_is_one_problem_at_line_1(
    tmp_path: Path, header: str, reason: str
) -> None:
    path = write(tmp_path, "h.csv", header + "\n1,a@b.io,5,2026-05-01\n")
    expected = SourceProblem("file:h.csv", f"{path}:1", reason, whole_file=True)
    assert problems(read(path)) == [expected]


def test_csv_header_variants_and_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "excel.csv", "\ufeffID,Email,Score,Created At\n7,a@b.io,5,1777000000\n")
    (response,) = responses(read(path))
    assert (response.response_id, response.score) == ("7", 5)


def test_csv_separated_by_semicolons_or_tabs_is_read_as_by_commas(tmp_path: Path) -> None:
    rows = [HEADER, "r1,Jane@Example.com,9,Great,2026-05-01T10:00:00Z,,Jane,SMB,EMEA"]
    for name, separator in (("semicolons.csv", ";"), ("tabs.csv", "\t")):
        path = write(tmp_path, name, "\n".join(r.replace(",", separator) for r in rows) + "\n")
        (response,) = responses(read(path))
        assert (response.response_id, response.email, response.score) == (
            "r1",
            "jane@example.com",
            9,
        )
        assert response.properties == {"plan": "SMB", "region": "EMEA"}
    commas_in_text = write(
        tmp_path, "commas.csv", HEADER + '\nr2,a@b.io,3,"Slow; very slow",1777000000,,,,\n'
    )
    assert responses(read(commas_in_text))[0].comment == "Slow; very slow"


JSONL_CASES = [
    ('{"id": "j2", "email": "a@b.io", "score": 11, "created_at": 1777000000}', "score 11"),
    ('{"id": "j2", "score": 5, "created_at": 1777000000}', "missing email"),
    ('{"id": "j2", "email": "a@b.io", "score": 5', "invalid JSON"),
    ('["j2", "a@b.io", 5]', "expected a JSON object"),
    ('{"id": "j2", "email": "a@b.io", "score": 5, "created_at": true}', "created_at True"),
    (
        '{"id": "j2", "email": "a@b.io", "Email": "x@y.io", "score": 5, "created_at": 1777000000}',
        "duplicate keys: email (keys are read ignoring case)",
    ),
]


@pytest.mark.parametrize(("line", "reason"), JSONL_CASES)
def test_jsonl_bad_lines_are_reported_at_their_line(tmp_path: Path, line: str, reason: str) -> None:
    good = '{"id": "j1", "email": "a@b.io", "score": 5, "created_at": 1777000000}'
    other = '{"id": "j3", "email": "c@d.io", "score": 9, "created_at": "2026-05-01"}'
    path = write(tmp_path, "x.jsonl", f"{good}\n\n{line}\r\n{other}\n")
    pages = read(path)
    assert [r.response_id for r in responses(pages)] == ["j1", "j3"]
    (problem,) = problems(pages)
    assert problem.location == f"{path}:3"
    assert problem.reason.startswith(reason)


def test_jsonl_non_utf8_line(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", b'{"email": "a@b.io"}\n{"comment": "caf\xe9"}\n')
    found = problems(read(path))
    assert [(p.location, p.reason) for p in found] == [
        (f"{path}:1", "missing score"),
        (f"{path}:2", "not valid UTF-8"),
    ]


def test_missing_ids_are_derived_stably(tmp_path: Path) -> None:
    content = "email,score,created_at\nA@b.io,4,2026-05-01T00:00:00Z\n"
    first = responses(read(write(tmp_path, "a.csv", content)))[0]
    again = responses(read(write(tmp_path, "b.csv", content.replace("A@b", "a@b"))))[0]
    assert first.response_id == again.response_id
    expected = derive_response_id("a@b.io", datetime(2026, 5, 1, tzinfo=UTC), 4)
    assert first.response_id == expected
    assert first.response_id.startswith("derived-")


def test_rereading_an_unchanged_file_is_a_no_op(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", GOOD_CSV)
    pages = read(path)
    cursor = pages[-1].cursor
    assert cursor is not None
    assert cursor.startswith("sha256:")
    assert cursor.endswith(":lines:2")
    assert read(path, cursor) == []
    path.write_text(GOOD_CSV + "r9,n@m.io,10,,2026-05-04,,,,\n")
    assert [r.response_id for r in responses(read(path, cursor))] == ["r1", "r9"]


def test_a_record_dated_ahead_of_the_clock_is_read_once_the_clock_has_caught_up(
    tmp_path: Path,
) -> None:
    ahead = "r2,late@x.io,2,Billing twice,2026-06-01T00:30:00Z,,,,\n"
    path = write(tmp_path, "export.csv", GOOD_CSV + ahead)
    pages = read(path)
    assert [r.response_id for r in responses(pages)] == ["r1"]
    (problem,) = problems(pages)
    assert "is in the future" in problem.reason
    assert "read again from 2026-06-01 00:25:00 UTC" in problem.reason
    cursor = pages[-1].cursor
    assert cursor is not None
    # Unchanged file, clock not there yet: nothing read; once it is, the record is read.
    source = FileSource(path)
    assert list(source.pages(cursor, until=datetime(2026, 6, 1, 0, 20, tzinfo=UTC))) == []
    later = list(source.pages(cursor, until=datetime(2026, 6, 1, 0, 26, tzinfo=UTC)))
    assert [r.response_id for r in responses(later)] == ["r1", "r2"]
    assert problems(later) == []
    final = later[-1].cursor
    assert final is not None
    assert ":again:" not in final
    assert list(source.pages(final, until=datetime(2026, 6, 2, tzinfo=UTC))) == []


def test_only_the_last_page_carries_the_fingerprint(tmp_path: Path) -> None:
    rows = "".join(f"r{n},p{n}@x.io,{n % 11},,2026-05-01,,,,\n" for n in range(5))
    path = write(tmp_path, "big.csv", HEADER + "\n" + rows)
    pages = list(FileSource(path, page_size=2).pages(None, until=UNTIL))
    assert [len(p.responses) for p in pages] == [2, 2, 1]
    assert [p.cursor is None for p in pages] == [True, True, False]


def test_an_empty_file_still_stores_its_fingerprint(tmp_path: Path) -> None:
    pages = read(write(tmp_path, "empty.csv", ""))
    assert len(pages) == 1
    assert pages[0].responses == []
    assert pages[0].cursor is not None


def test_configuration_mistakes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported file type"):
        FileSource(tmp_path / "export.xlsx")
    with pytest.raises(ConfigError, match="cannot read"):
        read(tmp_path / "missing.csv")


def _export(tmp_path: Path, kind: str, rows: list[dict[str, str]]) -> Path:
    """A CSV or JSONL export of ``rows`` (same keys in every row)."""
    if kind == "jsonl":
        return write(tmp_path, "export.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write(tmp_path, "export.csv", buffer.getvalue())


def _row(rid: str, comment: str = "ok") -> dict[str, str]:
    return {
        "response_id": rid,
        "email": f"r{rid.strip() or 'x'}@example.com",
        "score": "3",
        "comment": comment,
        "created_at": "2026-05-01T00:00:00Z",
    }


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_both_formats_cut_a_one_megabyte_comment_the_same_way(tmp_path: Path, kind: str) -> None:
    path = _export(tmp_path, kind, [_row("1", "x" * 1_000_000), _row("2")])
    pages = read(path)
    assert problems(pages) == []
    first, second = responses(pages)
    assert len(first.comment) == MAX_COMMENT_CHARS
    assert first.properties[TRUNCATION_PROPERTY] == "1000000"
    assert second.response_id == "2"


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_record_over_the_limit_is_reported_and_the_next_one_read(
    tmp_path: Path, kind: str
) -> None:
    path = _export(tmp_path, kind, [_row("1", "x" * (MAX_RECORD_CHARS + 10)), _row("2")])
    pages = read(path)
    [problem] = problems(pages)
    assert problem.location == (f"{path}:2" if kind == "csv" else f"{path}:1")
    assert f"longer than {MAX_RECORD_CHARS:,} characters" in problem.reason
    assert [r.response_id for r in responses(pages)] == ["2"]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_an_empty_id_is_a_problem_where_the_file_has_ids(tmp_path: Path, kind: str) -> None:
    path = _export(tmp_path, kind, [_row(""), _row("  "), _row("3")])
    pages = read(path)
    assert [p.reason for p in problems(pages)] == ["empty response id"] * 2
    assert [r.response_id for r in responses(pages)] == ["3"]


def test_reading_a_large_file_keeps_memory_flat(tmp_path: Path) -> None:
    rows = "".join(
        f"{n},r{n}@example.com,{n % 11},{'words ' * 150},2026-05-01T00:00:00Z\n"
        for n in range(16_000)
    )
    path = write(tmp_path, "big.csv", "response_id,email,score,comment,created_at\n" + rows)
    assert path.stat().st_size > 15_000_000
    source = FileSource(path, page_size=500)
    tracemalloc.start()
    try:
        count = sum(len(page.responses) for page in source.pages(None, until=UNTIL))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 16_000
    assert peak < 8_000_000


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_response_id_repeated_in_a_file_is_a_warning_naming_both_lines_and_the_later_wins(
    tmp_path: Path, kind: str, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [_row("7", "Maria: first thoughts"), _row("8"), _row("7", "Maria: on reflection")]
    path = _export(tmp_path, kind, rows)
    first, again = (2, 4) if kind == "csv" else (1, 3)

    with caplog.at_level(logging.WARNING):
        stats = pull(store, [FileSource(path)], run_start=UNTIL, now=UNTIL, retry=RetryPolicy())

    assert (stats.problem_count, stats.pulled) == (0, 2)
    (warning,) = [r.getMessage() for r in caplog.records if "repeated" in r.getMessage()]
    assert warning.startswith(f"{path}:{again}: ")
    assert f"first at line {first}, again at line {again}" in warning
    assert "Maria" not in caplog.text
    stored = store.inbox.get(FileSource(path).name, "7")
    assert stored is not None
    assert stored.response.comment == "Maria: on reflection"


def test_of_two_records_with_one_id_the_later_dated_is_kept_and_an_older_edit_is_named(
    tmp_path: Path, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    later = {**_row("7", "Maria: said on the 2nd"), "created_at": "2026-05-02T00:00:00Z"}
    path = _export(tmp_path, "csv", [later, _row("7", "Maria: said on the 1st")])
    source = FileSource(path)
    with caplog.at_level(logging.WARNING):
        pull(store, [source], run_start=UNTIL, now=UNTIL, retry=RetryPolicy())
    (warning,) = [r.getMessage() for r in caplog.records if "repeated" in r.getMessage()]
    assert "the record with the later time is kept" in warning
    stored = store.inbox.get(source.name, "7")
    assert stored is not None
    assert stored.response.comment == "Maria: said on the 2nd"

    # The export is edited: the record now carries other words but an earlier date.
    _export(tmp_path, "csv", [_row("7", "Maria: rewritten")])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        stats = pull(store, [source], run_start=UNTIL, now=UNTIL, retry=RetryPolicy())
    assert stats.pulled == 0
    (older,) = [r.getMessage() for r in caplog.records if "dated before" in r.getMessage()]
    assert "'7'" in older
    assert "the stored version stays" in older
    assert "Maria" not in caplog.text
    stored = store.inbox.get(source.name, "7")
    assert stored is not None
    assert stored.response.comment == "Maria: said on the 2nd"


def test_a_shifted_column_is_reported_without_the_words_that_landed_in_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shifted.csv",
        "response_id,email,score,comment,created_at\n"
        "s1,ann@example.com,Terrible service from Jane Doe,2026-05-01T00:00:00Z,9\n"
        "s2,ann@example.com,11,fine,2026-05-01T00:00:00Z\n",
    )
    pages = list(FileSource(path).pages(None, until=UNTIL))
    assert [p.reason for p in problems(pages)] == [
        "score 'T*** s*** f*** J*** D***' is not a whole number from 0 to 10",
        "score '11' is not a whole number from 0 to 10",
    ]


@pytest.mark.parametrize(
    "giant",
    [
        pytest.param("x" * (5 * MAX_RECORD_CHARS), id="one unquoted line"),
        pytest.param("a," * (2 * MAX_RECORD_CHARS), id="a line of many short fields"),
    ],
)
def test_a_line_many_times_the_record_limit_is_skipped_without_being_held(
    tmp_path: Path, giant: str
) -> None:
    """The record limit holds for a line too: a 40 MB line took its size several times over
    before it was found too long."""
    path = write(tmp_path, "giant.csv", f"{HEADER}\n{giant}\n{GOOD_CSV.splitlines()[1]}\n")
    tracemalloc.start()
    try:
        pages = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [problem] = problems(pages)
    assert problem.location == f"{path}:2"
    assert problem.reason == f"a line is longer than {MAX_RECORD_CHARS:,} characters"
    assert [r.response_id for r in responses(pages)] == ["r1"]
    assert peak < 3 * MAX_RECORD_CHARS  # at most one record's worth of the line, not all five


def test_a_giant_header_line_is_one_problem_for_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "id," + "x" * (2 * MAX_RECORD_CHARS) + "\n1,a@b.io\n")
    [problem] = problems(read(path))
    assert problem.whole_file
    assert problem.reason == f"header: a line is longer than {MAX_RECORD_CHARS:,} characters"
