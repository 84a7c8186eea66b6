"""End-to-end fixtures: the real clients against the emulators, over loopback sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.state import StateStore
from tests.support import acting_on_the_seeded_year

#: Short waits so fault scenarios stay fast; the policy itself is the production one.
FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=2.0)

EngineFactory = Callable[..., Engine]


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=40, responses=150) as w:
        yield w


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def make_engine(world: EmulatedWorld, state_url: str) -> Iterator[EngineFactory]:
    """Build an engine on the world; every call connects afresh, as a new process would.

    Every seeded response is acted on (:func:`~tests.support.acting_on_the_seeded_year`)."""
    stores: list[StateStore] = []

    def build(**overrides: Any) -> Engine:
        settings = {"routing": acting_on_the_seeded_year(), **overrides}
        config = Config.model_validate(world.config_data(state_url=state_url, **settings))
        store = open_store(config)
        stores.append(store)
        return Engine(
            config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY
        )

    yield build
    for store in stores:
        store.close()
