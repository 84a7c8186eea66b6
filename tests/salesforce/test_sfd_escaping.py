"""Hostile emails match exactly their own contact, end to end: the engine's match stage, the
real simple-salesforce client, HTTP, and the emulator's SOQL parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.models import SurveyResponse
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine, RunReport
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import NO_RETRY

WHEN = datetime(2026, 10, 1, tzinfo=UTC)

#: Each address next to the ones a broken escape (or a LIKE) would confuse it with.
TRICKY = [
    "o'brien@x.example",
    "o\\'brien@x.example",
    'q"uote@x.example',
    "back\\slash@x.example",
    "backslash@x.example",
    "a%b@x.example",
    "axb@x.example",
    "a_b@x.example",
    "acb@x.example",
    "new\nline@x.example",
    "new\\nline@x.example",
    "newline@x.example",
    "tab\there@x.example",
    "x@y.example' OR Email != '",
    "' OR Name LIKE '%@x.example",
    "select@from.example",
    "null@x.example",
    "like%@x.example') OR (Id != null",
]
#: Addresses nobody has; a query built by concatenation would match someone for each.
NOBODY = ["zz' OR Email != 'q@x.example", "%@x.example", "_@x.example", "\\@x.example"]


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=2, accounts=3, responses=0) as w:
        yield w


def survey(email: str, rid: str) -> SurveyResponse:
    return SurveyResponse(
        source="delighted",
        response_id=rid,
        email=email,
        score=9,
        comment="",
        created_at=WHEN,
        updated_at=WHEN,
    )


def test_each_hostile_email_matches_exactly_its_contact(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    account = world.book.accounts[0].id
    owners = {email: world.salesforce.insert_record(
        "Contact", {"LastName": "Tricky", "Email": email, "AccountId": account}
    ) for email in TRICKY}  # fmt: skip
    config = Config.model_validate(
        world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    )
    store = open_store(config)
    emails = TRICKY + NOBODY
    store.inbox.ingest_page(
        "delighted", [survey(e, str(i)) for i, e in enumerate(emails)], None, WHEN
    )
    engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=NO_RETRY)
    engine.route(RunReport())

    for i, email in enumerate(emails):
        stored = store.inbox.get("delighted", str(i))
        assert stored is not None
        assert stored.match is not None
        contact = stored.match["contact"]
        if email in owners:
            assert stored.match["status"] == "matched", email
            assert (contact or {}).get("id") == owners[email], email
        else:
            assert stored.match["status"] == "unmatched", email
            assert contact is None, email
    store.close()
