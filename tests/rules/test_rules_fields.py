"""Field catalogue helpers: durations, derived fields, command-line values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules import (
    BUILTIN_FIELDS,
    category_for,
    derive_fields,
    format_duration,
    parse_duration,
    parse_field_value,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("0d", timedelta(0)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    "text",
    ["2 days", "1.5d", "d", "-1d", "1y", "400d", "", "2D", "1d\n", "99999999999999999999d"],
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(timedelta(hours=48), "2d"), (timedelta(hours=36), "36h"), (timedelta(seconds=90), "90s")],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("score", "category"), [(0, "detractor"), (6, "detractor"), (7, "passive"), (9, "promoter")]
)
def test_category_for(score: int, category: str) -> None:
    assert category_for(score) == category


def test_derive_fields_fills_what_follows_from_the_answer() -> None:
    derived = derive_fields({"score": 4, "previous_score": 9, "comment": " Slow "})
    assert derived == {
        "score": 4,
        "previous_score": 9,
        "comment": " Slow ",
        "category": "detractor",
        "score_change": -5,
        "comment_present": True,
        "comment_length": 6,
    }


def test_derive_fields_keeps_given_values_and_skips_missing_ones() -> None:
    assert derive_fields({"score": 4, "category": "passive"})["category"] == "passive"
    assert derive_fields({"comment": None}) == {"comment": None}
    assert derive_fields({"comment": "  "})["comment_present"] is False


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("score", "7", 7),
        ("account.arr", "1200.5", 1200.5),
        ("account.arr", "1200", 1200),
        ("matched.zendesk", "false", False),
        ("matched.zendesk", "yes", True),
        ("matched.zendesk", "No", False),
        ("account.region", "123", "123"),
        ("comment", "null", None),
    ],
)
def test_command_line_values_follow_the_field_type(field: str, text: str, value: object) -> None:
    parsed = parse_field_value(BUILTIN_FIELDS[field], text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("score", "7.5"),
        ("matched.zendesk", "maybe"),
        ("account.arr", "nan"),
        ("sentiment", "-5"),  # out of its range, as a rule's condition would be refused
        ("score", "11"),
        ("comment_length", "-1"),
    ],
)
def test_command_line_values_that_do_not_fit(field: str, text: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_field_value(BUILTIN_FIELDS[field], text)


def test_every_builtin_field_sample_fits_its_type() -> None:
    for spec in BUILTIN_FIELDS.values():
        assert spec.accepts(spec.sample), spec.name
