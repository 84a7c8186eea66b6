"""The acceptance figure: a burst of 150 detractor tickets in at most 10 Zendesk calls."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_burst_of_150_tickets_costs_at_most_ten_calls_plus_job_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    bench = importlib.import_module("bench.zendesk")

    result = bench.run_zendesk_benchmark(tickets=150, accounts=100, quiet=True)

    assert result.batched.tickets == result.per_record.tickets == 150
    assert result.batched.calls <= 10
    assert result.batched.polls <= 2 * 3  # two create_many jobs, each done within 3 polls
    assert result.per_record.calls >= 2 * 150
