"""Which SLA applies to a response, and its deadlines on the business-hours calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.core.config import LoopSla
from sync.core.config.model import LoopConfig
from sync.loop.calendar import BusinessHours
from sync.loop.sla import deadlines, escalation_moment

FRIDAY_4PM = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
SLAS = (
    LoopSla.model_validate(
        {"tier": "Enterprise", "category": "detractor", "first_contact": "2h", "resolution": "1d"}
    ),
    LoopSla.model_validate({"rule": "detractors", "first_contact": "4h", "business_hours": False}),
    LoopSla.model_validate({"category": "passive", "resolution": "2d"}),
)


@pytest.mark.parametrize(
    ("rules", "tier", "score", "contact", "resolution"),
    [
        # 2 business hours from Friday 16:00 is Monday 10:00; 1d is 24 business hours:
        # Friday 1 + Monday 8 + Tuesday 8 + Wednesday 7 -> Wednesday 16:00
        (
            ("detractors",),
            "enterprise",
            3,
            datetime(2026, 3, 9, 10, tzinfo=UTC),
            datetime(2026, 3, 11, 16, tzinfo=UTC),
        ),
        # not Enterprise: the rule's entry, in calendar hours
        (("detractors",), "SMB", 3, FRIDAY_4PM + timedelta(hours=4), None),
        # a passive: 2d = 48 business hours: Friday 1 + a whole week 40 + Monday 7 -> 16:00
        ((), None, 8, None, datetime(2026, 3, 16, 16, tzinfo=UTC)),
    ],
)
def test_the_first_matching_entry_sets_the_deadlines(
    rules: tuple[str, ...],
    tier: str | None,
    score: int,
    contact: datetime | None,
    resolution: datetime | None,
) -> None:
    due = deadlines(SLAS, BusinessHours(), FRIDAY_4PM, rules, tier, score)
    assert due is not None
    assert (due.first_contact, due.resolution) == (contact, resolution)


def test_a_response_no_entry_matches_has_no_deadline() -> None:
    assert deadlines(SLAS, BusinessHours(), FRIDAY_4PM, ("promoters",), "SMB", 10) is None


def test_without_a_setting_a_detractor_is_due_a_working_day_and_a_working_week_later() -> None:
    """The loop report, the queue and the digest measure something from the first day; an
    explicit empty list turns deadlines off."""
    default = LoopConfig().sla
    due = deadlines(default, BusinessHours(), FRIDAY_4PM, (), None, 4)
    assert due is not None
    # 8 business hours from Friday 16:00: Friday 1 + Monday 7 -> Monday 16:00; 40: a week on
    assert due.first_contact == datetime(2026, 3, 9, 16, tzinfo=UTC)
    assert due.resolution == datetime(2026, 3, 13, 16, tzinfo=UTC)
    assert deadlines(default, BusinessHours(), FRIDAY_4PM, (), None, 8) is None
    assert LoopConfig.model_validate({"sla": []}).sla == ()


@pytest.mark.parametrize(
    ("business_hours", "expected"),
    [
        (True, datetime(2026, 3, 6, 16, 30, tzinfo=UTC)),  # Friday afternoon, while people work
        (False, datetime(2026, 3, 9, 8, 30, tzinfo=UTC)),  # wall-clock: an hour before it
    ],
)
def test_an_escalation_ahead_of_a_deadline_counts_as_the_deadline_does(
    business_hours: bool, expected: datetime
) -> None:
    sla = LoopSla.model_validate(
        {
            "category": "detractor",
            "first_contact": "2h",
            "business_hours": business_hours,
            "escalate": "notify_manager",
            "escalate_before": "1h",
        }
    )
    due = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)  # Monday, half an hour after opening
    assert escalation_moment(sla, due, BusinessHours()) == expected
