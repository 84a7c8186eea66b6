"""The frontline call list: who is on it and in which order, as the module states it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sync.loop.metrics import LoopRecord
from sync.reports.answers import Answer
from sync.reports.queue import call_json, call_list, call_text

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OWNER = "ana@example.com"


def answer(
    rid: str,
    score: int,
    *,
    arr: float | None = 10_000.0,
    renewal: date | None = None,
    state: str | None = "open",
    contacted: bool = False,
    contact_due: timedelta | None = None,
    resolution_due: timedelta | None = None,
    owner: str = OWNER,
    comment: str = "",
    answered: datetime = NOW - timedelta(days=2),
) -> Answer:
    loop = LoopRecord(
        source="delighted",
        response_id=rid,
        email=f"{rid}@customer.test",
        score=score,
        answered_at=answered,
        state=state,
        contacted_at=NOW - timedelta(hours=5) if contacted else None,
        contact_due=NOW + contact_due if contact_due is not None else None,
        resolution_due=NOW + resolution_due if resolution_due is not None else None,
    )
    return Answer(
        source="delighted",
        response_id=rid,
        email=f"{rid}@customer.test",
        person_name=rid.title(),
        score=score,
        comment=comment,
        answered_at=answered,
        account_id="001" + rid,
        account_name=f"{rid} Inc",
        arr=arr,
        renewal_date=renewal,
        owner_email=owner,
        loop=loop,
    )


def order(*answers: Answer) -> list[str]:
    return [c.answer.response_id for c in call_list(answers, "Ana@Example.com", NOW)]


def test_past_sla_comes_first_then_due_within_a_day_then_the_rest() -> None:
    late = answer("late", 6, contact_due=-timedelta(hours=3))
    soon = answer("soon", 6, contact_due=timedelta(hours=5))
    later = answer("later", 0, contact_due=timedelta(days=3))
    assert order(later, soon, late) == ["late", "soon", "later"]


def test_a_contacted_loop_is_judged_by_its_resolution_deadline() -> None:
    contacted = answer(
        "contacted",
        6,
        contacted=True,
        contact_due=-timedelta(days=1),
        resolution_due=timedelta(days=4),
    )
    waiting = answer("waiting", 6, contact_due=-timedelta(hours=1))
    calls = call_list([contacted, waiting], OWNER, NOW)
    assert [c.answer.response_id for c in calls] == ["waiting", "contacted"]
    assert [c.sla for c in calls] == ["past_sla", "in_time"]
    assert calls[1].next_step.startswith("Follow up with Contacted")


def test_within_an_sla_state_lowest_score_then_largest_arr_then_soonest_renewal() -> None:
    renew = date(2026, 12, 1)
    assert order(
        answer("six", 6, arr=900_000),
        answer("zero-small", 0, arr=1_000),
        answer("zero-big", 0, arr=50_000),
        answer("zero-big-renews-late", 0, arr=50_000, renewal=renew + timedelta(days=30)),
        answer("zero-big-renews-soon", 0, arr=50_000, renewal=renew),
        answer("zero-unknown-arr", 0, arr=None),
    ) == [
        "zero-big-renews-soon",
        "zero-big-renews-late",
        "zero-big",
        "zero-small",
        "zero-unknown-arr",
        "six",
    ]


def test_ties_go_to_the_oldest_answer() -> None:
    old = answer("old", 3, answered=NOW - timedelta(days=9))
    new = answer("new", 3, answered=NOW - timedelta(days=1))
    assert order(new, old) == ["old", "new"]


def test_who_is_on_the_list() -> None:
    soon = NOW.date() + timedelta(days=30)
    far = NOW.date() + timedelta(days=200)
    answers = [
        answer("open-detractor", 4),
        answer("no-loop-detractor", 5, state=None),
        answer("contacted-detractor", 2, state="contacted", contacted=True),
        answer("resolved-detractor", 2, state="resolved", contacted=True),
        answer("closed-detractor", 2, state="closed"),
        answer("passive-renewing", 8, state=None, renewal=soon),
        answer("passive-renewing-contacted", 7, state="contacted", contacted=True, renewal=soon),
        answer("passive-renewing-late", 8, state=None, renewal=far),
        answer("promoter-renewing", 9, state=None, renewal=soon),
        answer("someone-elses", 0, owner="bo@example.com"),
    ]
    assert sorted(order(*answers)) == [
        "contacted-detractor",
        "no-loop-detractor",
        "open-detractor",
        "passive-renewing",
    ]


def test_each_call_says_why_and_what_to_do_with_the_comment_for_the_owner() -> None:
    a = answer(
        "kim",
        2,
        arr=120_000,
        renewal=NOW.date() + timedelta(days=12),
        contact_due=-timedelta(hours=30),
        comment="Onboarding took <b>weeks</b>",
    )
    (call,) = call_list([a], OWNER, NOW)
    assert call.reasons == (
        "detractor (score 2)",
        "first contact overdue by 30 h",
        "renews in 12 days",
        "ARR 120,000",
    )
    assert call.next_step == "Call Kim: acknowledge their comment and agree a fix with a date"
    document = call_json(call)
    assert document["comment"] == "Onboarding took <b>weeks</b>"
    assert document["loop"] == {
        "state": "open",
        "contacted_at": None,
        "sla": "past_sla",
        "due": NOW - timedelta(hours=30),
    }
    text = call_text([call], OWNER, NOW)
    assert "1. Kim at kim Inc: detractor (score 2); first contact overdue by 30 h" in text
    assert 'Said: "Onboarding took <b>weeks</b>"' in text


def test_an_empty_list_says_so() -> None:
    other = replace(answer("x", 0), owner_email="bo@example.com")
    assert call_list([other], OWNER, NOW) == []
    assert call_text([], OWNER, NOW).startswith("No one to call today (2026-11-02)")


def test_someone_who_answered_twice_is_one_call_the_more_urgent_one() -> None:
    first = answer("pat-1", 3, contact_due=-timedelta(hours=2))  # past its SLA
    second = replace(answer("pat-2", 2), email=first.email, person_name="Pat")
    calls = call_list([second, first, answer("kim", 4)], OWNER, NOW)
    assert [c.answer.response_id for c in calls] == ["pat-1", "kim"]
    assert calls[0].reasons[-1] == "1 more open answer of theirs"
