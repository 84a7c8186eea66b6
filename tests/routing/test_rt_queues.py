"""Tasks owned by a Salesforce queue (``owner: queue:<name>``), and Tasks about a Lead, end to
end: the real clients against the emulators, through the engine and the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from emulators.world import EmulatedWorld
from sync.cli import main
from tests.routing.conftest import EngineFactory, write_rules

NOW = datetime.now(UTC).replace(microsecond=0)

QUEUE_RULES = """
version: 1
actions:
  team_followup:
    type: salesforce_task
    owner: queue:{queue}
    subject: "NPS {{{{ response.score }}}}: {{{{ response.comment }}}}"
    due_in: 1d
  owner_followup:
    type: salesforce_task
    subject: "Passive {{{{ response.score }}}}"
    due_in: 2d
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [team_followup]
  - name: passives
    when: {{category: passive}}
    actions: [owner_followup]
"""


def answer(world: EmulatedWorld, index: int, score: int, comment: str = "") -> str:
    contact = world.book.contacts[index]
    return world.delighted.add_response(
        email=contact.email, score=score, comment=comment, created_at=NOW - timedelta(hours=1)
    )


def tasks_by_subject(world: EmulatedWorld) -> dict[str, dict[str, object]]:
    return {str(t["Subject"]): t for t in world.salesforce.records("Task")}


def test_a_detractor_routed_to_a_queue_gets_a_task_owned_by_the_queue(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="NPS Follow-up"))
    answer(world, 0, 2, "Too slow")
    answer(world, 1, 8)

    report = make_engine().run_once()

    assert report.errors == []
    assert report.tasks_created == 2
    tasks = tasks_by_subject(world)
    queue_id = world.salesforce.task_queue_id
    assert tasks["NPS 2: Too slow"]["OwnerId"] == queue_id
    assert not str(tasks["NPS 2: Too slow"]["Description"]).startswith("Assigned to you")
    assert tasks["Passive 8"]["OwnerId"] != queue_id


def test_a_queue_is_found_by_its_developer_name_in_any_case(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="nps_follow_UP"))
    answer(world, 0, 1, "Broken")

    report = make_engine().run_once()

    assert (report.errors, report.tasks_created) == ([], 1)
    (task,) = world.salesforce.records("Task")
    assert task["OwnerId"] == world.salesforce.task_queue_id


def rules_line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_an_unknown_queue_is_an_error_at_its_rules_line_and_the_other_responses_go_on(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="Renewals Desk"))
    answer(world, 0, 2, "Too slow")
    answer(world, 1, 8)
    line = rules_line(rules_path, "queue:Renewals Desk")

    report = make_engine().run_once()

    assert report.errors == [
        f"{rules_path}:{line}:12: owner queue:Renewals Desk is not a Salesforce queue (none "
        "has that Name or DeveloperName); create the queue with Task among its objects, or name "
        "another owner (until then its Tasks go to the fallback owner "
        f"{world.book.users[0].id})"
    ]
    tasks = tasks_by_subject(world)
    assert set(tasks) == {"NPS 2: Too slow", "Passive 8"}
    fallback = tasks["NPS 2: Too slow"]
    assert fallback["OwnerId"] == world.book.users[0].id
    assert str(fallback["Description"]).startswith(
        "Assigned to you because queue Renewals Desk does not exist in Salesforce or does not "
        "take Tasks."
    )


def test_a_queue_set_up_after_a_pass_is_used_from_the_next_pass_on(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="Renewals Desk"))
    answer(world, 0, 2, "Too slow")
    engine = make_engine()
    assert len(engine.run_once().errors) == 1

    desk = world.salesforce.org.add_queue("Renewals Desk", ("Task",))
    answer(world, 2, 1, "Still slow")
    later = engine.run_once()

    assert (later.errors, later.tasks_created) == ([], 1)
    owners = {t["Subject"]: t["OwnerId"] for t in world.salesforce.records("Task")}
    assert owners == {"NPS 2: Too slow": world.book.users[0].id, "NPS 1: Still slow": desk}


def test_a_queue_that_does_not_take_tasks_is_an_error_and_its_tasks_wait_for_no_one(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    cases = world.salesforce.org.add_queue("Case Desk", ("Case",))
    write_rules(rules_path, QUEUE_RULES.format(queue="Case Desk"))
    answer(world, 0, 2, "Too slow")
    answer(world, 1, 8)

    salesforce = dict(world.config_data(state_url="sqlite://", rules=rules_path)["salesforce"])
    salesforce.pop("fallback_owner_id")
    report = make_engine(salesforce=salesforce).run_once()

    (error,) = report.errors
    assert f"is a queue ({cases}) that does not take Tasks (it takes Case)" in error
    assert "its Tasks are skipped (owner_not_found)" in error
    assert report.skipped == {"owner_not_found": 1}
    assert set(tasks_by_subject(world)) == {"Passive 8"}


def test_the_cli_names_the_queue_and_its_rules_line_and_exits_partial(
    world: EmulatedWorld, rules_path: Path, tmp_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="Ghost Queue"))
    answer(world, 0, 2, "Too slow")
    answer(world, 1, 8)
    config = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules_path)
    config.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    line = rules_line(rules_path, "queue:Ghost Queue")

    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env={"COLUMNS": "300"})

    assert result.exit_code != 0, result.output
    flat = re.sub(r"\s+", " ", result.output)
    assert f"{rules_path.name}:{line}:12: owner queue:Ghost Queue is not a Salesforce queue" in (
        flat.replace(f"{rules_path.parent}/", "")
    )
    assert len(world.salesforce.records("Task")) == 2

    checked = CliRunner().invoke(
        main, ["rules", "check", str(rules_path), "--config", str(config)], env={"COLUMNS": "300"}
    )
    assert checked.exit_code == 1, checked.output
    assert f"{rules_path}:{line}:12: owner queue:Ghost Queue is not a Salesforce queue" in (
        re.sub(r"\s+", " ", checked.output)
    )


def test_a_task_about_a_lead_is_not_related_to_the_account(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, QUEUE_RULES.format(queue="NPS Follow-up"))
    account = next(a for a in world.book.accounts if a.website)
    domain = re.sub(r"^(https?://)?(www\.)?", "", account.website).split("/")[0].lower()
    lead = world.salesforce.insert_record(
        "Lead", {"LastName": "Prospect", "Company": account.name, "Email": f"pat@{domain}"}
    )
    world.delighted.add_response(
        email=f"pat@{domain}", score=3, comment="Meh", created_at=NOW - timedelta(hours=1)
    )
    matching = {"order": ["crm_id", "email", "lead", "alias", "domain"]}
    salesforce = dict(world.config_data(state_url="sqlite://", rules=rules_path)["salesforce"])
    salesforce["matching"] = matching

    report = make_engine(salesforce=salesforce).run_once()

    assert (report.tasks_created, report.dead) == (1, 0)
    # (The emulated org has no NPS fields on Lead, so writing the score back to it fails.)
    assert not [e for e in report.errors if "Task" in e or "WhatId" in e]
    (task,) = world.salesforce.records("Task")
    assert task["WhoId"] == lead
    assert task["WhatId"] is None
