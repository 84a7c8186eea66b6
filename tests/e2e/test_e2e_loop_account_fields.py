"""Loop figures on the Account, end to end: the mapping names Account fields, `fields setup`
lists them, and each pass writes what `loop report` would say about the account (only what
changed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulators.world import EmulatedWorld
from sync.cli import main
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS detractor ({{ response.score }}): call {{ response.person_email }}"
    due_in: 1d
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call]
  - name: everyone-else
    actions: []
"""
FIELDS = {
    "loop_open": "NPS_Open_Loops__c",
    "loop_past_sla": "NPS_Loops_Past_SLA__c",
    "loop_contacted_within_sla": "NPS_Contacted_Within_SLA__c",
    "loop_median_hours_to_contact": "NPS_Median_Hours_To_Contact__c",
    "loop_last_outcome": "NPS_Last_Loop_Outcome__c",
    "loop_answered_again": "NPS_Detractors_Answered_Again__c",
    "loop_score_recovery": "NPS_Score_Recovery__c",
}
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


def _settings(tmp_path: Path) -> dict[str, Any]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    sla = {"category": "detractor", "first_contact": "24h", "resolution": "72h",
           "business_hours": False}  # fmt: skip
    return {
        "rules": rules,
        "loop": {"sla": [sla]},
        "write_back": {"salesforce": {"account": FIELDS}},
    }


def _figures(world: EmulatedWorld, account_id: str) -> dict[str, Any]:
    record = world.salesforce.get_record("Account", account_id)
    assert record is not None
    return {key: record[name] for key, name in FIELDS.items()}


def test_account_fields_show_the_accounts_loops_as_the_report_does(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path, state_url: str
) -> None:
    account = next(
        a for a in world.book.accounts
        if sum(c.account_id == a.id for c in world.book.contacts) >= 3
    )  # fmt: skip
    late, waiting, quick = [c for c in world.book.contacts if c.account_id == account.id][:3]
    answers = ((late, 1, 50), (waiting, 3, 30), (quick, 2, 3.5))  # email, score, hours ago
    for contact, score, hours_ago in answers:
        world.delighted.add_response(
            email=contact.email, score=score, created_at=NOW - timedelta(hours=hours_ago)
        )
    settings = _settings(tmp_path)
    world.salesforce.clock = lambda: NOW - timedelta(hours=3)  # the Tasks are made then

    first = make_engine(**settings).run_once()
    assert first.errors == []
    assert _figures(world, account.id) == {
        "loop_open": 3,
        "loop_past_sla": 2,  # the first contacts due 26 and 6 hours ago
        "loop_contacted_within_sla": 0.0,
        "loop_median_hours_to_contact": None,
        "loop_last_outcome": None,
        "loop_answered_again": 0,
        "loop_score_recovery": None,
    }

    tasks = {t["Subject"].rsplit(" ", 1)[-1]: t["Id"] for t in world.salesforce.records("Task")}
    world.salesforce.clock = lambda: NOW - timedelta(hours=1, minutes=30)
    world.salesforce.update_record("Task", tasks[late.email], {"Status": "Completed"})
    world.salesforce.clock = lambda: NOW - timedelta(hours=1)
    world.salesforce.update_record(
        "Task", tasks[quick.email], {"Status": "Completed", "NPS_Loop_Outcome__c": "Churn risk"}
    )
    world.delighted.add_response(email=late.email, score=9, created_at=NOW - timedelta(minutes=30))

    second = make_engine(**settings).run_once()
    assert second.errors == []
    assert _figures(world, account.id) == {
        "loop_open": 1,
        "loop_past_sla": 1,
        "loop_contacted_within_sla": 33.3,  # the quick one, 2.5 hours after answering
        "loop_median_hours_to_contact": 25.5,  # of 48.5 and 2.5 hours
        "loop_last_outcome": "Churn risk",  # the last loop that ended
        "loop_answered_again": 1,
        "loop_score_recovery": 8.0,  # 1, then 9
    }

    third = make_engine(**settings).run_once()
    assert third.errors == []
    assert third.records_updated == 0  # nothing changed, nothing written

    config = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=state_url, **settings)
    config.write_text(json.dumps(data, default=str), encoding="utf-8")  # JSON is YAML
    setup = CliRunner().invoke(
        main, ["fields", "setup", "--config", str(config)], env={"COLUMNS": "250"}
    )
    assert setup.exit_code == 0, setup.output
    for name in FIELDS.values():
        assert name in setup.output
