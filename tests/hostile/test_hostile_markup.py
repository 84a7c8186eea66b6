"""Survey data that looks like console markup (``[/b]``, ``[red]``) printed by every view.

The tables and problem lines show response ids, names, comments and rejected values as they
came. Rich reads ``[...]`` in a plain string as markup, and an unmatched closing tag such as a
respondent's ``[/i]`` stopped the command with a traceback: the text must print as typed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from tests.hostile.conftest import no_crash, run_measured, write
from tests.reliability.conftest import write_config

NOW = datetime.now(UTC).replace(microsecond=0)
CREATED = (NOW - timedelta(hours=2)).isoformat()
EARLIER = (NOW - timedelta(hours=3)).isoformat()


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=73, accounts=6, responses=12) as w:
        yield w


def test_markup_in_survey_data_prints_as_typed_in_every_view(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    contact = world.book.contacts[0]
    users = {u.id: u.email for u in world.book.users}
    owner = next(users[a.owner_id] for a in world.book.accounts if a.id == contact.account_id)
    answers = [
        {"response_id": "[/bold]", "email": contact.email, "score": 2, "name": "[/i]Evil",
         "comment": "[red]cheap[/red] and [link=javascript:x]slow[/link]", "created_at": EARLIER},
        {"response_id": "[/s]", "email": contact.email, "score": 4, "comment": "again",
         "created_at": CREATED},  # the queue shows a person once: their most urgent answer
        {"response_id": "[/u]", "email": "stranger@unknown-domain.com", "score": 2,
         "comment": "who?", "created_at": CREATED},
        {"response_id": "bad", "email": contact.email, "score": "[/x]", "created_at": CREATED},
    ]  # fmt: skip
    answers_file = write(tmp_path / "answers.jsonl", "\n".join(map(json.dumps, answers)) + "\n")
    export = write(
        tmp_path / "export.csv",
        "response_id,email,score,comment,created_at\n"
        f"k1,{contact.email},[/b],c,{EARLIER}\n"
        f"k2,{contact.email},9,fine,{EARLIER}\n",
    )
    sources = [{"type": "file", "path": str(answers_file), "name": "answers"}]
    config = write_config(
        tmp_path / "nps-sync.yaml",
        world,
        f"sqlite:///{tmp_path / 'state.db'}",
        sources=sources,
    )

    synced = run_measured("sync", "-c", str(config))
    no_crash(synced)
    assert synced.code == 0, synced.output[-3000:]

    views = {
        "unmatched": (["unmatched", "--offline"], ["[/u]"]),
        "queue": (["queue", "--owner", owner, "--days", "30"], ["[/i]Evil", "[red]cheap[/red]"]),
        "status": (["status"], []),
        "skipped": (["skipped"], []),
        "failed": (["failed", "list"], []),
        "rejected": (["rejected"], ["answers.jsonl:4", "score '[/x]' is not a whole number"]),
    }
    for name, (args, shown) in views.items():
        result = run_measured(*args, "-c", str(config))
        no_crash(result)
        assert result.code == 0, (name, result.output[-3000:])
        for text in shown:
            assert text in result.output, (name, text, result.output[-3000:])

    listed = run_measured("rejected", "-c", str(config), "--json")
    assert listed.code == 0, listed.output[-3000:]
    document = json.loads(listed.output)
    assert document["total"] == 1
    (rejected,) = document["rejected"]
    assert rejected["location"] == f"{answers_file}:4"
    assert rejected["reason"] == "score '[/x]' is not a whole number from 0 to 10"

    history = write_config(
        tmp_path / "history.yaml",
        world,
        f"sqlite:///{tmp_path / 'history.db'}",
        sources=[{"type": "file", "path": str(export), "name": "export"}],
    )
    since = (NOW - timedelta(days=2)).date().isoformat()
    backfill = run_measured("backfill", "-c", str(history), "--since", since)
    no_crash(backfill)
    assert backfill.code == 0, backfill.output[-3000:]
    assert "score '[/b]' is not a whole number" in backfill.output
    assert "imported 1" in backfill.output
