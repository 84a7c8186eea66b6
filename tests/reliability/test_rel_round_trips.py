"""A first sync talks to its state database in batches: well under one statement per response.

Every SQL statement the engine sends to the store is counted (an executemany is one round trip,
which is what a PostgreSQL server across a network pays for). Per-row statements would make a
large backlog as slow as its round trips, and PostgreSQL slower than SQLite for the same sync.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from emulators.world import EmulatedWorld
from tests.reliability.conftest import fast_engine

RESPONSES = 400


@pytest.fixture(scope="module")
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=40, responses=RESPONSES) as emulated:
        yield emulated


@pytest.mark.timeout(180)
def test_rel_a_first_sync_sends_few_statements_per_response(
    world: EmulatedWorld, store_url: str
) -> None:
    engine = fast_engine(world, store_url)
    statements: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements[" ".join(statement.split()[:3])] += 1

    sa.event.listen(engine.store.engine, "before_cursor_execute", count)
    try:
        report = engine.run_once()
    finally:
        sa.event.remove(engine.store.engine, "before_cursor_execute", count)
        engine.store.close()

    assert report.errors == []
    assert report.pulled == RESPONSES
    per_response = sum(statements.values()) / RESPONSES
    # Two writes per Zendesk bulk job are the price of never sending a job again while it may
    # still run: the time of the submit, stored before it leaves, and the job's id, stored as
    # Zendesk accepts it. A claim reads its pending and its expired actions apart, each from
    # the index in claim order: one read more per claim (257 statements here, 244 with one).
    assert per_response < 0.66, statements.most_common(10)
