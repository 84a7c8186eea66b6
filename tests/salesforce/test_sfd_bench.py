"""The Salesforce side of a sync stays within 1.25 x the batching lower bound."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    return importlib.import_module("bench.pipeline")


def test_the_lower_bound_is_a_sum_of_full_batches(pipeline: ModuleType) -> None:
    work = pipeline.SalesforceWork(
        distinct_emails=1000, tasks=201, contact_updates=1000, account_updates=1
    )
    assert work.lower_bound() == 1 + 1 + 5 + 2 + 5 + 1
    assert work.per_record() == 1 + 1000 + 201 + 1000 + 1


def test_distinct_contacts_cost_at_most_a_quarter_over_the_lower_bound(
    pipeline: ModuleType,
) -> None:
    shape = next(iter(pipeline.SHAPES.values()))
    measured = pipeline.measure_salesforce(400, 120, shape)
    assert measured.work.distinct_emails == 400
    assert measured.calls <= math.floor(1.25 * measured.work.lower_bound())
    # Every respondent looked up once; the Tasks linked to their tickets read once per 200; the
    # new state database's one check for Tasks made before it.
    links = math.ceil(measured.work.task_links / 200)
    assert measured.work.task_links > 0
    assert measured.endpoints["query"] == math.ceil(400 / 200) + links + 1
