"""``nps-sync forget``: a respondent's answers leave the store for good, their NPS fields in
Salesforce and Zendesk are cleared by the next pass, their account is recomputed without them,
and what still holds their words is listed; through the CLI against the emulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.world import EmulatedWorld
from sync.fields.fieldmap import suggested_mapping
from sync.state import StateStore
from tests.support import acting_on_the_seeded_year, run_cli

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Synced:
    world: EmulatedWorld
    config: Path
    state: str


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[Synced]:
    with EmulatedWorld(seed=11, accounts=40, responses=150) as world:
        world.zendesk.add_metric_fields()
        state = f"sqlite:///{tmp_path / 'state.db'}"
        data = world.config_data(state_url=state, routing=acting_on_the_seeded_year())
        data["write_back"] = suggested_mapping()  # with the history object
        config = tmp_path / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        done = run_cli("sync", "--config", config)
        assert done.returncode == 0, done.stderr
        yield Synced(world, config, state)


def a_followed_up_respondent(store: StateStore) -> tuple[str, str, str, str]:
    """(email, contact id, Task id, ticket id) of someone who got both a Task and a ticket."""
    done = store.outbox.actions(status="done")
    tasks = {(a.source, a.response_id): a.external_id for a in done if a.kind == "salesforce_task"}
    for action in done:
        task = tasks.get((action.source, action.response_id))
        if action.kind == "zendesk_ticket" and task:
            stored = store.inbox.get(action.source, action.response_id)
            assert stored is not None
            assert stored.contact_id
            assert action.external_id
            return stored.response.email, stored.contact_id, task, action.external_id
    raise AssertionError("no respondent with a Task and a ticket")


def user_field(world: EmulatedWorld, email: str, key: str) -> Any:
    (user,) = [u for u in world.zendesk.users() if u["email"].lower() == email.lower()]
    return user["user_fields"].get(key)


def test_a_forgotten_respondent_is_gone_from_the_store_and_their_fields(synced: Synced) -> None:
    world, config = synced.world, synced.config
    store = StateStore(synced.state)
    email, contact_id, task_id, ticket_id = a_followed_up_respondent(store)
    answers = [r for r in store.inbox.since(EPOCH) if r.response.email.lower() == email.lower()]
    account_id = answers[0].account_id
    assert account_id
    contact = world.salesforce.get_record("Contact", contact_id)
    assert contact is not None
    assert contact["NPS_Last_Score__c"] is not None
    assert user_field(world, email, "nps_score") is not None
    account = world.salesforce.get_record("Account", account_id)
    assert account is not None
    respondents_before = account["NPS_Responses__c"]
    keys = {f"{a.response.source}:{a.response.response_id}" for a in answers}
    assert keys <= {h["Response_Id__c"] for h in world.salesforce.records("NPS_Response__c")}

    dry = run_cli("forget", "--dry-run", email.upper(), "--config", config)
    assert dry.returncode == 0, dry.stderr
    assert f"Would forget {len(answers)} answer(s)" in dry.stdout
    assert len(store.inbox.find(answers[0].response.response_id)) == 1  # nothing changed

    done = run_cli("forget", email.upper(), "--json", "--config", config)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert len(document["answers"]) == len(answers)
    assert {"system": "salesforce", "object": "Task", "id": task_id} in document["left_in_place"]
    assert {"system": "zendesk", "object": "ticket", "id": ticket_id} in document["left_in_place"]
    cleared = {(c["object"], c["record_id"]) for c in document["fields_cleared"]}
    assert ("Contact", contact_id) in cleared
    assert {"object": "Account", "record_id": account_id} in document["recomputed"]
    assert {h["external_id"] for h in document["history_erased"]} == keys
    assert email.lower() not in done.stderr.lower()  # logs name no one

    gone = [r for r in store.inbox.since(EPOCH) if r.response.email.lower() == email.lower()]
    assert gone == []
    ids = {(a.response.source, a.response.response_id) for a in answers}
    assert not [a for a in store.outbox.actions() if (a.source, a.response_id) in ids]

    # The source delivers one of the answers again, edited: it is not stored or acted on.
    first = answers[0].response
    world.delighted.update_response(first.response_id, comment="Please call me back.")
    again = run_cli("sync", "--config", config)
    assert again.returncode == 0, again.stderr
    assert store.inbox.find(first.response_id) == []
    contact = world.salesforce.get_record("Contact", contact_id)
    assert contact is not None
    assert (contact["NPS_Last_Score__c"], contact["NPS_Last_Comment__c"]) == (None, None)
    assert user_field(world, email, "nps_score") is None
    account = world.salesforce.get_record("Account", account_id)
    assert account is not None
    assert account["NPS_Responses__c"] == respondents_before - 1
    history = {h["Response_Id__c"] for h in world.salesforce.records("NPS_Response__c")}
    assert not keys & history
    store.close()

    twice = run_cli("forget", email, "--config", config)
    assert twice.returncode == 0, twice.stderr
    assert "nothing to forget" in twice.stdout

    # A later answer is a new one, acted on in full: Zendesk still knows the person.
    # Answered half an hour ago (past the rules' settle delay), its comment added just now.
    new_id = world.delighted.add_response(
        email=email,
        score=2,
        comment="Still broken.",
        created_at=datetime.now(UTC) - timedelta(minutes=30),
        updated_at=datetime.now(UTC),
    )
    after = run_cli("sync", "--config", config)
    assert after.returncode == 0, after.stderr
    store = StateStore(synced.state)
    statuses = {a.kind: a.status for a in store.outbox.actions() if a.response_id == new_id}
    store.close()
    assert statuses["zendesk_ticket"] == "done"  # not skipped for want of a requester
    assert user_field(world, email, "nps_score") == 2


def test_forgetting_someone_the_store_does_not_know_changes_nothing(synced: Synced) -> None:
    done = run_cli("forget", "nobody@nowhere.example", "--json", "--config", synced.config)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answers"] == []
    nothing = run_cli("forget", "--config", synced.config)
    assert nothing.returncode == 2
    assert "--response SOURCE ID" in nothing.stderr
    # A typo no answer could hold is said to be one, not reported as nothing to forget.
    typo = run_cli("forget", "pat.acme.example", "--config", synced.config)
    assert typo.returncode == 2
    assert "'pat.acme.example' is not an email address (no @)" in typo.stderr
