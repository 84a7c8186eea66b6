"""No action is dropped silently: through ``nps-sync`` against the emulators, on both backends.

Every action a rule asks for ends done, under way, failed or skipped with a reason. A Task whose
owner cannot be found goes down the owner ladder to the fallback owner and says why; an action
that cannot be made at all is recorded, counted in the pass, shown by ``status``, listed by
``nps-sync skipped`` and makes ``sync`` exit 1, unless the rules expect it (``expect_skip``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connectors.transport import make_session
from emulators.seed_model import SeedContact
from emulators.world import ZD_HOST, EmulatedWorld
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN
from sync.cli import main
from tests.routing.conftest import write_rules

NOW = datetime.now(UTC).replace(microsecond=0)
GHOST = "ghost@example.com"
STRANGER = "stranger@unknown-customer.example"

GHOST_OWNER_RULES = f"""
version: 1
actions:
  cx_review:
    type: salesforce_task
    owner: user:{GHOST}
    subject: "Review {{{{ account.name }}}}"
    description: "Score {{{{ response.score }}}}"
    due_in: 1d
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [cx_review]
"""

TICKET = """
  detractor_ticket:
    type: zendesk_ticket
    subject: "Detractor {{ response.score }}"
    body: "{{ response.comment }}"
    tags: [nps]
