"""What an account manager reads in a follow-up Task and an agent in the ticket of the same
response, end to end with the default rules: the customer context (when the customer answered,
their answers in the order they gave them, the account, their open tickets) and the links from
each record to the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.seed_model import SeedContact
from emulators.world import SF_HOST, EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.state import StateStore
from tests.e2e.conftest import FAST_RETRY

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
UNSOLVED = {"new", "open", "pending", "hold"}


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    """A small book of business and no survey responses: each test adds its own."""
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


@pytest.fixture
def engine(world: EmulatedWorld, tmp_path: Path) -> Iterator[Engine]:
    """An engine on the default rules (acting on the last two weeks' answers)."""
    config = Config.model_validate(
        world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    )
    store: StateStore = open_store(config)
    yield Engine(config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY)
    store.close()


def with_open_ticket(world: EmulatedWorld) -> tuple[SeedContact, dict[str, Any]]:
    """A contact who is a Zendesk user with an unsolved ticket, and that ticket."""
    users = {u["id"]: (u.get("email") or "").lower() for u in world.zendesk.users()}
    contacts = {c.email.lower(): c for c in world.book.contacts}
    for ticket in world.zendesk.tickets():
        email = users.get(ticket["requester_id"], "")
        if ticket["status"] in UNSOLVED and email in contacts:
            return contacts[email], ticket
    raise AssertionError("the seed has no contact with an open ticket")


def lines_after(text: str, heading: str, count: int) -> list[str]:
    return text.split(f"{heading}\n", 1)[1].split("\n")[:count]


def test_the_task_and_the_ticket_carry_the_context_and_name_each_other(
    world: EmulatedWorld, engine: Engine
) -> None:
    contact, open_ticket = with_open_ticket(world)
    account = next(a for a in world.book.accounts if a.id == contact.account_id)
    owner = next(u for u in world.book.users if u.id == account.owner_id)
    earlier, answered, later = NOW - timedelta(days=40), NOW - timedelta(hours=2), NOW
    world.delighted.add_response(
        email=contact.email, score=8, comment="Solid product", created_at=earlier
    )
    world.delighted.add_response(
        email=contact.email, score=2, comment="Support never called back", created_at=answered
    )
    # Answered after the detractor answer, and stored before its Task and ticket are made.
    world.delighted.add_response(email=contact.email, score=9, created_at=later)

    report = engine.run_once()
    assert report.errors == []
    assert (report.tasks_created, report.tickets_created) == (1, 1)
    # The open tickets come from the mirror of the ticket export, not a request per requester.
    assert world.zendesk.calls["incremental_tickets"] >= 1
    assert world.zendesk.calls["users_tickets_requested"] == 0
    (task,) = world.salesforce.records("Task")
    (ticket,) = [t for t in world.zendesk.tickets() if t.get("external_id")]
    description = task["Description"]
    (first,) = world.zendesk.comments(ticket["id"])
    body = first["body"]

    # What the account manager reads.
    day = "%Y-%m-%d"
    assert f"Respondent: {contact.first_name} {contact.last_name} <{contact.email}>\n" in (
        description
    )
    assert f"Answered: {answered:%Y-%m-%d %H:%M} UTC (score 2)\n" in description
    renewal = account.renewal_date.isoformat() if account.renewal_date else "unknown"
    assert f"ARR: {account.arr:,.0f} | Tier: {account.tier} | Renewal: {renewal}\n" in description
    assert lines_after(description, "Score history (oldest first):", 3) == [
        f"- {earlier:{day}}: 8",
        f"- {answered:{day}}: 2 (this answer)",
        f"- {later:{day}}: 9 (later answer)",
    ]
    assert f"- #{open_ticket['id']} {open_ticket['subject']}\n" in description
    assert "\nSurvey response: https://delighted.com/r/" in description
    ticket_link = f"https://acme.zendesk.com/agent/tickets/{ticket['id']}"
    assert description.endswith(f"\nZendesk ticket: {ticket_link}")
    assert description.count("Zendesk ticket: ") == 1

    # What the agent reads.
    assert f"Answered: {answered:%Y-%m-%d %H:%M} UTC\n" in body
    assert lines_after(body, "Score history (oldest first):", 3) == [
        f"- {earlier:{day}}: 8",
        f"- {answered:{day}}: 2 (this answer)",
        f"- {later:{day}}: 9 (later answer)",
    ]
    assert f"- {earlier:{day}} (8, earlier): Solid product" in body
    assert "\nResponse: https://delighted.com/r/" in body
    assert f"- #{open_ticket['id']} {open_ticket['subject']}\n" in body
    task_link = f"{SF_HOST}/lightning/r/Task/{task['Id']}/view"
    assert f"Salesforce Task: {task_link} (owner: {owner.name})" in body

    # A second pass links nothing twice.
    again = engine.run_once()
    assert (again.tasks_created, again.tickets_created) == (0, 0)
    (task,) = world.salesforce.records("Task")
    assert task["Description"] == description


def test_a_task_made_from_a_comment_as_long_as_allowed_still_takes_its_ticket_link(
    world: EmulatedWorld, engine: Engine
) -> None:
    contact, _ = with_open_ticket(world)
    comment = "Nothing works. " * 2_500  # stored cut to 32,000 characters
    world.delighted.add_response(
        email=contact.email, score=0, comment=comment, created_at=NOW - timedelta(hours=2)
    )

    report = engine.run_once()

    assert report.errors == []
    assert report.dead == 0
    (task,) = world.salesforce.records("Task")
    (ticket,) = [t for t in world.zendesk.tickets() if t.get("external_id")]
    description = task["Description"]
    link = f"\nZendesk ticket: https://acme.zendesk.com/agent/tickets/{ticket['id']}"
    assert description.endswith(link)
    assert len(description) <= 32_000
    assert "Comment: Nothing works. Nothing works." in description
    # The comment is cut, not the customer context after it.
    cut = description.index("(cut to fit; the survey response holds all of it)")
    context = description.index("-- Customer context (nps-sync) --")
    assert cut < context
    assert "Score history (oldest first):" in description[context:]
    assert engine.run_once().errors == []


def test_a_task_for_an_unmatched_respondent_names_them_and_says_why_it_is_yours(
    world: EmulatedWorld, engine: Engine
) -> None:
    world.delighted.add_response(
        email="pat.doe@gmail.com",
        name="Pat Doe",
        score=1,
        comment="Cancelling",
        created_at=NOW - timedelta(hours=1),
    )

    report = engine.run_once()
    assert report.tasks_created == 1
    (task,) = world.salesforce.records("Task")
    assert task["OwnerId"] == world.book.users[0].id  # the configured fallback owner
    description = task["Description"]
    assert description.startswith(
        "Assigned to you because the response matched no Salesforce account or contact.\n\n"
    )
    assert (
        "Respondent: Pat Doe <pat.doe@gmail.com> (not matched to a Salesforce contact)\n"
        in description
    )
    assert "ARR: unknown | Tier: unknown | Renewal: unknown\n" in description
    # Not a Zendesk user and no requester created: no ticket, and no link to one.
    assert "Zendesk ticket:" not in description


def test_without_the_export_mirror_the_open_tickets_are_asked_for_per_requester(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["zendesk"]["tickets"] = {**data["zendesk"].get("tickets", {}), "context_from": "requests"}
    config = Config.model_validate(data)
    store = open_store(config)
    engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY)
    contact, open_ticket = with_open_ticket(world)
    world.delighted.add_response(
        email=contact.email, score=2, comment="Still broken", created_at=NOW - timedelta(hours=1)
    )

    try:
        report = engine.run_once()
    finally:
        store.close()

    assert report.errors == []
    (ticket,) = [t for t in world.zendesk.tickets() if t.get("external_id")]
    (first,) = world.zendesk.comments(ticket["id"])
    assert f"- #{open_ticket['id']} {open_ticket['subject']}\n" in first["body"]
    assert world.zendesk.calls["users_tickets_requested"] >= 1
