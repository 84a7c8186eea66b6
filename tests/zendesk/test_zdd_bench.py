"""The acceptance figure: a burst of 150 detractor tickets in at most 10 Zendesk calls, plus one
per requester who has unsolved tickets (the customer context lists them by id and subject)."""

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
    listed = result.batched.by_endpoint["users_tickets_requested"]
    assert result.batched.calls - listed <= 10
    assert listed < 150 / 10  # only requesters who have unsolved tickets cost a call
    assert result.batched.polls <= 2 * 3  # two create_many jobs, each done within 3 polls
    assert result.per_record.calls >= 2 * 150
