"""The first run over a year of history acts only on recent answers, through the CLI.

The world holds a year of survey responses up to yesterday; the config leaves
``routing.act_on_responses_newer_than`` at its default (14 days). What each run should have
done is worked out here by routing the seed itself through the default rules (cooldowns and
comments on open tickets included) and compared with what Salesforce and Zendesk hold, key by
key.
"""

from __future__ import annotations

import json
import re
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connectors.models import category_of
from emulators.base import Fault
from emulators.seed import generate_seed
from emulators.seed_model import Seed, SeedSurveyResponse
from emulators.world import DEFAULT_RULES, EmulatedWorld
from rules import derive_fields, load_rules
from rules.throttle import CooldownLedger, cooldown_key
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.cli import main
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.loop.calendar import BusinessHours
from sync.stages.route import action_key
from tests.reliability.conftest import quiet_end, spawn
from tests.support import wait_for

SEED, ACCOUNTS, RESPONSES = 11, 40, 600
WINDOW = timedelta(days=14)
MARKER = "NPS_Sync_Key__c"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)
SETTING = "routing.act_on_responses_newer_than"


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    """A year of responses up to a day or two ago, none near the edge of the window."""
    end = quiet_end(SEED, ACCOUNTS, RESPONSES, windows=(WINDOW,))
    with EmulatedWorld(seed=SEED, accounts=ACCOUNTS, responses=RESPONSES, end=end) as w:
        yield w


@pytest.fixture
def config(world: EmulatedWorld, tmp_path: Path) -> Path:
    """The world's config with no ``routing`` section: the default window."""
    path = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    path.write_text(json.dumps(data, default=str), encoding="utf-8")  # JSON is YAML
    return path


def cli(*args: str | int | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "250", "NO_COLOR": "1"})


def table_rows(output: str) -> list[list[str]]:
    """The cells of every table row in ``output``."""
    rows = [[c.strip() for c in re.split(r"[│┃]", line)[1:-1]] for line in output.splitlines()]
    return [cells for cells in rows if cells]


def cell(output: str, label: str) -> str:
    """The value cell of the report row ``label``."""
    for cells in table_rows(output):
        if cells[0] == label:
            return cells[-1]
    raise AssertionError(f"no row {label!r} in:\n{output}")


@dataclass(frozen=True)
class Expected:
    """The Task and ticket keys the default rules give a set of responses, and the count per
    (rule, action type)."""

    tasks: frozenset[str]
    tickets: frozenset[str]
    by_rule: Counter[tuple[str, str]]


def expected_actions(world: EmulatedWorld | Seed, responses: list[SeedSurveyResponse]) -> Expected:
    """Route ``responses`` (oldest first) through the default rules as the engine would: the
    seed's accounts by contact or email domain, cooldowns per respondent, and a second ticket
    action of one requester commenting on the first ticket instead of opening another."""
    book = world.book if isinstance(world, EmulatedWorld) else world
    in_zendesk = {u.email.lower() for u in book.zendesk_users}
    accounts = {a.id: a for a in book.accounts}
    by_domain = {a.domain: a for a in book.accounts}
    contacts = {c.email.lower(): c for c in book.contacts}
    ruleset = load_rules(DEFAULT_RULES)
    ledger = CooldownLedger()
    tasks: set[str] = set()
    tickets: set[str] = set()
    opened: set[str] = set()
    by_rule: Counter[tuple[str, str]] = Counter()
    for r in sorted(responses, key=lambda r: r.created_at):
        email = r.email.lower()
        contact = contacts.get(email)
        account = accounts[contact.account_id] if contact else by_domain.get(email.split("@")[1])
        fields = derive_fields(
            {
                "score": r.score,
                "comment": r.comment,
                "person_email": email,
                "account.tier": account.tier if account else None,
            }
        )
        for match in ruleset.route(fields).matches:
            key = cooldown_key(match, fields)
            if key is not None and ledger.blocker(key, "delighted", r.id, r.created_at):
                continue
            for name in match.actions:
                kind = ruleset.actions[name].type
                if kind == "zendesk_ticket" and email not in in_zendesk:
                    continue  # the rules create no requesters
                by_rule[(match.rule, kind)] += 1
                action = action_key("delighted", r.id, match.rule, name)
                if kind == "salesforce_task":
                    tasks.add(action)
                elif email not in opened:  # later ones comment on the open ticket
                    tickets.add(action)
                    opened.add(email)
                if key is not None:
                    ledger.claim(key, "delighted", r.id, r.created_at)
    return Expected(frozenset(tasks), frozenset(tickets), by_rule)


