"""A daemon's rules reload against the systems the rules name: an edit that names a ticket group
or an owner that does not exist would stop every pass, so the rules in force stay, and the
rejected file's lines are named."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from sync.app.engine import Engine
from sync.app.reload import RulesHolder
from sync.app.runtime import connect_all, open_store
from sync.checks.references import reload_check
from sync.core.config import Config
from tests.e2e.conftest import FAST_RETRY

RULES = """version: 1
actions:
  ticket:
    type: zendesk_ticket
    subject: "NPS {{{{ response.score }}}}"
    body: "{{{{ response.comment }}}}"
    group: {group}
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [ticket]
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=3, responses=0) as w:
        yield w


def _edit(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))  # a visible change


def test_a_reload_naming_a_group_that_does_not_exist_keeps_the_rules_in_force(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(group="Support"), encoding="utf-8")
    config = Config.model_validate(
        world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules)
    )
    store = open_store(config)
    holder = RulesHolder.load(config.rules)
    connections = connect_all(config)
    engine = Engine(config, store, connections, holder, retry=FAST_RETRY)
    holder.verify = reload_check(connections.crm, connections.helpdesk, None, FAST_RETRY)
    try:
        in_force = engine.refresh_rules().hash

        _edit(rules, RULES.format(group="Ghost Group"))
        assert engine.refresh_rules().hash == in_force
        assert holder.last_error is not None
        assert f"{rules}:7:12: group Ghost Group does not exist" in holder.last_error

        world.delighted.add_response(email=world.book.contacts[0].email, score=2, comment="x")
        report = engine.run_once()
        assert report.errors == []
        assert report.tickets_created == 1  # the rules in force still route and act

        _edit(rules, RULES.format(group="Customer Success"))
        assert engine.refresh_rules().hash != in_force
        assert holder.last_error is None
    finally:
        store.close()


TASK_RULES = """version: 1
actions:
  call:
    type: salesforce_task
    owner: "user:{owner}"
    subject: "Call {{{{ contact.name }}}}"
    due_in: {due}
rules:
  - name: detractors
    when: {{category: detractor}}
    actions: [call]
"""


def test_a_reload_naming_a_user_who_left_takes_effect_with_a_warning(
    world: EmulatedWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At start-up such rules are taken (the Tasks go to the fallback owner): a reload takes
    them too, else one departure freezes every later edit until a restart."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(TASK_RULES.format(owner="ghost@acme.example", due="1d"), encoding="utf-8")
    config = Config.model_validate(
        world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules)
    )
    store = open_store(config)
    holder = RulesHolder.load(config.rules)
    connections = connect_all(config)
    engine = Engine(config, store, connections, holder, retry=FAST_RETRY)
    fallback = config.salesforce.fallback_owner_id
    holder.verify = reload_check(connections.crm, connections.helpdesk, fallback, FAST_RETRY)
    try:
        in_force = engine.refresh_rules().hash

        _edit(rules, TASK_RULES.format(owner="ghost@acme.example", due="2d"))
        # the level set here: an earlier command in this process may have raised the root's
        with caplog.at_level(logging.WARNING, logger="sync.checks.references"):
            assert engine.refresh_rules().hash != in_force
        assert holder.last_error is None
        assert f"{rules}:5:12: owner user:ghost@acme.example is not an active" in caplog.text

        world.delighted.add_response(email=world.book.contacts[0].email, score=2, comment="x")
        report = engine.run_once()
        assert (report.errors, report.tasks_created) == ([], 1)
        (task,) = [t for t in world.salesforce.records("Task") if t["Subject"].startswith("Call")]
        assert task["OwnerId"][:15] == (fallback or "")[:15]
    finally:
        store.close()
