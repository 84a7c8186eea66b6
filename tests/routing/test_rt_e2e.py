"""Throttles, escalations, new action types, hot reload, explain and replay, end to end.

The real simple-salesforce and zenpy clients talk to the emulators over loopback sockets; each
test writes its own rules file and survey responses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.models import FieldUpdate
from emulators.seed_model import SeedContact
from emulators.world import EmulatedWorld
from sync.cli import main
from tests.routing.conftest import EngineFactory, write_rules
from tests.routing.local_servers import Webhook, webhook_server

NOW = datetime.now(UTC).replace(microsecond=0)

TICKET_RULES = """
version: 1
actions:
  detractor_ticket:
    type: zendesk_ticket
    subject: "NPS {{ response.score }}: {{ account.name }}"
    body: "{{ response.comment }}"
    group: Customer Success
    tags: [nps]
rules:
  - name: detractors
    when: {category: detractor}
    actions: [detractor_ticket]
    cooldown: {key: account.id, period: 14d}
"""


def contacts_of_two_accounts(world: EmulatedWorld) -> tuple[list[SeedContact], SeedContact]:
    """Three contacts of one account and one contact of another."""
    by_account: dict[str, list[SeedContact]] = {}
    for contact in world.book.contacts:
        by_account.setdefault(contact.account_id, []).append(contact)
    crowded = next(group for group in by_account.values() if len(group) >= 3)
    other = next(group[0] for group in by_account.values() if group is not crowded)
    return crowded[:3], other


def answer(
    world: EmulatedWorld, contact: SeedContact, score: int, ago: timedelta, text: str
) -> str:
    return world.delighted.add_response(
        email=contact.email, score=score, comment=text, created_at=NOW - ago
    )


def nps_tickets(world: EmulatedWorld) -> list[dict[str, Any]]:
    return [t for t in world.zendesk.tickets() if t.get("external_id")]


def test_a_cooldown_suppresses_a_second_ticket_for_the_same_account(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, TICKET_RULES)
    (ann, bob, cy), other = contacts_of_two_accounts(world)
    answer(world, cy, 3, timedelta(days=30), "Old complaint")
    answer(world, ann, 2, timedelta(days=5), "Slow support")
    second = answer(world, bob, 1, timedelta(days=4), "Same here")
    answer(world, other, 0, timedelta(days=4), "Another account")

    # The 30-day-old complaint is still news here, so the cooldown has something to count from.
    engine = make_engine(routing={"act_on_responses_newer_than": "45d"})
    report = engine.run_once()
    assert report.errors == []
    assert report.tickets_created == 3
    by_org = Counter(t["organization_id"] for t in nps_tickets(world))
    assert sorted(by_org.values()) == [1, 2]  # the crowded account: 30 days apart only
    (stored,) = engine.store.inbox.find(second)
    assert stored.decision is not None
    assert stored.decision["actions"] == []
    assert "cooldown: account.id=" in stored.decision["notes"][0]

    assert (
        make_engine(routing={"act_on_responses_newer_than": "45d"}).run_once().tickets_created == 0
    )


def test_settle_defers_a_fresh_score_until_its_comment_can_arrive(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(
        rules_path,
        """
version: 1
actions:
  followup:
    type: salesforce_task
    subject: "NPS {{ response.score }}: {{ response.comment }}"
    due_in: 1d
rules:
  - name: detractors
    when: {category: detractor}
    actions: [followup]
    settle: 15m
""",
    )
    (ann, _, _), _ = contacts_of_two_accounts(world)
    # Not NOW (the module may be old by now), and a minute back: an edit in the same second as
    # the answer could fall before the pull's cursor.
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    rid = world.delighted.add_response(email=ann.email, score=4, created_at=answered)

    first = make_engine().run_once()
    assert (first.pulled, first.routed, first.tasks_created) == (1, 0, 0)
    world.delighted.update_response(rid, comment="Onboarding was painful")
    still = make_engine().run_once()
    assert (still.updated, still.routed, still.tasks_created) == (1, 0, 0)

    later = make_engine(clock=lambda: datetime.now(UTC) + timedelta(minutes=16)).run_once()
    assert (later.routed, later.tasks_created) == (1, 1)
    (task,) = world.salesforce.records("Task")
    assert task["Subject"] == "NPS 4: Onboarding was painful"
    assert make_engine(clock=lambda: answered + timedelta(hours=1)).run_once().tasks_created == 0


ESCALATION_RULES = """
version: 1
actions:
  owner_call:
    type: salesforce_task
    subject: "Call {{ contact.name }}"
    due_in: 1d
  flag_account:
    type: update_fields
    system: salesforce
    object: Account
    values: {Description: NPS follow-up open}
  cx_channel:
    type: notify
    channel: slack
    webhook_env: NPS_RT_CX_HOOK
    text: "No follow-up yet for {{ contact.name }} at {{ account.name }} ({{ response.score }})"