def recent(world: EmulatedWorld, now: datetime) -> list[SeedSurveyResponse]:
    return [r for r in world.book.responses if now - r.created_at < WINDOW]


def task_keys(world: EmulatedWorld) -> set[str]:
    return {t[MARKER] for t in world.salesforce.records("Task")}


def ticket_keys(world: EmulatedWorld) -> set[str]:
    return {t["external_id"] for t in world.zendesk.tickets() if t.get("external_id")}


def test_the_first_sync_acts_only_on_responses_inside_the_window(
    world: EmulatedWorld, config: Path
) -> None:
    now = datetime.now(UTC)
    fresh = recent(world, now)
    old = [r for r in world.book.responses if r not in fresh]
    expected = expected_actions(world, fresh)
    assert fresh  # else the comparison proves little
    assert old
    assert expected.tickets

    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output
    assert task_keys(world) == expected.tasks
    assert ticket_keys(world) == expected.tickets
    assert cell(result.output, "Responses routed") == str(len(world.book.responses))
    assert cell(result.output, "too old to act on (history only)") == str(len(old))
    assert cell(result.output, "Salesforce tasks created") == str(len(expected.tasks))
    assert cell(result.output, "Zendesk tickets created") == str(len(expected.tickets))
    summary = " ".join(result.output.split())
    assert (
        f"{len(old)} responses older than 14d stored as history only: no Tasks, tickets or "
        f"notifications, but their scores count in the NPS fields ({SETTING}). To import "
        "history deliberately before the first run, use `nps-sync backfill --since DATE`."
    ) in summary

    # History still counts: a contact whose only answers are old has its NPS fields written.
    emails = {c.email: c.id for c in world.book.contacts}
    answers: dict[str, list[SeedSurveyResponse]] = {}
    for r in world.book.responses:
        if r.email.lower() in emails:
            answers.setdefault(emails[r.email.lower()], []).append(r)
    only_old = {c: rs for c, rs in answers.items() if all(r in old for r in rs)}
    assert only_old
    for contact_id, responses in only_old.items():
        record = world.salesforce.get_record("Contact", contact_id)
        assert record is not None
        assert record["NPS_Last_Score__c"] == max(responses, key=lambda r: r.created_at).score

    again = cli("sync", "--config", config)
    assert again.exit_code == 0, again.output
    assert cell(again.output, "too old to act on (history only)") == "0"
    assert "stored as history only" not in again.output
    assert task_keys(world) == expected.tasks


