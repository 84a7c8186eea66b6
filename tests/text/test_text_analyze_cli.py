"""``nps-sync text analyze``: the output contract, both input formats, bad rows and bad files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.surveys.csv_records import MAX_RECORD_CHARS
from sync.cli import main


def analyze(*args: str | Path) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["text", "analyze", *map(str, args)])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def test_csv_comments_become_one_json_line_each_in_order(tmp_path: Path, themes_file: Path) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text(
        "score,id,comment,email\n"
        '3,a-1,"Setup was confusing,\nnobody helped us get started",x@example.com\n'
        "10,a-2,Great value for money!,y@example.com\n"
        "7,a-3,,z@example.com\n",
        encoding="utf-8",
    )
    code, lines, _ = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 0
    assert [list(line) for line in lines] == [["id", "sentiment", "themes"]] * 3
    assert [line["id"] for line in lines] == ["a-1", "a-2", "a-3"]
    assert lines[0]["themes"] == ["onboarding"]
    assert lines[1]["themes"] == ["pricing"]
    assert lines[2] == {"id": "a-3", "sentiment": 0.0, "themes": []}
    assert isinstance(lines[1]["sentiment"], float)
    assert lines[1]["sentiment"] > 0 > lines[0]["sentiment"]


def test_jsonl_bad_rows_are_reported_by_line_and_the_rest_is_written(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.jsonl"
    comments.write_text(
        '{"id": 1, "comment": "too expensive", "nps": 2}\n'
        "\n"
        "not json\n"
        '{"comment": "no id"}\n'
        '{"id": 5, "comment": ["a list"]}\n'
        '{"id": 6, "comment": "support was slow"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    code, _, stderr = analyze(comments, "--taxonomy", themes_file, "--out", out)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(line["id"], line["themes"][:1]) for line in written] == [
        (1, ["pricing"]),
        (6, ["support"]),
    ]
    assert code == 1
    assert f"{comments}:3: not a JSON object" in stderr
    assert f"{comments}:4: the row has no 'id' value; row skipped" in stderr
    assert f"{comments}:5: 'comment' must be text; row skipped" in stderr
    assert "no id" not in stderr.replace("no 'id'", "")  # comments are never echoed


@pytest.mark.parametrize(
    "content",
    [
        "ID;Comment;Score\n1;too expensive, really;2\n2;support was slow;5\n",
        "Id\tCOMMENT\n1\ttoo expensive, really\n2\tsupport was slow\n",
        '"id"|"comment"\n1|"too expensive, really"\n2|support was slow\n',
    ],
    ids=["semicolons", "tabs", "pipes"],
)
def test_spreadsheet_exports_with_other_separators_and_header_cases_are_read(
    tmp_path: Path, themes_file: Path, content: str
) -> None:
    comments = tmp_path / "export.csv"
    comments.write_text(content, encoding="utf-8")
    code, lines, _ = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 0
    assert [(line["id"], line["themes"][:1]) for line in lines] == [
        ("1", ["pricing"]),
        ("2", ["support"]),
    ]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("id,text", "the header has no 'comment' column"),
        ("id,comment,id", "the header has the column 'id' more than once"),
        ("ID,comment,Id", "the header has no 'id' column"),  # which one it means is a guess
    ],
)
def test_a_file_without_one_clear_id_and_comment_column_is_refused(
    tmp_path: Path, themes_file: Path, header: str, says: str
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text(f"{header}\n1,hello,2\n", encoding="utf-8")
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file)
    assert (code, lines) == (2, [])
    assert f"{comments}:1: {says}" in stderr


def test_a_wrong_taxonomy_stops_the_command_with_its_positions(tmp_path: Path) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text("id,comment\n1,hello\n", encoding="utf-8")
    themes = tmp_path / "themes.yaml"
    themes.write_text("themes:\n  - name: x\n    descripton: y\n", encoding="utf-8")
    code, lines, stderr = analyze(comments, "--taxonomy", themes)
    assert (code, lines) == (2, [])
    assert f"{themes}:3:5: unknown key 'descripton'; did you mean 'description'?" in stderr


@pytest.mark.parametrize("model", ["lexicon", "minilm"])
def test_a_labelled_file_trains_the_themes_and_unknown_themes_are_skipped(
    tmp_path: Path, themes_file: Path, model: str
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text("id,comment\n1,The dashboard logs me out all the time\n", encoding="utf-8")
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "comment,theme\n"
        "I get logged out of the dashboard every hour,Onboarding\n"
        "the dashboard session expires all the time,onboarding\n"
        "logged out again while working in the dashboard,onboarding\n"
        "my ticket was never answered,support\n"
        "the price went up again,pricing\n"
        "the app crashes,stability\n",
        encoding="utf-8",
    )
    code, lines, stderr = analyze(
        comments, "--taxonomy", themes_file, "--train", labelled, "--model", model
    )
    assert lines[0]["themes"][:1] == ["onboarding"]
    assert f"{labelled}:7: theme 'stability' is not in the taxonomy; row skipped" in stderr
    assert code == 1


def test_a_very_long_comment_is_read_in_bounded_time_and_the_rest_of_the_file_too(
    tmp_path: Path, themes_file: Path
) -> None:
    long = "The invoice was wrong again and support was slow to answer. " * 5_000  # 300,000
    comments = tmp_path / "comments.csv"
    comments.write_text(f'id,comment\n1,"{long}"\n2,Great value for money!\n', encoding="utf-8")
    started = time.monotonic()
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    # The lexicon's time grows with the square of what it reads: this comment whole took minutes.
    assert time.monotonic() - started < 30
    assert code == 0, stderr
    assert [line["id"] for line in lines] == ["1", "2"]
    assert lines[0]["sentiment"] < -0.5 < 0.5 < lines[1]["sentiment"]


def test_oversized_and_ragged_rows_are_skipped_by_line_and_the_rest_is_read(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text(
        "id,comment\n"
        "1,too expensive\n"
        f'2,"{"x" * (MAX_RECORD_CHARS + 10)}"\n'
        "3,too expensive, and the invoice was wrong\n"  # a comma the export did not quote
        "4,support was slow\n",
        encoding="utf-8",
    )
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 1
    assert [line["id"] for line in lines] == ["1", "4"]
    assert f"{comments}:3: not valid CSV (a line is longer than 8,388,608 characters)" in stderr
    assert f"{comments}:4: not valid CSV (expected 2 columns, found 3); row skipped" in stderr


def test_an_oversized_jsonl_line_is_skipped_and_the_rest_is_read(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.jsonl"
    big = json.dumps({"id": 2, "comment": "x" * (MAX_RECORD_CHARS + 10)})
    comments.write_text(
        f'{{"id": 1, "comment": "too expensive"}}\n{big}\n{{"id": 3, "comment": "slow"}}\n',
        encoding="utf-8",
    )
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 1
    assert [line["id"] for line in lines] == [1, 3]
    assert f"{comments}:2: the line is longer than 8,388,608 characters; row skipped" in stderr


def test_a_row_that_is_not_utf8_is_skipped_and_the_rest_is_read(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_bytes(  # one comment saved as Latin-1 among UTF-8 ones; a column not read
        b"id,comment,region\n1,too expensive,nord\n2,caf\xe9 was awful,sud\n"
        b"3,support was slow,\xeele\n"
    )
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 1
    assert [line["id"] for line in lines] == ["1", "3"]
    assert f"{comments}:3: not UTF-8 text; row skipped" in stderr


def test_a_utf16_export_with_its_byte_order_mark_is_read(tmp_path: Path, themes_file: Path) -> None:
    comments = tmp_path / "unicode-text.txt"  # a spreadsheet's "Unicode text": UTF-16, tabs
    comments.write_text("id\tcomment\n1\ttoo expensive\n2\tsupport was slow\n", encoding="utf-16")
    code, lines, _ = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 0
    assert [(line["id"], line["themes"][:1]) for line in lines] == [
        ("1", ["pricing"]),
        ("2", ["support"]),
    ]


def test_a_header_that_is_not_utf8_refuses_the_file_with_a_hint(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_bytes(b"id,comment,r\xe9gion\n1,too expensive,nord\n")
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file)
    assert (code, lines) == (2, [])
    assert f"{comments}:1: the header is not UTF-8 text" in stderr
    assert '(save it as UTF-8: in a spreadsheet, "CSV UTF-8")' in stderr


def test_an_unterminated_quote_loses_its_own_row_not_the_rest(
    tmp_path: Path, themes_file: Path
) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text(
        'id,comment\n1,"line one\nline two"\n2,"unterminated\n'
        "3,support was slow\n4,too expensive\n",
        encoding="utf-8",
    )
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert [line["id"] for line in lines] == ["1", "3", "4"]
    assert code == 1
    assert f"{comments}:4: not valid CSV (malformed CSV: " in stderr
    assert "seems never closed" in stderr


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": 1, "comment": "x", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        ('{"id": ' + "9" * 5000 + ', "comment": "x"}', "not a JSON object (invalid JSON"),
        ('{"id": "\\ud800", "comment": "x"}', "'id' is not valid Unicode text"),
    ],
    ids=["deep nesting", "5,000 digits", "lone surrogate id"],
)
def test_a_jsonl_row_python_cannot_read_or_write_is_skipped_by_line(
    tmp_path: Path, themes_file: Path, line: str, reason: str
) -> None:
    comments = tmp_path / "comments.jsonl"
    comments.write_text(
        f'{line}\n{{"id": 2, "comment": "support was slow \\udc80"}}\n', encoding="utf-8"
    )
    code, lines, stderr = analyze(comments, "--taxonomy", themes_file, "--model", "lexicon")
    assert code == 1
    assert [line["id"] for line in lines] == [2]
    assert f"{comments}:1: " in stderr
    assert reason in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_pipe_is_read_as_a_file(tmp_path: Path, themes_file: Path, kind: str) -> None:
    import os
    import threading

    body = (
        "id,comment\n1,support was slow\n"
        if kind == "csv"
        else '{"id": 1, "comment": "support was slow"}\n'
    )
    pipe = tmp_path / "comments"
    os.mkfifo(pipe)

    def feed() -> None:
        with pipe.open("w", encoding="utf-8") as writer:
            writer.write(body)

    feeder = threading.Thread(target=feed)
    feeder.start()
    code, lines, stderr = analyze(pipe, "--taxonomy", themes_file, "--model", "lexicon")
    feeder.join(timeout=10)
    assert code == 0, stderr
    assert [line["id"] for line in lines] == (["1"] if kind == "csv" else [1])


def test_a_device_is_refused(themes_file: Path) -> None:
    code, lines, stderr = analyze("/dev/zero", "--taxonomy", themes_file)
    assert (code, lines) == (2, [])
    assert "/dev/zero: not a file or a pipe" in stderr


def test_an_out_path_in_a_missing_folder_is_exit_2(tmp_path: Path, themes_file: Path) -> None:
    comments = tmp_path / "comments.csv"
    comments.write_text("id,comment\n1,support was slow\n", encoding="utf-8")
    out = tmp_path / "missing" / "out.jsonl"
    code, _, stderr = analyze(comments, "--taxonomy", themes_file, "--out", out)
    assert code == 2
    assert f"cannot write {out}: No such file or directory" in stderr
    assert "Traceback" not in stderr
