"""A Typeform form as a second survey source, end to end: polled, matched by the hidden
Salesforce contact id, routed, acted on once, beside Delighted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.state import StateStore
from tests.e2e.conftest import FAST_RETRY
from tests.support import acting_on_the_seeded_year


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=20, responses=30, typeform_responses=20) as w:
        yield w


@pytest.fixture
def store(world: EmulatedWorld, tmp_path: Path) -> Iterator[StateStore]:
    config = config_of(world, tmp_path)
    opened = open_store(config)
    yield opened
    opened.close()


def config_of(world: EmulatedWorld, tmp_path: Path) -> Config:
    data = world.config_data(
        state_url=f"sqlite:///{tmp_path / 'state.db'}", routing=acting_on_the_seeded_year()
    )
    return Config.model_validate(data)


def engine(world: EmulatedWorld, tmp_path: Path, store: StateStore) -> Engine:
    config = config_of(world, tmp_path)
    return Engine(config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY)


def test_a_typeform_detractor_gets_a_task_and_a_ticket_once(
    world: EmulatedWorld, tmp_path: Path, store: StateStore
) -> None:
    contact = world.book.contacts[3]
    name = f"{contact.first_name} {contact.last_name}"
    token = world.typeform.add_response(
        email=contact.email.upper(),  # the hidden field as the survey link carried it
        score=2,
        comment="The export broke again and nobody answered.",
        hidden={"email": contact.email.upper(), "name": name, "sfid": contact.id},
        submitted_at=datetime.now(UTC) - timedelta(hours=1),
    )

    first = engine(world, tmp_path, store).run_once()
    assert first.errors == []
    assert first.api_calls.get("typeform", 0) >= 1
    stored = store.inbox.get("typeform", token)
    assert stored is not None
    assert stored.contact_id == contact.id  # matched by the hidden Salesforce contact id
    assert stored.response.channel == "typeform"

    tasks = [t for t in world.salesforce.records("Task") if t["WhoId"] == contact.id]
    detractor_tasks = [t for t in tasks if "The export broke again" in (t["Description"] or "")]
    assert len(detractor_tasks) == 1
    zendesk_user = next(u for u in world.book.zendesk_users if u.external_id == contact.id)
    tickets = [
        t
        for t in world.zendesk.tickets()
        if t.get("external_id") and t["requester_id"] == zendesk_user.id
    ]
    assert any("The export broke again" in (t.get("description") or "") for t in tickets)

    world.typeform.update_response(token, comment="Fixed now, thanks.")
    second = engine(world, tmp_path, store).run_once()
    assert (second.updated, second.routed) == (1, 1)  # the edit, routed again
    assert (second.tasks_created, second.tickets_created) == (0, 0)  # nothing twice
