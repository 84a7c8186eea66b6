"""The benchmark's measuring stick: its lower bounds, and runs of the real CLI that report their
figures whether nps-sync succeeds or fails."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    return importlib.import_module("bench.first_sync")


def test_the_zendesk_bound_counts_full_batches_of_100(bench: ModuleType) -> None:
    bounds = importlib.import_module("bench.bounds")
    work = bounds.ZendeskWork(
        distinct_emails=250, tickets=101, comments=0, user_updates=100, organization_updates=1
    )

    assert work.jobs() == 2 + 1 + 1
    # 2 names + 3 lookups + 2 creates + 0 + 1 + 1 updates + 2 x 1 poll rounds + 1 export page
    assert work.lower_bound() == 2 + 3 + 2 + 0 + 1 + 1 + 2 + 1


def test_past_the_30_jobs_zendesk_holds_at_once_the_bound_s_polls_grow_with_the_jobs(
    bench: ModuleType,
) -> None:
    bounds = importlib.import_module("bench.bounds")
    few = bounds.ZendeskWork(0, 900, 1000, 900, 300)  # tickets, comments, users, orgs
    many = bounds.ZendeskWork(0, 900, 4000, 900, 300)

    assert (few.jobs(), few.polls()) == (31, 3)  # two polls a job, 30 jobs at a time
    assert (many.jobs(), many.polls()) == (61, 5)
    assert bounds.ZendeskWork(0, 300, 0, 0, 0).polls() == 2  # one round of 3 jobs


def test_respondents_are_found_the_cheaper_way_lookups_or_the_user_export(
    bench: ModuleType,
) -> None:
    bounds = importlib.import_module("bench.bounds")
    work = bounds.ZendeskWork(2500, 0, 0, 0, 0, account_users=1200)
    assert work.user_lookups() == 2  # two export pages, not 25 lookups of 100 emails
    assert bounds.ZendeskWork(250, 0, 0, 0, 0, account_users=90_000).user_lookups() == 3


def test_the_rate_limits_bound_time_at_their_sustained_rate(bench: ModuleType) -> None:
    bounds = importlib.import_module("bench.bounds")

    assert bounds.rate_limit_seconds(1400, 700, 5000, 100_000) == 120.0
    assert bounds.rate_limit_seconds(0, 700, 250_000, 100_000) == 2 * 86_400.0


def test_a_failing_run_still_reports_its_exit_code_and_figures(
    bench: ModuleType, tmp_path: Path
) -> None:
    measure = importlib.import_module("bench.measure")
    config = measure.write_config(tmp_path, {"state": {"url": 1}})

    run = measure.run_nps_sync(["sync", "--json", "-c", str(config)], env={}, timeout=60)

    assert run.exit_code == 2  # a configuration error
    assert "state" in run.failure()
    assert run.peak_mb > 10
    assert run.cpu_seconds > 0


@pytest.mark.timeout(180)
def test_a_first_sync_is_measured_in_its_own_process(bench: ModuleType) -> None:
    run = bench.first_sync(60, accounts=20)

    assert (run.process.exit_code, run.errors()) == (0, 0)
    assert run.process.document["pulled"] == 60
    assert run.work["tasks"] > 0
    assert run.total("salesforce") >= run.salesforce.lower_bound()
    assert run.total("zendesk") >= 1
    assert 10 < run.process.peak_mb < 1000
    assert run.bound_seconds() > 0
    assert 0 < run.emulator_cpu_seconds < run.process.seconds * 2  # serving, not seeding