"""

IMPOSSIBLE_RULES = f"""
version: 1
actions:
  cx_review:
    type: salesforce_task
    owner: user:{GHOST}
    subject: Review
    due_in: 1d
{TICKET}
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [cx_review, detractor_ticket]
"""


def cli(*args: object, width: int = 250) -> Result:
    env = {"COLUMNS": str(width), "NO_COLOR": "1"}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def write_config(
    world: EmulatedWorld,
    state_url: str,
    rules: Path,
    path: Path,
    *,
    fallback: bool = True,
    remember_unknown_users_days: float | None = None,
) -> Path:
    data = world.config_data(state_url=state_url, rules=rules)
    if not fallback:
        del data["salesforce"]["fallback_owner_id"]
    if remember_unknown_users_days is not None:
        matching = data["zendesk"].setdefault("matching", {})
        matching["remember_unknown_users_days"] = remember_unknown_users_days
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture
def config(world: EmulatedWorld, store_url: str, rules_path: Path, tmp_path: Path) -> Path:
    """A config on the world and a state database of each backend, with a fallback owner."""
    return write_config(world, store_url, rules_path, tmp_path / "nps-sync.yaml")


@pytest.fixture
def no_fallback(world: EmulatedWorld, store_url: str, rules_path: Path, tmp_path: Path) -> Path:
    """The same, without ``salesforce.fallback_owner_id``."""
    return write_config(world, store_url, rules_path, tmp_path / "nps-sync.yaml", fallback=False)


def known_contact(world: EmulatedWorld) -> SeedContact:
    """A contact of an account with an owner, who is a Zendesk user too."""
    in_zendesk = {u.email.lower() for u in world.book.zendesk_users}
    return next(c for c in world.book.contacts if c.email.lower() in in_zendesk)


def detractor(world: EmulatedWorld, email: str, comment: str = "Too slow") -> str:
    return world.delighted.add_response(
        email=email, score=2, comment=comment, created_at=NOW - timedelta(hours=2)
    )


def row(output: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is ``label``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{output}")


def rows(output: str, label: str) -> list[list[str]]:
    """The cells of every table row whose first cell is ``label``."""
    found = []
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == label:
            found.append(cells)
    return found


def skips(config: Path, *options: str) -> list[dict[str, Any]]:
    result = cli("skipped", "--config", config, "--json", *options)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    found: list[dict[str, Any]] = document["actions"]
    assert document["count"] == len(found)
    return found


def nps_tickets(world: EmulatedWorld) -> list[dict[str, Any]]:
    return [t for t in world.zendesk.tickets() if t.get("external_id")]


def test_a_ghost_owner_hands_the_task_to_the_fallback_owner_and_says_why(
    world: EmulatedWorld, rules_path: Path, config: Path
) -> None:
    write_rules(rules_path, GHOST_OWNER_RULES)
    contact = known_contact(world)
    detractor(world, contact.email)

    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output
    assert row(result.output, "Salesforce tasks created")[1] == "1"
    assert row(result.output, "Actions skipped / unexpected")[1] == "0 / 0"
    (task,) = world.salesforce.records("Task")
    assert task["OwnerId"] == world.book.users[0].id  # the configured fallback owner
    assert task["WhoId"] == contact.id
    assert task["Description"].startswith(
        f"Assigned to you because {GHOST} is not an active Salesforce user.\n\nScore 2\n\n"
        "-- Customer context (nps-sync) --\n"
    )
    assert skips(config) == []


def test_impossible_actions_are_counted_listed_and_fail_the_pass_once(
    world: EmulatedWorld, rules_path: Path, no_fallback: Path
) -> None:
    write_rules(rules_path, IMPOSSIBLE_RULES)
    contact = known_contact(world)
    known = detractor(world, contact.email)
    stranger = detractor(world, STRANGER)

    first = cli("sync", "--config", no_fallback)
    assert first.exit_code == 1, first.output
    assert row(first.output, "Actions skipped / unexpected")[1] == "3 / 3"
    assert row(first.output, "owner_not_found")[1] == "2"
    assert row(first.output, "no_requester")[1] == "1"
    assert "3 action(s) skipped that the rules do not expect" in first.output
    assert world.salesforce.records("Task") == []
    (ticket,) = nps_tickets(world)  # the known respondent's ticket was made

    status = cli("status", "--config", no_fallback)
    assert status.exit_code == 0, status.output
    assert (
        "Actions skipped: 3 (no_requester 1, owner_not_found 2), 3 not expected by the rules"
        in status.output
    )
    assert row(status.output, "1")[4] == "partial"  # the run, in the history
    document = json.loads(cli("status", "--config", no_fallback, "--json").output)
    assert document["skipped"] == {
        "total": 3,
        "unexpected": 3,
        "by_reason": {"no_requester": 1, "owner_not_found": 2},
    }

    listed = cli("skipped", "--config", no_fallback)
    assert listed.exit_code == 0, listed.output
    assert "Skipped actions (3)" in listed.output
    assert sorted(tuple(cells[1:4]) for cells in rows(listed.output, f"delighted {stranger}")) == [
        ("detractors / cx_review", "owner_not_found", "no"),
        ("detractors / detractor_ticket", "no_requester", "no"),
    ]
    narrow = cli("skipped", "--config", no_fallback, width=80).output
    assert "…" not in narrow
    assert max(map(len, narrow.splitlines())) <= 80, narrow
    assert f"  delighted {stranger} detractors/detractor_ticket:" in narrow
    recorded = skips(no_fallback)
    by_response = {(s["response_id"], s["action"]): s for s in recorded}
    assert set(by_response) == {
        (known, "cx_review"),
        (stranger, "cx_review"),
        (stranger, "detractor_ticket"),
    }
    assert by_response[(known, "cx_review")]["detail"] == (
        f"{GHOST} is not an active Salesforce user, and no salesforce.fallback_owner_id is set"
    )
    (requester,) = skips(no_fallback, "--reason", "no_requester")
    assert (requester["response_id"], requester["kind"], requester["expected"]) == (
        stranger,
        "zendesk_ticket",
        False,
    )
    assert skips(no_fallback, "--rule", "promoters") == []
    assert cli("skipped", "--config", no_fallback, "--reason", "no_requestor").exit_code == 2

    second = cli("sync", "--config", no_fallback)  # nothing new: nothing to report, exit 0
    assert second.exit_code == 0, second.output
    assert row(second.output, "Actions skipped / unexpected")[1] == "0 / 0"

    # An edited response is routed again: its skips are decided again, not doubled or recounted.
    world.delighted.update_response(stranger, comment="Still too slow")
    edited = cli("sync", "--config", no_fallback)
    assert edited.exit_code == 0, edited.output
    assert row(edited.output, "Responses routed")[1] == "1"
    assert row(edited.output, "Actions skipped / unexpected")[1] == "0 / 0"
    again = skips(no_fallback)
    assert sorted(s["id"] for s in again) == sorted(s["id"] for s in recorded)
    assert nps_tickets(world) == [ticket]


def test_a_skip_resolved_when_the_response_is_routed_again_leaves_nothing_behind(
    world: EmulatedWorld, rules_path: Path, store_url: str, tmp_path: Path
) -> None:
    # Searched again at once: by default "no such user" is remembered for days, and a user
    # created by hand meanwhile is found only once that answer expires.
    config = write_config(
        world, store_url, rules_path, tmp_path / "nps-sync.yaml", remember_unknown_users_days=0
    )
    write_rules(rules_path, IMPOSSIBLE_RULES)
    stranger = detractor(world, STRANGER)
    assert cli("sync", "--config", config).exit_code == 1
    assert [(s["action"], s["reason"]) for s in skips(config)] == [
        ("detractor_ticket", "no_requester")
    ]

    create_zendesk_user(world, STRANGER, "Sam Stranger")
    world.delighted.update_response(stranger, comment="Too slow, and nobody called")
    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output
    assert row(result.output, "Zendesk tickets created")[1] == "1"
    assert skips(config) == []
    assert "Actions skipped: 0" in cli("status", "--config", config).output


EXPECTED_RULES = f"""
version: 1
actions:
  cx_review:
    type: salesforce_task
    owner: user:{GHOST}
    subject: Review
    due_in: 1d
  detractor_ticket:
    type: zendesk_ticket
    subject: "Detractor {{{{ response.score }}}}"
    body: "{{{{ response.comment }}}}"
    expect_skip: [no_requester]
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [cx_review, detractor_ticket]
    expect_skip: [owner_not_found]
    cooldown: {{key: person_email, period: 14d}}
