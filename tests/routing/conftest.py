"""Routing scenarios end to end: the real clients against the emulators, with rules per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulators.world import EmulatedWorld
from sync.app.engine import Engine
from sync.app.reload import RulesHolder
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.state import StateStore

FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)

EngineFactory = Callable[..., Engine]


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    """A small book of business and no survey responses: each test adds its own."""
    with EmulatedWorld(seed=5, accounts=6, responses=0) as w:
        yield w


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    return tmp_path / "rules.yaml"


def write_rules(path: Path, text: str) -> None:
    """Write a rules file and move its mtime on, as an edit a moment later would."""
    previous = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    stamp = max(previous + 1_000_000_000, 1_700_000_000 * 10**9)
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def make_engine(world: EmulatedWorld, tmp_path: Path, rules_path: Path) -> Iterator[EngineFactory]:
    """An engine over the world whose rules come from ``rules_path`` (hot reloaded); keyword
    arguments replace top-level sections of its config."""
    stores: list[StateStore] = []

    def build(
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), **overrides: Any
    ) -> Engine:
        config = Config.model_validate(
            world.config_data(
                state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules_path, **overrides
            )
        )
        store = open_store(config)
        stores.append(store)
        holder = RulesHolder.load(rules_path)
        return Engine(config, store, connect_all(config), holder, retry=FAST_RETRY, clock=clock)

    yield build
    for store in stores:
        store.close()