rules:
  - name: detractors
    when: {category: detractor}
    actions: [owner_call, flag_account]
    escalate:
      - {after: 1h, action: cx_channel}
"""


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    with webhook_server() as server:
        monkeypatch.setenv("NPS_RT_CX_HOOK", server.url)
        yield server


def test_an_escalation_fires_for_the_open_task_only(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path, hook: Webhook
) -> None:
    write_rules(rules_path, ESCALATION_RULES)
    (ann, bob, _), _ = contacts_of_two_accounts(world)
    answer(world, ann, 2, timedelta(hours=2), "Too slow")
    answer(world, bob, 3, timedelta(hours=2), "Buggy")

    engine = make_engine()
    first = engine.run_once()
    assert (first.tasks_created, first.fields_set, first.errors) == (2, 2, [])
    account = world.salesforce.get_record("Account", ann.account_id)
    assert account is not None
    assert account["Description"] == "NPS follow-up open"

    # Ann's owner closes the task; Bob's stays open.
    task = next(t for t in world.salesforce.records("Task") if t["WhoId"] == ann.id)
    engine.conn.crm.update_records([FieldUpdate("Task", task["Id"], {"Status": "Completed"})])

    assert make_engine().run_once().escalations_fired == 0  # deadlines set, none due yet
    two_hours = make_engine(clock=lambda: datetime.now(UTC) + timedelta(hours=2)).run_once()
    assert (two_hours.escalations_fired, two_hours.notifications_sent) == (1, 1)
    assert len(hook.posts) == 1
    assert hook.posts[0]["text"].startswith(
        f"No follow-up yet for {bob.first_name} {bob.last_name}"
    )

    again = make_engine(clock=lambda: datetime.now(UTC) + timedelta(hours=5)).run_once()
    assert (again.escalations_fired, again.notifications_sent, len(hook.posts)) == (0, 0, 1)


def test_hot_reload_swaps_valid_rules_and_keeps_the_last_good_ones(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    rules = TICKET_RULES.replace("    cooldown: {key: account.id, period: 14d}\n", "")
    write_rules(rules_path, rules)
    (ann, _, cy), other = contacts_of_two_accounts(world)
    engine = make_engine()  # one long-lived engine, as the daemon keeps
    answer(world, ann, 2, timedelta(days=1), "first")
    engine.run_once()
    first_hash = engine.ruleset.hash

    write_rules(rules_path, rules.replace("category: detractor", "category: detractors"))
    second = answer(world, other, 1, timedelta(minutes=1), "second")
    report = engine.run_once()
    assert (report.routed, report.tickets_created) == (1, 1)
    assert engine.ruleset.hash == first_hash
    assert engine.rules.last_error is not None
    assert "'detractors'" in engine.rules.last_error

    write_rules(rules_path, rules.replace("tags: [nps]", "tags: [nps, reloaded]"))
    third = answer(world, cy, 0, timedelta(minutes=1), "third")
    engine.run_once()
    assert engine.ruleset.hash != first_hash
    routed = {rid: engine.store.inbox.find(rid)[0].decision or {} for rid in (second, third)}
    assert routed[second]["ruleset"] == first_hash
    assert routed[third]["ruleset"] == engine.ruleset.hash
    tags = {t["subject"].split(": ")[0]: t["tags"] for t in nps_tickets(world)}
    assert "reloaded" in tags["NPS 0"]
    assert "reloaded" not in tags["NPS 1"]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of the rich tables in ``text``."""
    return [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["rules", *map(str, args)], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture
def config_file(world: EmulatedWorld, tmp_path: Path, rules_path: Path) -> Path:
    path = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules_path)
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def test_explain_and_replay_read_a_store_filled_by_a_real_pass(
    world: EmulatedWorld,
    make_engine: EngineFactory,
    rules_path: Path,
    config_file: Path,
    tmp_path: Path,
) -> None:
    write_rules(rules_path, TICKET_RULES)
    (ann, bob, _), other = contacts_of_two_accounts(world)
    answer(world, ann, 2, timedelta(days=5), "Slow support")
    suppressed = answer(world, bob, 1, timedelta(days=4), "Same here")
    answer(world, other, 9, timedelta(days=3), "Great")
    before = world.api_calls()
    assert make_engine().run_once().tickets_created == 1
    after_pass = world.api_calls()

    code, out = cli("explain", suppressed, "--config", config_file)
    assert code == 0, out
    assert f"response delighted/{suppressed}: score 1" in out
    assert "note: detractors: skipped: cooldown: account.id=" in out
    assert "rule detractors: fired" in out
    assert "yes category eq 'detractor'  [category = 'detractor']" in out
    assert re.search(r"account\.id\s+'001", out)

    code, out = cli("explain", "no-such-id", "--config", config_file)
    assert code == 1
    assert "no stored response 'no-such-id'" in out

    write_rules(tmp_path / "new.yaml", TICKET_RULES.replace("14d", "1d"))
    new_rules = tmp_path / "new.yaml"
    code, out = cli("replay", "--since", "30d", "--rules", new_rules, "--config", config_file)
    assert code == 0, out
    assert "3 routed responses submitted since" in out
    rows = table_rows(out)
    assert ["detractors", "zendesk_ticket", "1", "2", "+1"] in rows
    assert ["detractors", "(responses skipped by cooldown)", "1", "0", "-1"] in rows
    assert ["Customer Success", "1", "2", "+1"] in rows
    # Neither command asked anything of Salesforce or Zendesk.
    assert world.api_calls() == after_pass != before


