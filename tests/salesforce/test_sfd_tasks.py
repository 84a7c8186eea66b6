"""Tasks are created once: an uncertain create is settled by looking up its marker in the org."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.models import TaskSpec
from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy
from sync.loop.calendar import BusinessHours
from sync.stages.executors.salesforce import SalesforceTaskExecutor, due_date
from sync.state import ClaimedAction
from tests.salesforce.conftest import Relay, add_account, add_contact

FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)
MARKER = "NPS_Sync_Key__c"


def claimed(
    key: str,
    owner: str,
    *,
    attempts: int = 1,
    who: str | None = None,
    due: dict[str, Any] | None = None,
) -> ClaimedAction:
    """A claimed Task action; ``due``: how its payload states the due date (a day, by default,
    as intents routed before due dates counted from creation hold it)."""
    payload = {
        "subject": f"NPS 3: call back ({key})",
        "description": "Comment: too slow",
        "owner_id": owner,
        **(due if due is not None else {"due_date": "2026-11-03"}),
        "who_id": who,
        "what_id": None,
        "priority": "High",
    }
    return ClaimedAction(
        key=key,
        kind="salesforce_task",
        payload=payload,
        attempts=attempts,
        failures=0,
        source="delighted",
        response_id=key,
        rule="detractors",
        external_id=None,
    )


def markers(org: SalesforceEmulator) -> list[str]:
    return sorted(t[MARKER] for t in org.records("Task"))


def test_a_create_whose_answer_was_lost_is_found_by_its_marker(
    org: SalesforceEmulator, crm: SalesforceConnector, relay_app: Relay
) -> None:
    owner = org.default_user_id
    actions = [claimed(f"key{i}", owner) for i in range(3)]
    relay_app.lose_answers["composite_create"] = 1
    outcomes = SalesforceTaskExecutor(crm, FAST).execute(actions)
    assert markers(org) == ["key0", "key1", "key2"]
    assert org.calls["composite_create"] == 1
    assert [(o.result, o.found_existing) for o in outcomes] == [("done", True)] * 3
    tasks = {t[MARKER]: t["Id"] for t in org.records("Task")}
    assert {o.key: o.external_id for o in outcomes} == tasks


def test_a_reclaimed_action_finds_the_task_a_crashed_worker_created(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    owner = org.default_user_id
    earlier = org.insert_record("Task", {"Subject": "x", "OwnerId": owner, MARKER: "again"})
    outcomes = SalesforceTaskExecutor(crm, FAST).execute(
        [claimed("again", owner, attempts=2), claimed("fresh", owner, attempts=2)]
    )
    by_key = {o.key: o for o in outcomes}
    assert (by_key["again"].found_existing, by_key["again"].external_id) == (True, earlier)
    assert (by_key["fresh"].result, by_key["fresh"].found_existing) == ("done", False)
    assert markers(org) == ["again", "fresh"]


def test_a_task_carries_owner_who_what_due_date_and_marker(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    account = add_account(org, "Acme")
    contact = add_contact(org, "jane@acme.example", account)
    spec = TaskSpec(
        key="k1",
        subject="NPS 2: call Jane",
        description="x" * 40_000,
        owner_id=org.default_user_id,
        due_date=date(2026, 11, 3),
        who_id=contact,
        what_id=account,
        priority="High",
    )
    account_only = TaskSpec(
        key="k2",
        subject="NPS 2: new colleague at Acme",
        description="",
        owner_id=org.default_user_id,
        due_date=date(2026, 11, 4),
        what_id=account,
    )
    results = crm.create_tasks([spec, account_only])
    assert all(r.ok for r in results)
    first, second = (org.get_record("Task", r.external_id) for r in results)
    assert first is not None
    assert second is not None
    assert (first["WhoId"], first["WhatId"], first["ActivityDate"]) == (
        contact,
        account,
        "2026-11-03",
    )
    assert (first[MARKER], first["Priority"], len(first["Description"])) == ("k1", "High", 32000)
    assert (second["WhoId"], second["WhatId"]) == (None, account)


def test_a_task_is_due_from_when_it_is_created_and_old_intents_keep_their_day(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    owner = org.default_user_id
    created = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # a Thursday
    executor = SalesforceTaskExecutor(crm, FAST, clock=lambda: created)
    outcomes = executor.execute(
        [
            claimed("one-day", owner, due={"due_in_seconds": 86_400}),
            claimed("same-day", owner, due={"due_in_seconds": 0}),
            claimed("two-days", owner, due={"due_in_seconds": 2 * 86_400}),  # Saturday: Monday
            claimed("stored-day", owner),
        ]
    )
    assert [o.result for o in outcomes] == ["done"] * 4
    due = {t[MARKER]: t["ActivityDate"] for t in org.records("Task")}
    assert due == {
        "one-day": "2026-12-04",
        "same-day": "2026-12-03",
        "two-days": "2026-12-07",
        "stored-day": "2026-11-03",
    }


@pytest.mark.parametrize(
    ("created", "zone", "due_in", "expected"),
    [
        ("2026-12-04T15:00:00+00:00", "UTC", 1, date(2026, 12, 7)),  # Friday + 1 day: Monday
        ("2026-12-04T15:00:00+00:00", "UTC", 3, date(2026, 12, 7)),  # Monday itself
        ("2026-12-07T09:00:00+00:00", "UTC", 5, date(2026, 12, 14)),  # Saturday: Monday
        ("2026-12-08T23:30:00+00:00", "UTC", 1, date(2026, 12, 9)),
        # The date is the business-hours zone's: 23:30 UTC Tuesday is Wednesday in Sydney.
        ("2026-12-08T23:30:00+00:00", "Australia/Sydney", 0, date(2026, 12, 9)),
        # Friday 20:00 in New York is Saturday in UTC, still Friday where the owner works.
        ("2026-12-05T01:00:00+00:00", "America/New_York", 0, date(2026, 12, 4)),
    ],
)
def test_a_due_date_is_a_working_day_in_the_business_hours_zone(
    created: str, zone: str, due_in: int, expected: date
) -> None:
    hours = BusinessHours(ZoneInfo(zone))
    payload = {"due_in_seconds": due_in * 86_400}
    assert due_date(payload, datetime.fromisoformat(created), hours) == expected
