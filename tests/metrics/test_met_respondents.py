"""Stored responses as respondents: each person once per period, with their account's segments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sync.fields.respondents import respondents
from sync.state import TicketSpan
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


def test_a_period_holds_its_first_moment_not_its_end() -> None:
    """Calendar periods: an answer at midnight on the 1st belongs to that month, not the one
    before, as in the executive report."""
    start, end = NOW - timedelta(days=30), NOW
    rows = [
        stored("first", contact="c1", account="A", score=9, days_ago=30),  # exactly at start
        stored("end", contact="c2", account="A", score=2, days_ago=0),  # exactly at end
    ]
    assert [r.score for r in respondents(rows, start=start, end=end)] == [9]


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
    answered = NOW - timedelta(days=3)
    open_then = TicketSpan(answered - timedelta(days=90), answered + timedelta(days=1))
    recent = TicketSpan(answered - timedelta(days=10), answered - timedelta(days=9))
    history = {7: [open_then, recent]}
    (with_tickets,) = respondents(
        [row], start=START, end=NOW, history=history, account_values={"A": {"Type": "Partner"}}
    )
    assert with_tickets.arr == 42_000.0
    assert dict(with_tickets.attributes) == {
        "Type": "Partner",
        "tier": "SMB",
        "industry": "Retail",
        "region": "EMEA",
        "tenure": "1-2 years",
        "support": "2+ open or recent tickets",
        "owner": "Maria Silva",
    }
    (unknown,) = respondents([row], start=START, end=NOW)  # the mirror never caught up
    assert unknown.value("support") == "(none)"
    (none_open,) = respondents([row], start=START, end=NOW, history={})
    assert none_open.value("support") == "no open or recent ticket"
    # Solved 40 days before the answer and opened after it: neither counts, whatever today holds.
    old = TicketSpan(answered - timedelta(days=60), answered - timedelta(days=40))
    later = TicketSpan(answered + timedelta(hours=1), None)
    (quiet,) = respondents([row], start=START, end=NOW, history={7: [old, later]})
    assert quiet.value("support") == "no open or recent ticket"
    (one,) = respondents(
        [row], start=START, end=NOW, history={7: [old, recent]}, recent=timedelta(days=30)
    )
    assert one.value("support") == "1 open or recent ticket"
    (none_recent,) = respondents(
        [row], start=START, end=NOW, history={7: [old, recent]}, recent=timedelta(days=7)
    )
    assert none_recent.value("support") == "no open or recent ticket"


def test_a_respondent_carries_the_themes_stored_for_their_answer() -> None:
    rows = [
        stored("r1", contact="c1", account="A", score=3, days_ago=20),
        stored("r2", contact="c1", account="A", score=4, days_ago=5),  # c1's latest
        stored("r3", contact="c2", account="B", score=9, days_ago=2),  # not analysed
    ]
    themes = {("delighted", "r1"): ("pricing",), ("delighted", "r2"): ("onboarding", "support")}
    found = {r.account_id: r.themes for r in respondents(rows, start=START, end=NOW, themes=themes)}
    assert found == {"A": frozenset({"onboarding", "support"}), "B": frozenset()}