def test_replay_names_the_reason_an_action_would_be_skipped(
    world: EmulatedWorld,
    make_engine: EngineFactory,
    rules_path: Path,
    config_file: Path,
) -> None:
    """As `skipped` and `status` name it: a ticket for someone Zendesk does not know."""
    write_rules(rules_path, TICKET_RULES)
    world.delighted.add_response(
        email="pat@nowhere-known.example",
        score=2,
        comment="Nobody answers",
        created_at=NOW - timedelta(days=2),
    )
    make_engine().run_once()

    code, out = cli("replay", "--since", "30d", "--config", config_file)
    assert code == 0, out
    assert ["detractors", "zendesk_ticket (skipped: no_requester)", "1"] in table_rows(out)
    code, out = cli("replay", "--since", "30d", "--config", config_file, "--json")
    skipped = json.loads(out)["in_force"]["skipped_unmatched"]
    assert skipped == [
        {"rule": "detractors", "type": "zendesk_ticket", "reason": "no_requester", "count": 1}
    ]


def test_a_task_owner_named_by_email_gets_the_task(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    manager = world.book.users[1]
    write_rules(
        rules_path,
        f"""
version: 1
actions:
  cx_review:
    type: salesforce_task
    owner: user:{manager.email.upper()}
    subject: "Review {{{{ account.name }}}}"
    due_in: 1d
  unknown_owner:
    type: salesforce_task
    owner: user:nobody@acme.example
    subject: "Nobody"
    due_in: 1d
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [cx_review, unknown_owner]
""",
    )
    (ann, _, _), _ = contacts_of_two_accounts(world)
    rid = answer(world, ann, 1, timedelta(hours=1), "Down again")
    engine = make_engine()
    assert engine.run_once().tasks_created == 2
    tasks = {t["Subject"]: t for t in world.salesforce.records("Task")}
    assert tasks["Review " + ann_account_name(world, ann)]["OwnerId"] == manager.id
    # The unknown owner's Task goes down the ladder to the configured fallback owner.
    fallback = world.book.users[0]
    assert tasks["Nobody"]["OwnerId"] == fallback.id
    assert tasks["Nobody"]["Description"].startswith(
        "Assigned to you because nobody@acme.example is not an active Salesforce user.\n\n"
        "-- Customer context (nps-sync) --\n"
    )
    (stored,) = engine.store.inbox.find(rid)
    assert stored.decision is not None
    assert stored.decision["notes"] == [
        "detractors/unknown_owner: owner from the ladder: nobody@acme.example is not an active "
        "Salesforce user"
    ]


def test_a_deactivated_owner_passes_the_task_down_the_ladder(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    """Someone who left keeps their accounts until they are reassigned, and Salesforce refuses
    them a new Task: the Task goes to the next rung, saying why, instead of failing for good."""
    write_rules(
        rules_path,
        """
version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "Call {{ contact.name }}"
    due_in: 1d
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call]
""",
    )
    (ann, bob, _), _ = contacts_of_two_accounts(world)
    fallback, colleague = world.book.users[0], world.book.users[2]
    leaver = next(a.owner_id for a in world.book.accounts if a.id == ann.account_id)
    assert leaver not in (fallback.id, colleague.id)
    world.salesforce.update_record("Contact", ann.id, {"OwnerId": colleague.id})
    world.salesforce.update_record("Contact", bob.id, {"OwnerId": leaver})
    world.salesforce.update_record("User", leaver, {"IsActive": False})
    answer(world, ann, 2, timedelta(hours=1), "Down again")
    answer(world, bob, 3, timedelta(hours=1), "Same here")

    report = make_engine().run_once()

    assert (report.tasks_created, report.errors) == (2, [])
    tasks = {t["WhoId"][:15]: t for t in world.salesforce.records("Task") if t.get("WhoId")}
    assert tasks[ann.id[:15]]["OwnerId"][:15] == colleague.id[:15]
    assert tasks[ann.id[:15]]["Description"].startswith(
        "Assigned to you because the account's owner is a deactivated Salesforce user.\n\n"
    )
    assert tasks[bob.id[:15]]["OwnerId"][:15] == fallback.id[:15]
    assert tasks[bob.id[:15]]["Description"].startswith(
        "Assigned to you because the account's owner is a deactivated Salesforce user and "
        "the contact's owner is a deactivated Salesforce user.\n\n"
    )


def ann_account_name(world: EmulatedWorld, contact: SeedContact) -> str:
    return next(a.name for a in world.book.accounts if a.id == contact.account_id)


def test_explain_evaluates_time_relative_fields_as_of_routing(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path, config_file: Path
) -> None:
    write_rules(
        rules_path,
        """
version: 1
actions:
  late_call:
    type: salesforce_task
    subject: "Late answer"
    due_in: 1d
rules:
  - name: answered_long_ago
    when: {age_minutes: {gte: 120}}
    actions: [late_call]
""",
    )
    (ann, _, _), _ = contacts_of_two_accounts(world)
    # Half an hour before this moment (not the module's NOW, which a slow run leaves far behind).
    late = world.delighted.add_response(
        email=ann.email,
        score=3,
        comment="Eventually",
        created_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30),
    )
    # Routed three hours from now: the answer was then 3.5 hours old, and the rule fired.
    engine = make_engine(clock=lambda: datetime.now(UTC) + timedelta(hours=3))
    assert engine.run_once().tasks_created == 1

    code, out = cli("explain", late, "--config", config_file)
    assert code == 0, out
    assert "rule answered_long_ago: fired" in out
    assert re.search(r"age_minutes\s+2[01]\d\b", out), out


def test_status_shows_the_rules_in_force_and_a_rejected_edit(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    from sync.commands.ops import status_report

    write_rules(rules_path, TICKET_RULES)
    engine = make_engine()
    engine.run_once()
    good = engine.ruleset.hash

    def lines() -> list[str]:
        return [p for p in status_report(engine.store, NOW) if isinstance(p, str)]

    assert f"Rules in force: {rules_path}, hash {good[:12]}" in lines()
    assert not any("rejected" in line for line in lines())

    write_rules(rules_path, TICKET_RULES.replace("category: detractor", "category: detractors"))
    engine.run_once()
    shown = "\n".join(lines())
    assert f"Rules in force: {rules_path}, hash {good[:12]}" in shown
    assert "Rules file changed but was rejected; the rules above stay in force" in shown
    assert "'detractors'" in shown

    write_rules(rules_path, TICKET_RULES.replace("14d", "7d"))
    engine.run_once()
    assert f"Rules in force: {rules_path}, hash {engine.ruleset.hash[:12]}" in lines()
    assert engine.ruleset.hash != good
    assert not any("rejected" in line for line in lines())
