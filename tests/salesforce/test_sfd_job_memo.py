"""What a lookup's retry reuses of the Bulk query jobs an earlier attempt finished."""

from __future__ import annotations

import pytest

from connectors.salesforce.job_memo import FinishedJobs, Records


class Jobs:
    """Job queries that fail once each where told to; counts the runs of each."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.runs: dict[str, int] = {}

    def __call__(self, query: str) -> Records:
        self.runs[query] = self.runs.get(query, 0) + 1
        if query in self.failing:
            self.failing.discard(query)
            raise TimeoutError(query)
        return [{"q": query}]


@pytest.mark.parametrize(
    ("retry", "after", "runs"),
    [
        (["a", "b", "c"], 5.0, {"a": 1, "b": 2, "c": 1}),  # the same lookup soon: b and c only
        (["a", "b", "c"], 601.0, {"a": 2, "b": 2, "c": 1}),  # too late: every job again
        (["a", "b", "d"], 5.0, {"a": 2, "b": 2, "d": 1}),  # another lookup shares nothing
    ],
)
def test_a_retry_reuses_only_the_same_lookups_recent_jobs(
    retry: list[str], after: float, runs: dict[str, int]
) -> None:
    now = [0.0]
    memo = FinishedJobs(max_age=600.0, clock=lambda: now[0])
    jobs = Jobs(failing={"b"})
    with pytest.raises(TimeoutError):
        memo.run(["a", "b", "c"], jobs)
    now[0] = after

    records = memo.run(retry, jobs)

    assert records == [{"q": q} for q in retry]
    assert jobs.runs == runs


def test_kept_lookups_are_few_and_a_finished_lookup_keeps_nothing() -> None:
    memo = FinishedJobs(lookups=2, clock=lambda: 0.0)
    jobs = Jobs(failing={"x1", "x2", "x3"})
    for n in (1, 2, 3):
        with pytest.raises(TimeoutError):
            memo.run(["a", f"x{n}"], jobs)
    memo.run(["a", "x1"], jobs)  # the oldest was let go: a runs again
    memo.run(["a", "x3"], jobs)  # kept: only x3
    memo.run(["a", "x3"], jobs)  # finished last time: all again
    assert jobs.runs == {"a": 3 + 1 + 1, "x1": 2, "x2": 1, "x3": 3}