"""


def test_skips_the_rules_expect_are_listed_but_keep_the_pass_clean(
    world: EmulatedWorld, rules_path: Path, no_fallback: Path
) -> None:
    write_rules(rules_path, EXPECTED_RULES)
    stranger = detractor(world, STRANGER)
    contact = known_contact(world)
    first = detractor(world, contact.email)
    # A second answer of the same person within the cooldown: held back, and always expected.
    later = world.delighted.add_response(
        email=contact.email, score=1, comment="Worse", created_at=NOW - timedelta(hours=1)
    )

    result = cli("sync", "--config", no_fallback)
    assert result.exit_code == 0, result.output
    assert row(result.output, "Zendesk tickets created")[1] == "1"
    assert row(result.output, "Actions skipped / unexpected")[1] == "5 / 0"
    assert row(result.output, "cooldown")[1] == "2"
    recorded = {(s["response_id"], s["action"]): s for s in skips(no_fallback)}
    assert {key: (s["reason"], s["expected"]) for key, s in recorded.items()} == {
        (stranger, "cx_review"): ("owner_not_found", True),
        (stranger, "detractor_ticket"): ("no_requester", True),
        (first, "cx_review"): ("owner_not_found", True),
        (later, "cx_review"): ("cooldown", True),
        (later, "detractor_ticket"): ("cooldown", True),
    }
    assert recorded[(later, "cx_review")]["detail"].startswith("person_email=")
    assert skips(no_fallback, "--unexpected") == []
    status = cli("status", "--config", no_fallback).output
    assert "Actions skipped: 5 (cooldown 2, no_requester 1, owner_not_found 2), 0 not" in status


CREATING_RULES = """
version: 1
actions:
  detractor_ticket:
    type: zendesk_ticket
    subject: "Detractor {{ response.score }}"
    body: "{{ response.comment }}"
    create_requester: true
rules:
  - name: detractors
    when: {category: detractor}
    actions: [detractor_ticket]
"""


@pytest.fixture
def lagging_world() -> Iterator[EmulatedWorld]:
    """A world whose Zendesk search finds a user only an hour after it was created."""
    options = {"search_index_delay_seconds": 3600}
    with EmulatedWorld(seed=5, accounts=6, responses=0, zendesk_options=options) as w:
        yield w


def test_create_requester_opens_tickets_for_new_people_and_for_people_search_missed(
    lagging_world: EmulatedWorld, rules_path: Path, store_url: str, tmp_path: Path
) -> None:
    world = lagging_world
    write_rules(rules_path, CREATING_RULES)
    config = write_config(world, store_url, rules_path, tmp_path / "nps-sync.yaml")
    # Someone Zendesk has never seen, and someone added a moment ago (not searchable yet).
    detractor(world, STRANGER, "Nobody answers")
    recent_id = create_zendesk_user(world, "new.customer@acme-client.example", "Nia Newcomer")
    detractor(world, "New.Customer@acme-client.example", "Lost my data")
    users_before = len(world.zendesk.users())

    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output
    assert row(result.output, "Zendesk tickets created")[1] == "2"
    assert skips(config) == []
    users = {u["email"]: u for u in world.zendesk.users()}
    assert len(users) == users_before + 1  # the stranger; the recent user was found, not doubled
    assert users["new.customer@acme-client.example"]["id"] == recent_id
    by_body = {t["description"].split("\n")[0]: t for t in nps_tickets(world)}
    assert by_body["Nobody answers"]["requester_id"] == users[STRANGER]["id"]
    assert by_body["Lost my data"]["requester_id"] == recent_id
    assert users["new.customer@acme-client.example"]["name"] == "Nia Newcomer"


def create_zendesk_user(world: EmulatedWorld, email: str, name: str) -> int:
    """Add an end user through the Zendesk API, as an agent would by hand, long enough ago for
    Zendesk's search index to know them."""
    session = make_session({ZD_HOST: world.routes[ZD_HOST]})
    session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
    answer = session.post(
        f"{ZD_HOST}/api/v2/users.json", json={"user": {"email": email, "name": name}}
    )
    assert answer.status_code == 201, answer.text
    world.zendesk.advance_clock(world.zendesk.search_index_delay_seconds)
    user_id: int = answer.json()["user"]["id"]
    return user_id


