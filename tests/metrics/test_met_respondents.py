"""Stored responses as respondents: each person once per period, with their account's segments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sync.fields.respondents import respondents
from tests.metrics.conftest import NOW, stored

START = NOW - timedelta(days=30)


def test_each_person_counts_once_with_the_latest_answer_in_the_period() -> None:
    rows = [
        stored("r1", contact="c1", account="A", score=3, days_ago=20),
        stored("r2", contact="c1", account="A", score=9, days_ago=5),  # c1's latest
        stored("r3", contact="c2", account="A", score=7, days_ago=40),  # before the period
        stored("r4", contact=None, account="B", score=2, days_ago=1),  # by email
    ]
    found = respondents(rows, start=START, end=NOW)
    assert sorted((r.account_id, r.score) for r in found) == [("A", 9), ("B", 2)]


def test_segments_come_from_the_account_as_matched() -> None:
    row = stored("r1", contact="c1", account="A", score=6, days_ago=3, arr=42_000.0, user=7)
    assert row.match is not None
    account = {
        **row.match["account"],
        "industry": "Retail",
        "region": "EMEA",
        "owner_name": "Maria Silva",
        "created_date": (NOW - timedelta(days=400)).date().isoformat(),
    }
    row = replace(row, match={**row.match, "account": account})
    (with_tickets,) = respondents([row], start=START, end=NOW, open_tickets={7: 2})
    assert with_tickets.arr == 42_000.0
    assert dict(with_tickets.attributes) == {
        "tier": "SMB",
        "industry": "Retail",
        "region": "EMEA",
        "tenure": "1-2 years",
        "support": "2+ open tickets",
        "owner": "Maria Silva",
    }
    (unknown,) = respondents([row], start=START, end=NOW)  # the mirror never caught up
    assert unknown.value("support") == "(none)"
    (none_open,) = respondents([row], start=START, end=NOW, open_tickets={})
    assert none_open.value("support") == "no open ticket"
