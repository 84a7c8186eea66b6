"""Loop metrics over plain records, against figures worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync.loop.metrics import (
    LoopRecord,
    by_group,
    loop_metrics,
    median,
    overdue,
    p90,
    recovery,
    resurvey,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=100)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def rec(
    rid: str,
    score: int,
    *,
    email: str | None = None,
    at: float = 0,
    state: str | None = None,
    contacted: float | None = None,
    ended: float | None = None,
    contact_due: float | None = None,
    resolution_due: float | None = None,
    owner: str = "ana",
) -> LoopRecord:
    return LoopRecord(
        source="s",
        response_id=rid,
        email=email or f"{rid}@x.com",
        score=score,
        answered_at=h(at),
        owner=owner,
        state=state,
        contacted_at=h(contacted) if contacted is not None else None,
        ended_at=h(ended) if ended is not None else None,
        contact_due=h(contact_due) if contact_due is not None else None,
        resolution_due=h(resolution_due) if resolution_due is not None else None,
    )


@pytest.mark.parametrize(
    ("values", "mid", "ninetieth"),
    [
        ([], None, None),
        ([5.0], 5.0, 5.0),
        ([1.0, 3.0], 2.0, 3.0),
        ([4.0, 1.0, 2.0, 3.0], 2.5, 4.0),
        ([float(v) for v in range(1, 11)], 5.5, 9.0),  # rank ceil(9.0) = 9
        ([float(v) for v in range(1, 12)], 6.0, 10.0),  # rank ceil(9.9) = 10
    ],
)
def test_median_and_nearest_rank_p90(
    values: list[float], mid: float | None, ninetieth: float | None
) -> None:
    assert median(values) == mid
    assert p90(values) == ninetieth


BOOK = [
    # contacted at 2h (due 4h: within), resolved at 10h (due 24h)
    rec("a", 2, state="resolved", contacted=2, ended=10, contact_due=4, resolution_due=24),
    # contacted at 6h (due 4h: late), still open past its resolution deadline (24h)
    rec("b", 5, state="contacted", contacted=6, contact_due=4, resolution_due=24, owner="ben"),
    # never contacted, closed as not reachable at 30h: a contact breach, no resolution breach
    rec("c", 0, state="closed", ended=30, contact_due=4, resolution_due=24),
    # open, nobody called, past both deadlines
    rec("d", 3, state="open", contact_due=4, resolution_due=24, owner="ben"),
    # no Task or ticket at all, no SLA
    rec("e", 6),
    # a passive and a promoter: not detractors
    rec("f", 8, state="resolved", contacted=1, ended=2),
    rec("g", 10),
]


def test_the_whole_book_by_hand() -> None:
    m = loop_metrics(BOOK, NOW)
    assert m.detractors == 5
    assert (m.contacted, m.contacted_within_sla, m.resolved, m.never_contacted) == (2, 1, 1, 3)
    assert m.share(m.contacted_within_sla) == pytest.approx(0.2)
    assert (m.contact_hours_median, m.contact_hours_p90) == (4.0, 6.0)  # 2 h and 6 h
    assert (m.resolution_hours_median, m.resolution_hours_p90) == (10.0, 10.0)
    # late contact: b (6 > 4), c and d (none by 100 > 4); resolution: b and d (open past 24)
    assert (m.contact_breaches, m.resolution_breaches) == (3, 2)
    assert m.recovery.pairs == 0


def test_score_recovery_takes_the_next_answer_of_the_same_person() -> None:
    answers = [
        rec("a1", 3, email="Pat@x.com", at=0),
        rec("a2", 9, email="pat@x.com", at=50),
        rec("a3", 4, email="pat@x.com", at=80),
        rec("b1", 5, email="lee@x.com", at=10),
        rec("b2", 6, email="lee@x.com", at=20),
        rec("c1", 1, email="kim@x.com", at=0),
    ]
    got = recovery([a for a in answers if a.detractor], answers)
    # pairs: a1 (3) -> a2 (9); b1 (5) -> b2 (6); b2 (6) has no later answer; a3 neither
    assert (got.pairs, got.mean_before, got.mean_after, got.recovered) == (2, 4.0, 7.5, 1)


def test_resurvey_counts_the_first_answer_naming_each_resurveyed_loop() -> None:
    answers = [
        replace(rec("a1", 3, at=0), resurveyed=True),
        replace(rec("b1", 5, at=0), resurveyed=True),
        replace(rec("c1", 2, at=0), resurveyed=True),
        rec("d1", 4, at=0),  # not resurveyed: its answer below does not count
        replace(rec("a2", 9, at=30), follows="s:a1"),
        replace(rec("a3", 2, at=60), follows="s:a1"),  # a second answer: only the first counts
        replace(rec("b2", 6, at=40), follows="s:b1"),
        replace(rec("d2", 10, at=40), follows="s:d1"),
    ]
    got = resurvey([a for a in answers if a.detractor], answers)
    # sent a1, b1, c1; answered a1 (3 -> 9) and b1 (5 -> 6); c1 not yet
    assert (got.sent, got.answered, got.mean_before, got.mean_after, got.recovered) == (
        3,
        2,
        4.0,
        7.5,
        1,
    )
    assert got.response_rate == pytest.approx(2 / 3)
    assert resurvey([], answers).response_rate is None


def test_groups_and_overdue_loops_by_owner() -> None:
    groups = by_group(BOOK, lambda r: r.owner, NOW)
    assert sorted(groups) == ["ana", "ben"]
    assert (groups["ana"].detractors, groups["ben"].detractors) == (3, 2)
    assert groups["ben"].contacted_within_sla == 0
    late = overdue(BOOK, NOW)
    assert [(o.owner, o.response_id, o.deadline, o.hours_over) for o in late] == [
        ("ben", "d", "first_contact", 96.0),
        ("ben", "b", "resolution", 76.0),
    ]


def test_no_detractors_gives_no_shares() -> None:
    m = loop_metrics([rec("g", 10)], NOW)
    assert m.detractors == 0
    assert m.share(m.resolved) is None
    assert m.contact_hours_median is None
