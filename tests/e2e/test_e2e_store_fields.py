"""Routing on what the state store knows beyond the response: the account's rolling NPS as its
record shows it after the answer, and the respondent's Zendesk tickets from the ticket mirror."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulators.seed_model import SeedContact
from emulators.world import EmulatedWorld
from sync.cli import main
from sync.stages.route import rebuild_fields
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
actions:
  account_call:
    type: salesforce_task
    owner: account_owner
    subject: "Account NPS now {{ account.nps }}"
    due_in: 1d
  support_call:
    type: salesforce_task
    owner: account_owner
    subject: "{{ support.open_tickets }} open, {{ support.tickets_last_30d }} this month"
    due_in: 1d
rules:
  - name: sinking-account
    when: {account.nps: {lt: 0}}
    actions: [account_call]
    continue: true
  - name: busy-in-support
    when: {support.open_tickets: {gte: 1}}
    actions: [support_call]
"""
UNSOLVED = {"new", "open", "pending", "hold"}


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


def three_of_one_account(world: EmulatedWorld) -> tuple[SeedContact, SeedContact, SeedContact]:
    """Three contacts of one account: the first with an unsolved ticket, the others with none."""
    users = {(u.get("email") or "").lower(): u["id"] for u in world.zendesk.users()}
    tickets = world.zendesk.tickets()
    unsolved = Counter(t["requester_id"] for t in tickets if t["status"] in UNSOLVED)
    for account in world.book.accounts:
        people = [c for c in world.book.contacts if c.account_id == account.id]
        ours = [c for c in people if c.email.lower() in users]
        busy = [c for c in ours if unsolved[users[c.email.lower()]]]
        calm = [c for c in ours if not unsolved[users[c.email.lower()]]]
        if busy and len(calm) >= 2:
            return busy[0], calm[0], calm[1]
    raise AssertionError("the seed has no account with a busy and two calm contacts")


def test_rules_read_the_account_nps_and_the_support_history(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    busy, calm, other = three_of_one_account(world)
    users = {(u.get("email") or "").lower(): u["id"] for u in world.zendesk.users()}
    tickets = [t for t in world.zendesk.tickets() if t["requester_id"] == users[busy.email.lower()]]
    open_now = sum(t["status"] in UNSOLVED for t in tickets)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = make_engine(rules=rules)

    promoter = world.delighted.add_response(email=calm.email, score=10)
    assert engine.run_once().errors == []
    detractor = world.delighted.add_response(email=busy.email, score=2)
    assert engine.run_once().errors == []  # (1 promoter - 1 detractor) / 2: NPS 0
    second = world.delighted.add_response(email=other.email, score=0)
    assert engine.run_once().errors == []  # (1 - 2) / 3: NPS -33.3

    actions = engine.store.outbox.actions()
    rules_of = {
        r: sorted(a.rule for a in actions if a.response_id == r)
        for r in (promoter, detractor, second)
    }
    assert rules_of == {promoter: [], detractor: ["busy-in-support"], second: ["sinking-account"]}
    subjects = {t["Subject"] for t in world.salesforce.records("Task")}
    assert "Account NPS now -33.3" in subjects
    assert any(s.startswith(f"{open_now} open, ") for s in subjects)

    # What routing saw is kept with the decision: a replay reads the same figures.
    stored = engine.store.inbox.get("delighted", second)
    assert stored is not None
    assert stored.decision is not None
    seen = {"account.nps": -33.3, "support.open_tickets": 0, "support.tickets_last_30d": 0}
    assert stored.decision["looked_up"] == seen
    ((_, _, fields),) = rebuild_fields(engine.store, [stored])
    assert {name: fields.get(name) for name in seen} == seen


def test_a_pass_of_many_batches_counts_the_answers_of_its_earlier_batches(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    _, calm, other = three_of_one_account(world)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = make_engine(rules=rules, batch_size=1)
    answered = [
        world.delighted.add_response(email=calm.email, score=10),
        world.delighted.add_response(email=other.email, score=0),
    ]
    assert engine.run_once().errors == []

    seen = []
    for response_id in answered:
        stored = engine.store.inbox.get("delighted", response_id)
        assert stored is not None
        assert stored.decision is not None
        seen.append(stored.decision["looked_up"]["account.nps"])
    # Whichever was routed second saw the first: one promoter and one detractor make 0.
    assert sorted(seen) in ([0.0, 100.0], [-100.0, 0.0])


def test_a_replay_of_new_rules_says_which_of_their_fields_routing_did_not_record(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    _, calm, other = three_of_one_account(world)
    world.delighted.add_response(email=calm.email, score=10)
    world.delighted.add_response(email=other.email, score=8)  # detractors' rules settle first
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["sync", "-c", str(config)]).exit_code == 0

    shown = runner.invoke(main, ["rules", "replay", "-c", str(config), "--rules", str(candidate)])
    as_json = runner.invoke(
        main, ["rules", "replay", "-c", str(config), "--rules", str(candidate), "--json"]
    )

    assert shown.exit_code == 0, shown.output
    assert "warning: the new rules read account.nps, which routing did not record for 2" in (
        " ".join(shown.output.split())
    )
    assert json.loads(as_json.output)["candidate"]["unrecorded"] == {
        "account.nps": 2,
        "support.open_tickets": 2,
        "support.tickets_last_30d": 2,
    }
