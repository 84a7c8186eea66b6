"""The daemon's hub correction measurement in the state store, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.state import StateStore
from sync.state.hub_correction import StoredHubSample

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def sample(seen: int, value: float, analysis: str = "a1") -> StoredHubSample:
    return StoredHubSample(analysis, seen, ((value, 0.25), (value / 2, 0.125)))


def test_a_measurement_is_read_back_as_stored_per_analysis(store: StateStore) -> None:
    assert store.hub_corrections.get("a1") is None
    assert store.hub_corrections.save(sample(60, 0.8125), NOW)
    assert store.hub_corrections.get("a1") == sample(60, 0.8125)
    assert store.hub_corrections.get("a2") is None


def test_only_a_measurement_that_has_seen_more_replaces_the_stored_one(store: StateStore) -> None:
    store.hub_corrections.save(sample(300, 0.5), NOW)
    assert not store.hub_corrections.save(sample(200, 0.75), NOW)
    assert store.hub_corrections.save(sample(1_000, 0.625), NOW)
    # a complete measurement stays: another daemon's complete one does not replace it
    assert not store.hub_corrections.save(sample(1_000, 0.75), NOW)
    assert store.hub_corrections.get("a1") == sample(1_000, 0.625)