def test_check_and_rules_check_name_each_missing_person_and_group_where_the_rules_do(
    world: EmulatedWorld, rules_path: Path, tmp_path: Path
) -> None:
    manager = world.book.users[1]
    write_rules(
        rules_path,
        f"""version: 1
actions:
  by_email:
    type: salesforce_task
    owner: user:{manager.email}
    subject: Review
    due_in: 1d
  by_id:
    type: salesforce_task
    owner: user:{manager.id}
    subject: Review
    due_in: 1d
  ghost:
    type: salesforce_task
    owner: user:{GHOST}
    subject: Review
    due_in: 1d
  gone:
    type: salesforce_task
    owner: user:005000000000ZZZ
    subject: Review
    due_in: 1d
  ticket:
    type: zendesk_ticket
    subject: Detractor
    body: x
    group: Nowhere
    assignee: nobody@acme.example
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [by_email, by_id, ghost, gone, ticket]
""",
    )
    config = write_config(world, f"sqlite:///{tmp_path / 'state.db'}", rules_path, tmp_path / "c")
    fallback = world.book.users[0].id
    then = f"until then its Tasks go to the fallback owner {fallback}"

    checked = cli("rules", "check", rules_path, "--config", config)
    assert checked.exit_code == 1, checked.output
    assert checked.output.splitlines() == [
        f"{rules_path}:15:12: owner user:{GHOST} is not an active Salesforce user; create or "
        f"activate that user, or name another owner ({then})",
        f"{rules_path}:20:12: owner user:005000000000ZZZ is not an active Salesforce user; "
        f"create or activate that user, or name another owner ({then})",
        f"{rules_path}:27:12: group Nowhere does not exist: nps-sync refuses to route responses "
        "until it does; create the group 'Nowhere' (Admin Center > People > Groups), or fix the "
        "name",
        f"{rules_path}:28:15: assignee nobody@acme.example is not a Zendesk agent: nps-sync "
        "refuses to route responses until it is; add nobody@acme.example as an agent, or change "
        "the action's assignee",
    ]

    report = cli("check", "--config", config, width=600)
    assert report.exit_code == 1, report.output
    found = {
        cells[1]: cells
        for cells in (
            [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
            for line in report.output.splitlines()
        )
        if len(cells) >= 4 and cells[2] == "error"
    }
    assert found[f"owner user:{GHOST}"][3] == (
        f"{rules_path}:15:12: is not an active Salesforce user"
    )
    assert found["owner user:005000000000ZZZ"][3].startswith(f"{rules_path}:20:12: ")
    assert found["group Nowhere"][3].startswith(f"{rules_path}:27:12: does not exist")
    assert found["assignee nobody@acme.example"][3].startswith(f"{rules_path}:28:15: ")

    fixed = rules_path.read_text(encoding="utf-8")
    for gone in (f"user:{GHOST}", "user:005000000000ZZZ"):
        fixed = fixed.replace(gone, "account_owner")
    fixed = fixed.replace("group: Nowhere", "group: Customer Success").replace(
        "    assignee: nobody@acme.example\n", ""
    )
    write_rules(rules_path, fixed)
    clean = cli("rules", "check", rules_path, "--config", config)
    assert clean.exit_code == 0, clean.output
    assert clean.output.strip().endswith(
        "ok (1 rules, 5 actions, every person and group it names exists)"
    )
