"""A record whose field holds an object or a list where text or a number belongs is rejected
without quoting it: what it holds is what the respondent wrote, and the reason is logged, stored
with the rejected record and answered to the webhook sender."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.models import SourceProblem
from connectors.surveys.delighted_format import parse_delighted_response
from connectors.surveys.fields import FieldError, build_response

SECRET = "PII-marker my card is 4111"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "source": "delighted",
    "response_id": "r1",
    "email": "pat@customer.example",
    "score": 3,
    "comment": "fine",
    "created_at": "2026-11-30T10:00:00Z",
    "updated_at": None,
    "person_name": "Pat",
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("comment", {"text": SECRET}, "comment is not text: (an object)"),
        ("comment", [SECRET, "more"], "comment is not text: (a list)"),
        ("person_name", {"n": SECRET}, "name is not text: (an object)"),
        ("email", [SECRET], "email is not text: (a list)"),
        ("score", {"s": SECRET}, "score (an object) is not a whole number from 0 to 10"),
        ("created_at", [SECRET], "created_at (a list) is not a Unix time or ISO 8601 date"),
        ("response_id", {"id": SECRET}, "response id (an object) is not text or a number"),
    ],
)
def test_a_structure_where_a_value_belongs_is_named_never_quoted(
    field: str, value: object, reason: str
) -> None:
    with pytest.raises(FieldError) as caught:
        build_response(**{**GOOD, field: value}, until=NOW)
    assert str(caught.value) == reason
    assert "PII" not in str(caught.value)


def test_a_plain_value_is_still_quoted_so_the_admin_can_find_it() -> None:
    with pytest.raises(FieldError, match=r"^score 11 is not a whole number from 0 to 10$"):
        build_response(**{**GOOD, "score": 11}, until=NOW)


@pytest.mark.parametrize(
    ("raw_id", "location"),
    [
        ("r-42", "delighted response r-42"),
        (42, "delighted response 42"),
        (
            "x\nFAKE 2026-12-07 ERROR forged",
            "delighted response 'x\\nFAKE 2026-12-07 ERROR forged'",
        ),
        ("esc\x1b[2J\x1b[31mRED", "delighted response 'esc\\x1b[2J\\x1b[31mRED'"),
        ("a\x00b", "delighted response 'a\\x00b'"),
        ("rtl\u202egnp.exe", "delighted response 'rtl\\u202egnp.exe'"),
        ("d" * 1000, "delighted response " + "d" * 200 + "..."),
        ({"id": SECRET}, "delighted response (no id)"),
    ],
)
def test_a_rejected_records_location_cannot_forge_a_log_line_or_drive_a_terminal(
    raw_id: object, location: str
) -> None:
    problem = parse_delighted_response(
        {"id": raw_id, "score": 11, "created_at": 1764500000, "person": {"email": "p@x.example"}},
        source="delighted",
        until=NOW,
    )
    assert isinstance(problem, SourceProblem)
    assert problem.location == location
    assert "\n" not in str(problem)
    assert "\x1b" not in str(problem)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("score", "９", "score '９' is not a whole number from 0 to 10"),
        ("score", "١٠", "score '١٠' is not a whole number from 0 to 10"),
        (
            "created_at",
            "１７６４５０００００",
            "created_at '１７６４５０００００' is not a Unix time or ISO 8601 date",
        ),
    ],
)
def test_digits_of_other_scripts_are_not_read_as_a_score_or_a_time(
    field: str, value: str, reason: str
) -> None:
    with pytest.raises(FieldError) as caught:
        build_response(**{**GOOD, field: value}, until=NOW)
    assert str(caught.value) == reason


def test_bidirectional_overrides_are_taken_out_of_a_comment_and_a_name() -> None:
    """An override makes every screen that shows the text show it reordered: "refund‮ 01 ‬"
    would read as a promise the respondent never wrote. Right-to-left text itself stays."""
    response = build_response(
        **{
            **GOOD,
            "comment": "pay \u202eyaw on\u202c please \u2067שלום\u2069 ok",
            "person_name": "\u202dPat\u202c",
        },
        until=NOW,
    )
    assert response.comment == "pay yaw on please שלום ok"
    assert response.person_name == "Pat"
