"""Parsing Typeform's response JSON (API items and webhooks) defensively, by question ref."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys import TypeformMapping, parse_typeform_response, parse_typeform_webhook
from connectors.surveys.typeform_format import webhook_event_id

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
MAPPING = TypeformMapping(
    form_id="lT4Z3j",
    score_ref="nps",
    comment_ref="why",
    hidden_properties={"sfid": "Salesforce Contact Id", "zdid": "Zendesk User Id"},
)


def score(value: object, *, kind: str = "opinion_scale", ref: str = "nps") -> dict[str, Any]:
    return {"field": {"id": "f1", "type": kind, "ref": ref}, "type": "number", "number": value}


def text(value: object, *, ref: str = "why") -> dict[str, Any]:
    return {"field": {"id": "f2", "type": "long_text", "ref": ref}, "type": "text", "text": value}


def item(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "landing_id": "a3a12ec6",
        "token": "a3a12ec6",
        "response_id": "a3a12ec6",
        "landed_at": "2026-05-01T09:50:00Z",
        "submitted_at": "2026-05-01T10:00:00Z",
        "metadata": {"platform": "other", "browser": "default"},
        "hidden": {
            "email": " Jane.Doe@Example.COM ",
            "name": "Jane Doe",
            "sfid": "0035g00000AbCdEAAV",
            "zdid": "9001",
            "plan": "SMB",
        },
        "calculated": {"score": 0},
        "answers": [
            {"field": {"id": "f0", "type": "yes_no", "ref": "other"}, "type": "boolean",
             "boolean": True},
            score(3),
            text("Too slow."),
        ],
    }  # fmt: skip
    raw.update(overrides)
    return raw


def parse(raw: object) -> SurveyResponse | SourceProblem:
    return parse_typeform_response(raw, source="typeform", mapping=MAPPING, until=UNTIL)


def test_an_item_becomes_a_plain_record_by_question_ref_and_hidden_fields() -> None:
    assert parse(item()) == SurveyResponse(
        source="typeform",
        response_id="a3a12ec6",
        email="jane.doe@example.com",
        score=3,
        comment="Too slow.",
        created_at=datetime(2026, 5, 1, 9, 50, tzinfo=UTC),  # landed; an edit keeps it
        updated_at=datetime(2026, 5, 1, 10, tzinfo=UTC),  # submitted; an edit moves it
        person_name="Jane Doe",
        properties={
            "name": "Jane Doe",
            "Salesforce Contact Id": "0035g00000AbCdEAAV",
            "Zendesk User Id": "9001",
            "plan": "SMB",
        },
        channel="typeform",
    )


def test_an_nps_question_counts_and_the_email_may_come_from_an_email_answer() -> None:
    email = {"field": {"id": "f3", "type": "email", "ref": "mail"}, "type": "email",
             "email": "pat@example.com"}  # fmt: skip
    parsed = parse(item(hidden={}, answers=[score(10, kind="nps"), email]))
    assert isinstance(parsed, SurveyResponse)
    assert (parsed.email, parsed.score, parsed.comment) == ("pat@example.com", 10, "")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"submitted_at": None}, "not submitted (a partial response): no submitted_at"),
        ({"answers": [text("hi")]}, "missing score: no answer to the question with ref 'nps'"),
        ({"answers": [score(11)]}, "score 11 is not a whole number from 0 to 10"),
        ({"answers": [score(4.5)]}, "score 4.5 is not a whole number from 0 to 10"),
        (
            {"answers": [score(4, kind="rating")]},
            "the question with ref 'nps' is a 'rating' question, not an opinion scale or NPS",
        ),
        ({"answers": [score(4), text(7)]}, "comment is not text: 7"),
        ({"answers": "none"}, "answers is not a list"),
        ({"hidden": {"email": "not an address"}},
         "invalid email (a space inside): 'n*** a*** a***'"),
        ({"submitted_at": "2027-01-01T00:00:00Z"},
         "updated_at 2027-01-01T00:00:00+00:00 is in the future (ahead of this machine's clock)"),
        ({"submitted_at": "last week"},
         "updated_at 'l*** w***' is not a Unix time or ISO 8601 date"),
        ({"landed_at": "2027-01-01T00:00:00Z"},
         "created_at 2027-01-01T00:00:00+00:00 is in the future (ahead of this machine's clock)"),
    ],
)  # fmt: skip
def test_malformed_items_are_problems_named_by_their_token(
    overrides: dict[str, Any], reason: str
) -> None:
    assert parse(item(**overrides)) == SourceProblem(
        "typeform", "typeform response a3a12ec6", reason
    )


def test_an_item_without_a_token_or_not_an_object_is_a_problem() -> None:
    assert parse(item(token=None, response_id=None)) == SourceProblem(
        "typeform", "typeform response (no token)", "missing response token"
    )
    assert parse([1]) == SourceProblem(
        "typeform", "typeform response (unknown)", "not a JSON object"
    )


def event(form_response: dict[str, Any], **overrides: Any) -> bytes:
    body = {"event_id": "01HXYZ", "event_type": "form_response", "form_response": form_response}
    body.update(overrides)
    return json.dumps(body).encode()


def webhook(body: bytes) -> SurveyResponse | SourceProblem:
    return parse_typeform_webhook(body, received_at=UNTIL, source="typeform", mapping=MAPPING)


def test_a_webhook_reads_the_same_as_the_listed_item() -> None:
    form_response = item()
    for key in ("response_id", "landing_id", "metadata"):
        form_response.pop(key)
    form_response.update({"form_id": "lT4Z3j", "definition": {"id": "lT4Z3j", "fields": []}})
    assert webhook(event(form_response)) == parse(item())
    assert webhook_event_id(event(form_response)) == "01HXYZ"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "invalid JSON: Expecting property name enclosed in double quotes at column 2"),
        (b"[]", "not a JSON object"),
        (event({}, event_type="form_partial_response"),
         "unsupported event type 'form_partial_response'"),
        (event({**item(), "form_id": "other"}), "form 'other' is not this source's form 'lT4Z3j'"),
    ],
)  # fmt: skip
def test_a_webhook_that_is_not_a_response_of_this_form_says_why(body: bytes, reason: str) -> None:
    assert webhook(body) == SourceProblem("typeform", "typeform webhook", reason)
    assert webhook_event_id(b"{") is None