def test_the_daemon_says_how_many_answers_it_kept_as_history(
    world: EmulatedWorld, config: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    fresh = recent(world, now)
    expected = expected_actions(world, fresh)
    log = tmp_path / "daemon.log"
    daemon = spawn(["run", "--config", str(config)], log)
    try:
        done = wait_for(
            lambda: task_keys(world) == expected.tasks and ticket_keys(world) == expected.tickets,
            timeout=60,
        )
        assert done, log.read_text()
        old = len(world.book.responses) - len(fresh)
        assert wait_for(lambda: "stored as history only" in log.read_text(), timeout=10)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, log.read_text()
    lines = [line for line in log.read_text().splitlines() if "stored as history only" in line]
    assert len(lines) == 1, log.read_text()
    assert f"poll: {old} responses older than 14d stored as history only" in lines[0]
    assert "nps-sync backfill --since DATE" in lines[0]


def test_status_explain_and_replay_say_why_old_answers_got_nothing(
    world: EmulatedWorld, config: Path
) -> None:
    assert cli("sync", "--config", config).exit_code == 0
    now = datetime.now(UTC)
    fresh = recent(world, now)
    old = [r for r in world.book.responses if r not in fresh]

    status = cli("status", "--config", config)
    assert status.exit_code == 0, status.output
    assert f"{len(old)} too old to act on (history only;" in " ".join(status.output.split())

    detractor = next(r for r in reversed(old) if category_of(r.score) == "detractor")
    days = (now - detractor.created_at).days
    why = (
        f"too old to act on: answered {detractor.created_at.date().isoformat()}, {days} days "
        f"ago; acts only on responses newer than 14d ({SETTING})"
    )
    explained = cli("rules", "explain", detractor.id, "--config", config)
    assert explained.exit_code == 0, explained.output
    assert "actions (none)" in explained.output
    assert f"note: {why}" in explained.output
    assert f"no action is taken: {why}" in explained.output
    assert "rule detractor-call: fired" in explained.output  # what the rules say, for the record
    as_json = json.loads(cli("rules", "explain", detractor.id, "--json", "--config", config).output)
    assert as_json["too_old"] == why
    assert as_json["stored_decision"]["notes"] == [why]
    status_json = json.loads(cli("status", "--json", "--config", config).output)
    assert status_json["responses"]["too_old"] == len(old)

    acted = next(r for r in fresh if category_of(r.score) == "detractor")
    explained = cli("rules", "explain", acted.id, "--config", config)
    assert "too old" not in explained.output
    assert "actions detractor_followup" in explained.output

    # Replay over 30 days agrees with what live routing did: the answers of days 14 to 30 act
    # under no rules, the rest exactly as they did.
    replayed = cli("rules", "replay", "--since", "30d", "--config", config)
    assert replayed.exit_code == 0, replayed.output
    month = [r for r in world.book.responses if now - r.created_at < timedelta(days=30)]
    between = len(month) - len(fresh)
    assert between > 0
    text = " ".join(replayed.output.split())
    assert f"{len(month)} routed responses submitted since" in text
    assert f"{between} of them were too old to act on when routed (older than 14d," in text
    replayed_json = cli("rules", "replay", "--since", "30d", "--json", "--config", config)
    assert json.loads(replayed_json.output)["too_old"] == between
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in replayed.output.split("Salesforce tasks per owner")[0].splitlines()
        if line.startswith("│")
    ]
    assert Counter({(rule, kind): int(count) for rule, kind, count in rows}) == (
        expected_actions(world, fresh).by_rule
    )


def test_backfill_then_sync_acts_only_on_what_arrives_after_it(
    world: EmulatedWorld, config: Path
) -> None:
    first = min(r.created_at for r in world.book.responses).date().isoformat()
    backfilled = cli("backfill", "--since", first, "--config", config)
    assert backfilled.exit_code == 0, backfilled.output
    assert f"imported {len(world.book.responses)} " in backfilled.output
    assert task_keys(world) == set()
    reconciled = cli("fields", "reconcile", "--config", config)
    assert reconciled.exit_code == 0, reconciled.output
    # Both jobs are in the run history, newest first, with what they did.
    runs = json.loads(cli("status", "--json", "--config", config).output)["runs"]
    assert [(r["job"], r["status"], r["errors"]) for r in runs] == [
        ("reconcile", "ok", 0),
        ("backfill", "ok", 0),
    ]
    assert runs[1]["pulled"] == len(world.book.responses)
    assert runs[1]["records_updated"] > 0

    contacts = [c for c in world.book.contacts if c.zendesk_user_id][:3]
    now = datetime.now(UTC) - timedelta(minutes=20)  # past the detractor rules' settle delay
    new = [
        world.delighted.add_response(
            email=c.email, score=score, comment="Reports are slow", created_at=now, updated_at=now
        )
        for c, score in zip(contacts, (2, 7, 10), strict=True)
    ]
    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output
    assert cell(result.output, "Responses routed") == "3"
    assert cell(result.output, "too old to act on (history only)") == "0"
    assert task_keys(world) == {
        action_key("delighted", new[0], "detractor-call", "detractor_followup"),
        action_key("delighted", new[1], "passives-with-comment", "passive_followup"),
        action_key("delighted", new[2], "promoters-with-comment", "referral_ask"),
    }
    tier = next(a.tier for a in world.book.accounts if a.id == contacts[0].account_id)
    rule, action = {
        "Enterprise": ("enterprise-detractors", "detractor_ticket_enterprise"),
        "Mid-Market": ("mid-market-detractors", "detractor_ticket_mid_market"),
    }.get(tier, ("detractors", "detractor_ticket"))
    assert ticket_keys(world) == {action_key("delighted", new[0], rule, action)}


