"""The customer context: the score history in answer order, labelled around the answer at hand
however late that answer was processed; the account's owner as agents should read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.stages.executors.customer_context import account_data, moment, timeline
from sync.state import PastResponse

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def answer(rid: str, days: int, score: int) -> PastResponse:
    return PastResponse("delighted", rid, AT + timedelta(days=days), score, f"comment {rid}")


def payload(days: int, score: int) -> dict[str, object]:
    submitted = (AT + timedelta(days=days)).isoformat()
    return {"response": {"score": score, "comment": "", "submitted_at": submitted}}


def test_answers_before_and_after_are_labelled_by_when_they_were_given() -> None:
    # Stored in the order nps-sync saw them: the later answer first.
    stored = [answer("late", 5, 9), answer("now", 0, 2), answer("old", -30, 8)]
    rows = timeline(stored, "delighted", "now", payload(0, 2), limit=5)
    assert [(r["score"], r["when"]) for r in rows] == [
        (8, "earlier"),
        (2, "this answer"),
        (9, "later"),
    ]
    assert rows[1]["date"] == "2026-11-20"


def test_an_answer_not_stored_yet_is_placed_by_its_submission_time() -> None:
    stored = [answer("old", -30, 8), answer("late", 5, 9)]
    rows = timeline(stored, "delighted", "new", payload(1, 3), limit=5)
    assert [(r["score"], r["when"]) for r in rows] == [
        (8, "earlier"),
        (3, "this answer"),
        (9, "later"),
    ]


def test_the_limit_keeps_the_answers_nearest_to_this_one() -> None:
    stored = [answer(f"r{d}", d, 5) for d in range(-10, 11)]
    rows = timeline(stored, "delighted", "r0", payload(0, 5), limit=2)
    assert [r["when"] for r in rows] == ["earlier", "earlier", "this answer", "later", "later"]
    assert rows[0]["date"] == "2026-11-18"


def test_a_moment_is_absolute_and_in_utc() -> None:
    assert moment(datetime.fromisoformat("2026-11-20T10:30:00+01:00")) == "2026-11-20 09:30 UTC"
    assert moment(None) is None


@pytest.mark.parametrize(
    ("account", "owner"),
    [
        ({"owner_email": "mia@acme.example", "owner_id": "005A"}, "mia@acme.example"),
        ({"owner_id": "005A"}, "005A"),
        (
            {"owner_email": "leo@acme.example", "owner_active": False},
            "leo@acme.example (deactivated in Salesforce)",
        ),
        ({}, None),
    ],
)
def test_the_owner_shown_says_when_they_have_left(
    account: dict[str, object], owner: str | None
) -> None:
    assert account_data({"account": account})["owner"] == owner
