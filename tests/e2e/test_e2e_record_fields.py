"""Routing on what the matched records and the survey carry: the contact's job title from
Salesforce, and a survey property declared as a custom field in its own type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
fields:
  response.custom.plan: string
  response.custom.seats: integer
  response.custom.trial: boolean
actions:
  exec_call:
    type: salesforce_task
    owner: account_owner
    subject: "Call {{ contact.title }} ({{ response.custom.seats }} seats)"
    due_in: 1d
  big_plan_call:
    type: salesforce_task
    owner: account_owner
    subject: "Enterprise plan, {{ response.custom.seats }} seats"
    due_in: 1d
rules:
  - name: executives
    when: {contact.title: {contains: "{title}"}}
    actions: [exec_call]
    continue: true
  - name: big-accounts
    when:
      all:
        - response.custom.plan: {eq: enterprise}
        - response.custom.seats: {gte: 100}
        - response.custom.trial: {eq: false}
    actions: [big_plan_call]
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=3, responses=0) as w:
        yield w


def test_rules_read_the_contact_title_and_typed_survey_properties(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    contact = world.book.contacts[0]
    assert contact.title
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("{title}", contact.title), encoding="utf-8")
    big = world.delighted.add_response(
        email=contact.email,
        score=9,
        properties={"plan": "enterprise", "seats": "250", "trial": "No"},
    )
    small = world.delighted.add_response(
        email=contact.email, score=9, properties={"plan": "enterprise", "seats": "many"}
    )

    engine = make_engine(rules=rules)
    assert engine.run_once().errors == []

    actions = engine.store.outbox.actions()
    rules_of = {r: sorted(a.rule for a in actions if a.response_id == r) for r in (big, small)}
    assert rules_of[big] == ["big-accounts", "executives"]
    assert rules_of[small] == ["executives"]  # "many" seats reads as no number: missing
    tasks = {t["Subject"] for t in world.salesforce.records("Task")}
    assert f"Call {contact.title} (250 seats)" in tasks
    assert "Enterprise plan, 250 seats" in tasks
