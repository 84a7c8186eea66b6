"""The nightly reconcile repairs NPS fields an agent edited by hand in Zendesk, against the
emulators through the real zenpy client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.transport import make_session
from emulators.world import DEMO_ENV, ZD_HOST, EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import Connections, connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import suggested_mapping
from sync.fields.readback import same_value
from sync.stages.writeback import reconcile
from sync.state import StateStore

RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)
AGENT = ("agent@acme.example/token", DEMO_ENV["NPS_DEMO_ZD_TOKEN"])


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=8, responses=40) as w:
        w.zendesk.add_organization_field("nps_last_response", "date")
        w.zendesk.add_organization_field("nps_small_sample", "checkbox")
        yield w


@pytest.fixture
def parts(world: EmulatedWorld, tmp_path: Path) -> Iterator[tuple[Config, StateStore, Connections]]:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["write_back"] = suggested_mapping(history=False)
    config = Config.model_validate(data)
    store = open_store(config)
    conn = connect_all(config)
    engine = Engine(config, store, conn, load_rules(config.rules), retry=RETRY)
    assert engine.run_once().errors == []
    yield config, store, conn
    store.close()


def agent_edits(world: EmulatedWorld, path: str, body: dict[str, Any]) -> None:
    """What an agent's edit in the Zendesk UI amounts to: a PUT of the record's fields."""
    session = make_session(world.routes)
    response = session.put(f"{ZD_HOST}/api/v2/{path}.json", json=body, auth=AGENT)
    response.raise_for_status()


def fields_of(world: EmulatedWorld, kind: str, record_id: int) -> dict[str, Any]:
    records = world.zendesk.users() if kind == "user" else world.zendesk.organizations()
    record = next(r for r in records if r["id"] == record_id)
    return dict(record[f"{kind}_fields"])


def managed(world: EmulatedWorld, kind: str) -> dict[str, Any]:
    """The first record of this kind holding an NPS score we wrote, and its fields."""
    records = world.zendesk.users() if kind == "user" else world.zendesk.organizations()
    score = "nps_score" if kind == "user" else "nps_account_score"
    return next(r for r in records if r[f"{kind}_fields"].get(score) is not None)


def test_reconcile_restores_hand_edited_user_and_organization_fields(
    world: EmulatedWorld, parts: tuple[Config, StateStore, Connections]
) -> None:
    config, store, conn = parts
    user, org = managed(world, "user"), managed(world, "organization")
    good_user, good_org = dict(user["user_fields"]), dict(org["organization_fields"])
    assert good_org["nps_last_response"] is not None
    agent_edits(world, f"users/{user['id']}", {"user": {"user_fields": {"nps_score": 0}}})
    agent_edits(
        world,
        f"organizations/{org['id']}",
        {"organization": {"organization_fields": {"nps_last_response": "1999-01-01"}}},
    )
    world.zendesk.reset_counters()

    stats = reconcile(store, config, conn.crm, conn.helpdesk, RETRY, datetime.now(UTC))

    assert stats.errors == []
    assert stats.drift == 2
    assert stats.updated == {"zendesk.user": 1, "zendesk.organization": 1}
    assert fields_of(world, "user", user["id"]) == good_user
    assert fields_of(world, "organization", org["id"]) == good_org
    # One show_many per 100 users and per 100 organizations, never one request per record.
    assert world.zendesk.calls["users_show_many"] >= 1
    assert world.zendesk.calls["organizations_show_many"] >= 1
    assert world.zendesk.calls.get("users_show", 0) == 0
    assert world.zendesk.calls.get("organizations_show", 0) == 0

    world.zendesk.reset_counters()
    again = reconcile(store, config, conn.crm, conn.helpdesk, RETRY, datetime.now(UTC))
    assert (again.updated, again.drift, again.errors) == ({}, 0, [])
    assert world.zendesk.calls.get("users_update_many", 0) == 0
    assert world.zendesk.calls.get("organizations_update_many", 0) == 0


def test_a_removed_zendesk_field_is_not_rewritten_every_night(
    world: EmulatedWorld, parts: tuple[Config, StateStore, Connections]
) -> None:
    config, store, conn = parts
    world.zendesk.remove_organization_field("nps_small_sample")
    stats = reconcile(store, config, conn.crm, conn.helpdesk, RETRY, datetime.now(UTC))
    assert (stats.updated, stats.drift, stats.errors) == ({}, 0, [])


@pytest.mark.parametrize(
    ("wanted", "held", "same"),
    [
        (3, "3", True),
        ("3", 3, True),
        (33.3, "33.3", True),
        ("2026-10-01", "2026-10-01T00:00:00+00:00", True),
        ("2026-10-01", "2026-10-01T00:00:00Z", True),
        ("2026-10-01", "2026-10-02", False),
        ("2026-10-01", "2026-10-01T13:00:00Z", False),
        (True, "true", True),
        (False, True, False),
        (0, None, False),
    ],
)
def test_values_compare_across_the_forms_zendesk_answers_in(
    wanted: object, held: object, same: bool
) -> None:
    assert same_value(wanted, held) is same
