"""One lookup a system refuses fails only the responses that needed it; the batch goes on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.errors import ConfigError, RecordError, RetryableError
from emulators.world import EmulatedWorld
from sync.stages.isolate import isolate
from tests.reliability.conftest import MARKER, fast_engine, world_config

NOW = datetime.now(UTC).replace(microsecond=0)


class Lookups:
    """A batched lookup that refuses any batch holding a ``bad`` value, like a 400 would."""

    def __init__(self, refused: set[str], error: type[Exception] = RecordError) -> None:
        self.refused = refused
        self.error = error
        self.found: set[str] = set()
        self.calls = 0

    def __call__(self, part: Sequence[str]) -> None:
        self.calls += 1
        bad = self.refused & set(part)
        if bad:
            raise self.error(f"HTTP 400 for {sorted(bad)}", system="zendesk")  # type: ignore[call-arg]
        self.found.update(part)


def test_a_refused_value_fails_alone_and_the_rest_is_answered() -> None:
    values = [f"v{i:03}" for i in range(200)]
    lookup = Lookups({"v137", "v012"})
    failed = isolate(values, lookup)
    assert set(failed) == {"v137", "v012"}
    assert "HTTP 400" in failed["v137"]
    assert lookup.found == set(values) - {"v137", "v012"}
    assert lookup.calls <= 1 + 2 * 2 * 8  # about 2 log2(n) per refused value


def test_a_batch_without_refusals_is_one_call() -> None:
    lookup = Lookups(set())
    assert isolate(["a", "b", "c"], lookup) == {}
    assert lookup.calls == 1


@pytest.mark.parametrize("error", [RetryableError, ConfigError])
def test_errors_that_are_not_about_one_value_are_raised(error: type[Exception]) -> None:
    with pytest.raises(error):
        isolate(["a", "b"], Lookups({"a"}, error))


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=67, accounts=12, responses=30) as w:
        yield w


def test_a_zendesk_search_refused_for_one_respondent_leaves_the_pass_going(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    created = NOW - timedelta(days=2)
    world.delighted.add_response(
        response_id="poisoned", email="stranger@unknown-company.example", score=1,
        comment="search for me fails", created_at=created,
    )  # fmt: skip
    world.delighted.add_response(
        response_id="fine", email="other@unknown-company.example", score=2,
        comment="search for me works", created_at=created,
    )  # fmt: skip
    world.zendesk.reject_search("stranger@unknown-company.example")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    zendesk = world_config(world, url)["zendesk"]
    zendesk["matching"] = {**zendesk.get("matching", {}), "user_lookup": "search"}
    engine = fast_engine(world, url, zendesk=zendesk)

    report = engine.run_once()

    assert report.errors == []
    poisoned = engine.store.inbox.get("delighted", "poisoned")
    assert poisoned is not None
    assert poisoned.match is not None
    assert poisoned.match["status"] == "failed"
    assert "zendesk email stranger@unknown-company.example" in poisoned.match["detail"]
    assert "InvalidSearch" in poisoned.match["detail"] or "400" in poisoned.match["detail"]
    assert poisoned.decision is not None
    assert poisoned.decision["actions"] == []
    named = [p for p in report.problems if "response poisoned" in p]
    assert len(named) == 1
    assert "lookup failed" in named[0]
    assert [r.response.response_id for r in engine.store.inbox.unmatched()].count("poisoned") == 1
    # Everyone else was matched, routed and acted on.
    fine = engine.store.inbox.get("delighted", "fine")
    assert fine is not None
    assert fine.match is not None
    assert fine.match["status"] == "unmatched"
    assert engine.store.inbox.counts().get("pending", 0) == 0
    tasks = [t for t in world.salesforce.records("Task") if t.get(MARKER)]
    assert tasks
    assert report.matched > 0

    second = engine.run_once()
    assert second.errors == []
    assert second.routed == 0
    assert [t for t in world.salesforce.records("Task") if t.get(MARKER)] == tasks
