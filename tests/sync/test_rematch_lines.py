"""What ``unmatched rematch`` prints: the work it drained is never left unsaid."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sync.app.engine import RunReport
from sync.commands.unmatched import rematch_lines
from sync.ops.rematch import RematchResult

CONFIG = Path("nps-sync.yaml")


@pytest.mark.parametrize(
    ("matched", "report", "expected"),
    [
        (
            {"alias": 2},
            RunReport(routed=2, intents=1, tasks_created=1, records_updated=3),
            "Routed 2: 1 new actions; 1 tasks and 0 tickets created, 0 comments on open tickets, "
            "3 records updated.",
        ),
        (
            {},
            RunReport(records_updated=40),
            "Work queued by earlier passes carried out: 0 tasks and 0 tickets created, "
            "0 comments on open tickets, 40 records updated.",
        ),
        ({}, RunReport(), None),
    ],
)
def test_rematch_says_what_it_did(
    matched: dict[str, int], report: RunReport, expected: str | None
) -> None:
    result = RematchResult(reviewed=3, matched=Counter(matched))
    result.still_unmatched = 3 - result.now_matched
    lines = rematch_lines(result, report, CONFIG)
    effects = [line for line in lines if "records updated" in line]
    assert effects == ([expected] if expected else [])
