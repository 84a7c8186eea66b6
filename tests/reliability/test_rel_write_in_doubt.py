"""A field write whose outcome is unknown (the request took effect, the answer was lost) must
not leave the store believing the old values: otherwise a later answer that brings a field back
to its old value leaves the record holding a mix of two answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.base import Fault
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy

RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.1)
NO_ACTIONS = "version: 1\nactions: {}\nrules: []\n"


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


def engine(world: EmulatedWorld, tmp_path: Path) -> Engine:
    rules = tmp_path / "rules.yaml"
    rules.write_text(NO_ACTIONS, encoding="utf-8")
    config = Config.model_validate(
        world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules)
    )
    return Engine(config, open_store(config), connect_all(config), load_rules(rules), retry=RETRY)


def user_fields(world: EmulatedWorld, user_id: int) -> dict[str, Any]:
    (user,) = [u for u in world.zendesk.users() if u["id"] == user_id]
    return dict(user["user_fields"])


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault("500", rate=1.0, endpoint="^job_statuses"), id="job-status-lost"),
        pytest.param(
            Fault("late", rate=1.0, endpoint="^users_update_many$", hang_seconds=0.05),
            id="answer-lost",
        ),
    ],
)
def test_fields_whose_write_was_in_doubt_are_sent_again_whole(
    world: EmulatedWorld, tmp_path: Path, fault: Fault
) -> None:
    person = next(c for c in world.book.contacts if c.zendesk_user_id)
    now = datetime.now(UTC).replace(microsecond=0)

    def answer(score: int, days_ago: int) -> None:
        world.delighted.add_response(
            email=person.email,
            score=score,
            comment=f"score {score}",
            created_at=now - timedelta(days=days_ago),
        )

    answer(8, 30)  # passive
    assert engine(world, tmp_path).run_once().errors == []
    assert user_fields(world, person.zendesk_user_id)["nps_category"] == "passive"

    answer(3, 20)  # detractor: Zendesk applies it, but the daemon never learns that it did
    world.zendesk.inject(fault)
    assert engine(world, tmp_path).run_once().errors != []
    world.zendesk.clear_faults()
    assert user_fields(world, person.zendesk_user_id)["nps_category"] == "detractor"

    answer(7, 10)  # passive again: the category must be written although it was last "passive"
    assert engine(world, tmp_path).run_once().errors == []
    fields = user_fields(world, person.zendesk_user_id)
    assert (fields["nps_score"], fields["nps_category"]) == (7, "passive")