def test_a_task_that_waited_in_the_outbox_is_due_from_when_it_is_created(
    world: EmulatedWorld, config: Path
) -> None:
    """Routed two days ago while Salesforce refused Task creates; created by today's sync."""
    routed_at = datetime.now(UTC) - timedelta(days=2)
    data: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    settings = Config.model_validate(data)
    world.salesforce.inject(Fault("503", rate=1.0, endpoint="^composite_create$"))
    store = open_store(settings)
    engine = Engine(
        settings,
        store,
        connect_all(settings),
        load_rules(settings.rules),
        retry=FAST_RETRY,
        clock=lambda: routed_at,
    )
    report = engine.run_once()
    store.close()
    assert report.tasks_created == 0
    assert report.deferred > 0  # Salesforce down: they wait, using up no try
    assert report.unavailable
    world.salesforce.clear_faults()

    before = datetime.now(UTC)
    result = cli("sync", "--config", config)
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    earlier = [r for r in recent(world, routed_at) if r.created_at < routed_at]
    waited = expected_actions(world, earlier)
    tasks = {t[MARKER]: t for t in world.salesforce.records("Task")}
    assert waited.tasks
    assert waited.tasks <= set(tasks)
    due_in = {"High": timedelta(days=1), "Normal": timedelta(days=5), "Low": timedelta(days=7)}
    working = BusinessHours().working_date
    for key in waited.tasks:
        task = tasks[key]
        due = date.fromisoformat(task["ActivityDate"])
        wait = due_in[task["Priority"]]
        # Due dates are working days (the sandbox's business hours are UTC's).
        assert due in {working(before + wait), working(after + wait)}, task
        assert due >= working(routed_at + wait)
        assert due.weekday() < 5


def test_the_demo_acts_on_the_last_two_weeks_of_its_year() -> None:
    """``nps-sync demo`` seeds a year up to today: the first sync acts on the recent answers and
    stores the rest as history, the second does nothing."""
    # Answers fall at the same offsets before the end of the year whatever day it ends on.
    end = datetime.now(UTC)
    book = generate_seed(SEED, accounts=ACCOUNTS, responses=300, end=end)
    # The demo routes seconds after its year ends: an answer that close to the edge of the
    # window may fall on either side.
    edge = WINDOW - timedelta(minutes=1)
    surely_old = [r for r in book.responses if end - r.created_at >= WINDOW]
    maybe_old = [r for r in book.responses if end - r.created_at >= edge]
    at_least = expected_actions(book, [r for r in book.responses if r not in maybe_old])
    at_most = expected_actions(book, [r for r in book.responses if r not in surely_old])
    assert at_least.tasks

    result = cli("demo", "--seed", SEED, "--accounts", ACCOUNTS, "--responses", 300)
    assert result.exit_code == 0, result.output
    rows = {cells[0]: cells[1:] for cells in table_rows(result.output)}
    too_old, tasks, tickets = (
        [int(n) for n in rows[label]]
        for label in (
            "too old to act on (history only)",
            "Salesforce tasks created",
            "Zendesk tickets created",
        )
    )
    assert len(surely_old) <= too_old[0] <= len(maybe_old)
    assert len(at_least.tasks) <= tasks[0] <= len(at_most.tasks)
    assert len(at_least.tickets) <= tickets[0] <= len(at_most.tickets)
    assert (too_old[1], tasks[1], tickets[1]) == (0, 0, 0)  # the second sync
    assert "stored as history only" in result.output
    assert "The second sync created 0 tasks and 0 tickets" in result.output
