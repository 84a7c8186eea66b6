"""The default rules, as shipped, through ``nps-sync sync`` against the emulated world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connectors.zendesk.client import COMMENT_SEPARATOR
from emulators.seed_model import SeedAccount, SeedContact
from emulators.world import DEFAULT_RULES, EmulatedWorld
from sync.cli import main

MARKER = "NPS_Sync_Key__c"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    """Twelve accounts of every tier and no survey responses: the test adds its own."""
    with EmulatedWorld(seed=5, accounts=12, responses=0) as w:
        yield w


@pytest.fixture
def config(world: EmulatedWorld, tmp_path: Path) -> Path:
    path = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=DEFAULT_RULES)
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, list(map(str, args)), env={"COLUMNS": "200", "NO_COLOR": "1"})


def contact_of(world: EmulatedWorld, tier: str, skip: int = 0) -> SeedContact:
    accounts = {a.id for a in world.book.accounts if a.tier == tier}
    return [c for c in world.book.contacts if c.account_id in accounts][skip]


def account_of(world: EmulatedWorld, contact: SeedContact) -> SeedAccount:
    return next(a for a in world.book.accounts if a.id == contact.account_id)


def answer(world: EmulatedWorld, email: str, score: int, ago: timedelta, text: str = "") -> str:
    return world.delighted.add_response(
        email=email, score=score, comment=text or None, created_at=NOW - ago
    )


def tasks_of(world: EmulatedWorld, who: str | None = None, what: str | None = None) -> list[Any]:
    return [
        t
        for t in world.salesforce.records("Task")
        if t.get(MARKER)
        and (who is None or t["WhoId"] == who)
        and (what is None or t["WhatId"] == what)
    ]


def tickets_of(world: EmulatedWorld, email: str) -> list[dict[str, Any]]:
    users = {u["id"]: (u.get("email") or "").lower() for u in world.zendesk.users()}
    return [
        t
        for t in world.zendesk.tickets()
        if t.get("external_id") and users.get(t["requester_id"]) == email
    ]


def test_default_rules_in_production_shape(world: EmulatedWorld, config: Path) -> None:
    enterprise = contact_of(world, "Enterprise")
    mid_market = contact_of(world, "Mid-Market")
    smb = contact_of(world, "SMB")
    quiet, vocal, fresh = (contact_of(world, "Mid-Market", skip) for skip in (1, 2, 3))
    colleague = f"new.colleague@{account_of(world, smb).domain}"
    answer(world, enterprise.email, 2, timedelta(days=3), "Support is slow")
    answer(world, enterprise.email, 3, timedelta(days=1), "Still slow, nobody called")
    answer(world, mid_market.email, 4, timedelta(days=2), "Reports break every week")
    answer(world, smb.email, 6, timedelta(days=2))
    answer(world, quiet.email, 10, timedelta(days=2))
    answer(world, vocal.email, 9, timedelta(days=2), "Great onboarding")
    answer(world, colleague, 1, timedelta(days=2))
    answer(world, fresh.email, 0, timedelta(minutes=5), "Broken")

    result = cli("sync", "--config", config)
    assert result.exit_code == 0, result.output

    # One call for the respondent who answered twice in three days; the second answer joins the
    # ticket the first one opens (its first comment, under its own marker), not a second ticket.
    (call,) = tasks_of(world, who=enterprise.id)
    assert call["Subject"].startswith("NPS detractor (2): call ")
    assert "Support is slow" in call["Description"]
    (ticket,) = tickets_of(world, enterprise.email)
    (body,) = [c["body"] for c in world.zendesk.comments(ticket["id"])]
    first, second = body.split(COMMENT_SEPARATOR)
    assert "Support is slow" in first
    assert "Still slow, nobody called" in second

    # Ticket priority by account tier; every ticket is tagged nps.
    (mid_ticket,) = tickets_of(world, mid_market.email)
    (smb_ticket,) = tickets_of(world, smb.email)
    priorities = [t["priority"] for t in (ticket, mid_ticket, smb_ticket)]
    assert priorities == ["urgent", "high", "normal"]
    for t in (ticket, mid_ticket, smb_ticket):
        assert {"nps", "detractor"} <= set(t["tags"])

    # No comment, no "Comment:" line; a respondent without a contact has no "(, Company)".
    (smb_call,) = tasks_of(world, who=smb.id)
    assert "Comment:" not in smb_call["Description"]
    (colleague_call,) = [t for t in tasks_of(world, what=smb.account_id) if not t["WhoId"]]
    assert colleague_call["Description"].startswith(
        f"{colleague} ({account_of(world, smb).name}) answered 1.\n"
    )
    assert tickets_of(world, colleague) == []  # not a Zendesk user: no requester

    # A referral ask only for the promoter who wrote something.
    assert tasks_of(world, who=quiet.id) == []
    (referral,) = tasks_of(world, who=vocal.id)
    assert referral["Subject"].startswith("Ask ")
    assert "Great onboarding" in referral["Description"]

    # A detractor who answered five minutes ago waits for a late comment.
    assert tasks_of(world, who=fresh.id) == []
    status = cli("status", "--config", config)
    assert "Responses: 1 waiting to be routed" in status.output

    # Nothing happens twice.
    before = (len(tasks_of(world)), len(world.zendesk.tickets()))
    again = cli("sync", "--config", config)
    assert again.exit_code == 0, again.output
    assert (len(tasks_of(world)), len(world.zendesk.tickets())) == before
