"""Parsing Delighted's response JSON (API pages and webhooks) defensively."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys import parse_delighted_response, parse_delighted_webhook
from connectors.surveys.fields import MAX_COMMENT_CHARS, TRUNCATION_PROPERTY

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
CREATED = int(datetime(2026, 5, 1, tzinfo=UTC).timestamp())


def raw(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "42",
        "person": {"id": "7", "email": " Jane.Doe@Example.COM ", "name": "Jane Doe"},
        "survey_type": "nps",
        "score": 3,
        "comment": "Too slow.",
        "permalink": "https://delighted.com/r/abc",
        "created_at": CREATED,
        "updated_at": CREATED + 60,
        "person_properties": {"plan": "SMB", "Delighted Source": "Email", "seats": 12},
        "notes": [],
        "tags": [],
        "additional_answers": [],
    }
    item.update(overrides)
    return item


def parse(item: object) -> SurveyResponse | SourceProblem:
    return parse_delighted_response(item, source="delighted", until=UNTIL)


def test_a_complete_response_becomes_a_plain_record() -> None:
    parsed = parse(raw())
    assert parsed == SurveyResponse(
        source="delighted",
        response_id="42",
        email="jane.doe@example.com",
        score=3,
        comment="Too slow.",
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        updated_at=datetime(2026, 5, 1, 0, 1, tzinfo=UTC),
        person_name="Jane Doe",
        properties={"plan": "SMB", "Delighted Source": "Email", "seats": "12"},
        survey_type="relationship",
        channel="email",
        permalink="https://delighted.com/r/abc",
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"score": 11}, "score 11 is not a whole number from 0 to 10"),
        ({"score": -1}, "score -1 is not a whole number from 0 to 10"),
        ({"score": "9"}, None),
        ({"score": 9.5}, "score 9.5 is not a whole number from 0 to 10"),
        ({"score": 9.0}, None),
        ({"score": 11.0}, "score 11.0 is not a whole number from 0 to 10"),
        ({"created_at": "2026-01-02t03:04:05z"}, None),
        ({"score": True}, "score True is not a whole number from 0 to 10"),
        ({"score": None}, "missing score"),
        ({"person": "7"}, "missing email: person not expanded"),
        ({"person": {"id": "7", "email": None}}, "missing email"),
        (
            {"person": {"email": "jane doe@example.com"}},
            "invalid email (a space inside): 'j*** d***@e***.c***'",
        ),
        (
            {"person": {"email": "jane@exa\x00mple.com"}},
            "invalid email (a control character inside)",
        ),
        ({"person": {"email": "jane@@example.com"}}, "invalid email (more than one @)"),
        (
            {"person": {"email": "jane@localhost"}},
            "invalid email (no dot in the domain): 'j***@l***'",
        ),
        ({"created_at": "soon"}, "created_at 'soon' is not a Unix time or ISO 8601 date"),
        ({"created_at": 0}, "created_at 1970-01-01T00:00:00+00:00 is before 2000"),
        ({"created_at": None}, "missing created_at"),
        ({"updated_at": 10**20}, "updated_at 100000000000000000000 is not a Unix time or ISO"),
        (
            {"created_at": int(UNTIL.timestamp()) + 3600, "updated_at": None},
            "created_at 2026-06-01T01:00:00+00:00 is in the future",
        ),
        ({"survey_type": "csat"}, "survey type 'csat' is not NPS"),
        ({"id": None}, "missing response id"),
    ],
)
def test_malformed_responses_become_problems(overrides: dict[str, Any], reason: str | None) -> None:
    parsed = parse(raw(**overrides))
    if reason is None:
        assert isinstance(parsed, SurveyResponse)
        return
    assert isinstance(parsed, SourceProblem)
    assert parsed.reason.startswith(reason)
    assert parsed.location == f"delighted response {overrides.get('id', '42') or '(no id)'}"


def test_a_non_object_is_a_problem() -> None:
    assert parse(["not", "a", "response"]) == SourceProblem(
        "delighted", "delighted response (unknown)", "not a JSON object"
    )


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://delighted.com/r/abc", "https://delighted.com/r/abc"),
        ("HTTP://survey.example/r/1", "HTTP://survey.example/r/1"),
        ("javascript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("ftp://files.example/r/1", ""),
        ("https://", ""),
        (None, ""),
    ],
)
def test_only_a_web_link_is_kept_as_the_permalink(link: str | None, kept: str) -> None:
    parsed = parse(raw(permalink=link))
    assert isinstance(parsed, SurveyResponse)
    assert parsed.permalink == kept


def test_small_clock_skew_is_tolerated_and_updated_never_precedes_created() -> None:
    skewed = int(UNTIL.timestamp()) + 60
    parsed = parse(raw(created_at=skewed, updated_at=skewed - 3600))
    assert isinstance(parsed, SurveyResponse)
    assert parsed.updated_at == parsed.created_at


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (None, ""),
        ("  Great!\r\nThanks\t:)  ", "Great!\nThanks\t:)"),
        ("bad\x00bytes\x1b[31m here\x7f", "badbytes[31m here"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("emoji 👍 and ünïcödé — fine", "emoji 👍 and ünïcödé — fine"),
    ],
)
def test_comments_keep_text_but_lose_control_characters(comment: str | None, expected: str) -> None:
    parsed = parse(raw(comment=comment))
    assert isinstance(parsed, SurveyResponse)
    assert parsed.comment == expected
    assert TRUNCATION_PROPERTY not in parsed.properties


def test_huge_comments_are_cut_and_the_cut_is_recorded() -> None:
    parsed = parse(raw(comment="x" * 40_000))
    assert isinstance(parsed, SurveyResponse)
    assert len(parsed.comment) == MAX_COMMENT_CHARS
    assert parsed.properties[TRUNCATION_PROPERTY] == "40000"


def test_properties_become_short_strings() -> None:
    parsed = parse(
        raw(
            person_properties={"n": 3, "flag": False, "none": None, "list": [1, 2], "x": "y" * 5000}
        )
    )
    assert isinstance(parsed, SurveyResponse)
    assert parsed.properties == {"n": "3", "flag": "false", "list": "[1, 2]", "x": "y" * 1000}


def webhook(event_type: str, data: object) -> bytes:
    return json.dumps({"event_type": event_type, "event_id": "e1", "event_data": data}).encode()


def test_webhook_events_parse_like_api_responses() -> None:
    for event in ("survey_response.created", "survey_response.updated"):
        assert parse_delighted_webhook(webhook(event, raw()), received_at=UNTIL) == parse(raw())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "invalid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b'{"event_data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid JSON: nested too deeply"),
        (b'{"score": ' + b"9" * 5000 + b"}", "invalid JSON: a number with more than 4,300 digits"),
        (b"[]", "not a JSON object"),
        (webhook("unsubscribe.created", raw()), "unsupported event type 'unsubscribe.created'"),
        (webhook("survey_response.created", raw(score=12)), "score 12 is not"),
    ],
)
def test_bad_webhook_bodies_become_problems(body: bytes, reason: str) -> None:
    parsed = parse_delighted_webhook(body, received_at=UNTIL)
    assert isinstance(parsed, SourceProblem)
    assert parsed.reason.startswith(reason)


@pytest.mark.parametrize(
    ("email", "accepted"),
    [
        ("first.last+nps@example.co.uk", True),
        ("o'brien@example.com", True),
        ("under_score-dash%x@example.io", True),
        ("*@acme.com", False),
        ("a*b@acme.com", False),
        ("ab?@acme.com", False),
        ("a=b@acme.com", False),
        ("{x}@acme.com", False),
        ("x|y@acme.com", False),
        ("~root@acme.com", False),
        ('"quoted"@acme.com', False),
        ("a:b@acme.com", False),
        ("x(y)@acme.com", False),
    ],
)
def test_wildcards_and_search_syntax_never_pass_as_an_email(email: str, accepted: bool) -> None:
    parsed = parse(raw(person={"id": "7", "email": email}))
    assert isinstance(parsed, SurveyResponse) is accepted
    if not accepted:
        assert isinstance(parsed, SourceProblem)
        assert parsed.reason.startswith("invalid email")
