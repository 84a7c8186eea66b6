"""The loop state of a response from its Tasks and tickets (pure): table-driven cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.loop.states import derive, outcome_code, transitions
from sync.state.loops import Followup, Loop

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def task(key: str = "t", closed_at: datetime | None = None, outcome: str | None = None) -> Followup:
    return Followup(
        key, "salesforce_task", "00T1", T0, closed_at is not None, closed_at, None, outcome, "005A"
    )


def ticket(
    key: str = "z",
    solved_at: datetime | None = None,
    replied_at: datetime | None = None,
    outcome: str | None = None,
) -> Followup:
    return Followup(
        key, "zendesk_ticket", "7", h(0.1), solved_at is not None, solved_at, replied_at, outcome
    )


CASES = [
    # followups, state, contacted_at, ended_at, reason, outcome
    ([task()], "open", None, None, None, None),
    ([task(closed_at=h(3))], "resolved", h(3), h(3), None, None),
    ([task(closed_at=h(3), outcome="Resolved")], "resolved", h(3), h(3), None, "resolved"),
    (
        [task(closed_at=h(3), outcome="Not reachable")],
        "closed",
        None,
        h(3),
        "not_reachable",
        "not_reachable",
    ),
    (
        [task(closed_at=h(3), outcome="No action needed")],
        "closed",
        None,
        h(3),
        "no_action_needed",
        "no_action_needed",
    ),
    ([ticket(replied_at=h(2))], "contacted", h(2), None, None, None),
    ([ticket(solved_at=h(5), replied_at=h(2))], "resolved", h(2), h(5), None, None),
    ([ticket(solved_at=h(5))], "closed", None, h(5), "closed_without_contact", None),
    (
        [ticket(solved_at=h(5), outcome="loop_churn_risk")],
        "resolved",
        h(5),
        h(5),
        None,
        "churn_risk",
    ),
    # a Task and a ticket: the first contact counts, the last end ends the loop
    (
        [task(closed_at=h(8)), ticket(solved_at=h(5), replied_at=h(2))],
        "resolved",
        h(2),
        h(8),
        None,
        None,
    ),
    ([task(), ticket(solved_at=h(5), replied_at=h(2))], "contacted", h(2), None, None, None),
    (
        [task(closed_at=h(1), outcome="Not reachable"), ticket(replied_at=h(4))],
        "contacted",
        h(4),
        None,
        None,
        "not_reachable",
    ),
    (
        [task(closed_at=h(1), outcome="Not reachable"), ticket(solved_at=h(6))],
        "closed",
        None,
        h(6),
        "not_reachable",
        "not_reachable",
    ),
]


@pytest.mark.parametrize(("followups", "state", "contacted", "ended", "reason", "outcome"), CASES)
def test_loop_state_from_tasks_and_tickets(
    followups: list[Followup],
    state: str,
    contacted: datetime | None,
    ended: datetime | None,
    reason: str | None,
    outcome: str | None,
) -> None:
    loop = derive("delighted", "r1", followups)
    assert (loop.state, loop.contacted_at, loop.ended_at, loop.reason, loop.outcome) == (
        state,
        contacted,
        ended,
        reason,
        outcome,
    )
    assert loop.opened_at == T0 if any(f.kind == "salesforce_task" for f in followups) else h(0.1)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Resolved", "resolved"),
        ("Not reachable", "not_reachable"),
        ("loop_no_action_needed", "no_action_needed"),
        ("Churn risk", "churn_risk"),
        ("", None),
        ("Something else", None),
        (None, None),
    ],
)
def test_outcome_codes(written: str | None, code: str | None) -> None:
    assert outcome_code(written) == code


def test_transitions_record_each_milestone_once_and_a_reopening() -> None:
    now = h(100)
    fresh = derive("s", "r", [ticket(solved_at=h(5), replied_at=h(2))])
    events = transitions(None, fresh, [ticket(solved_at=h(5), replied_at=h(2))], now)
    assert [(e.state, e.at, e.origin) for e in events] == [
        ("open", h(0.1), "zendesk_ticket"),
        ("contacted", h(2), "zendesk_ticket"),
        ("resolved", h(5), "zendesk_ticket"),
    ]
    assert transitions(fresh, fresh, [ticket(solved_at=h(5), replied_at=h(2))], now) == []
    reopened = derive("s", "r", [ticket(replied_at=h(2))])
    events = transitions(fresh, reopened, [ticket(replied_at=h(2))], now)
    assert [(e.state, e.at, e.origin) for e in events] == [("contacted", now, "reopened")]


def test_a_loop_needs_a_task_or_a_ticket() -> None:
    with pytest.raises(ValueError, match="needs a Task"):
        derive("s", "r", [])
    assert isinstance(derive("s", "r", [task()]), Loop)
