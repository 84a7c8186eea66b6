"""The whole loop, end to end: real simple-salesforce, zenpy and requests against the emulators."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.models import category_of
from emulators.world import EmulatedWorld
from sync.app.engine import RunReport
from sync.fields.metrics import nps
from tests.e2e.conftest import EngineFactory

MARKER = "NPS_Sync_Key__c"


def external_tickets(world: EmulatedWorld) -> list[dict[str, Any]]:
    return [t for t in world.zendesk.tickets() if t.get("external_id")]


def test_first_pass_acts_once_and_the_second_does_nothing(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    first = make_engine().run_once()
    assert first.errors == []
    assert first.pulled == len(world.book.responses)
    assert first.routed == first.pulled
    assert first.unmatched > 0  # the seed has unknown emails

    tasks = world.salesforce.records("Task")
    assert len(tasks) == first.tasks_created > 0
    markers = [t[MARKER] for t in tasks]
    assert len(set(markers)) == len(markers)
    tickets = external_tickets(world)
    assert len(tickets) == first.tickets_created > 0
    assert len({t["external_id"] for t in tickets}) == len(tickets)

    second = make_engine().run_once()
    assert (second.tasks_created, second.tickets_created, second.routed) == (0, 0, 0)
    assert second.records_updated == 0
    assert second.pulled == 0  # the last response, read again at the cursor, is not news
    assert second.idle
    assert len(world.salesforce.records("Task")) == len(tasks)
    assert len(external_tickets(world)) == len(tickets)


def test_detractors_reach_the_right_people(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    accounts = {a.id: a for a in world.book.accounts}
    contacts = {c.email: c for c in world.book.contacts}
    detractor_tasks = [t for t in world.salesforce.records("Task") if "detractor" in t["Subject"]]
    assert detractor_tasks
    for task in detractor_tasks:
        account = accounts[task["WhatId"]]
        assert task["OwnerId"] == account.owner_id
        assert task["Priority"] == "High"
        contact = next(c for c in contacts.values() if c.id == task["WhoId"])
        assert contact.account_id == account.id

    group_id = next(g["id"] for g in world.zendesk.groups() if g["name"] == "Customer Success")
    score_field = world.zendesk.ticket_field_id("NPS Score")
    for ticket in external_tickets(world):
        assert ticket["group_id"] == group_id
        assert {"nps", "detractor"} <= set(ticket["tags"])
        scores = [f["value"] for f in ticket["custom_fields"] if f["id"] == score_field]
        assert scores
        assert scores[0] <= 6


def test_nps_fields_are_written_back(world: EmulatedWorld, make_engine: EngineFactory) -> None:
    make_engine().run_once()
    by_contact: dict[str, list[tuple[datetime, int]]] = {}
    emails = {c.email: c.id for c in world.book.contacts}
    for r in world.book.responses:
        contact_id = emails.get(r.email.lower())
        if contact_id:
            by_contact.setdefault(contact_id, []).append((r.created_at, r.score))
    checked = 0
    for contact_id, answers in by_contact.items():
        record = world.salesforce.get_record("Contact", contact_id)
        assert record is not None
        last_at, last_score = max(answers)
        assert record["NPS_Last_Score__c"] == last_score
        assert record["NPS_Category__c"] == category_of(last_score)
        assert record["NPS_Last_Response_Date__c"] == last_at.date().isoformat()
        checked += 1
    assert checked > 20

    # Accounts by hand: latest answer per contact in the last 180 days. The first accounts with
    # such answers are checked (there must be some, or the comparison would prove nothing).
    now = datetime.now(UTC)
    compared = 0
    for account in world.book.accounts:
        latest: dict[str, tuple[datetime, int]] = {}
        for contact in (c for c in world.book.contacts if c.account_id == account.id):
            for at, score in by_contact.get(contact.id, []):
                if now - timedelta(days=180) < at <= now:
                    latest[contact.id] = max(latest.get(contact.id, (at, score)), (at, score))
        expected = nps(score for _, score in latest.values())
        if expected is None:
            continue
        record = world.salesforce.get_record("Account", account.id)
        assert record is not None
        assert (record["NPS_Score__c"], record["NPS_Responses__c"]) == (expected, len(latest))
        compared += 1
        if compared == 3:
            break
    assert compared == 3


def test_an_edited_response_is_rerouted_without_repeating_actions(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    known = {c.email for c in world.book.contacts}
    # A detractor's answer that is its contact's latest, so the edited comment is written back.
    newest: dict[str, Any] = {}
    for r in sorted(world.book.responses, key=lambda r: r.created_at):
        newest[r.email.lower()] = r
    detractor = next(r for r in newest.values() if r.score <= 6 and r.email.lower() in known)
    contact_id = next(c.id for c in world.book.contacts if c.email == detractor.email.lower())
    before = world.salesforce.get_record("Contact", contact_id)
    assert before is not None
    assert before["NPS_Last_Comment__c"] != "Support never called me back."

    world.delighted.update_response(detractor.id, comment="Support never called me back.")
    report = make_engine().run_once()
    assert (report.updated, report.routed) == (1, 1)
    assert (report.tasks_created, report.tickets_created) == (0, 0)
    record = world.salesforce.get_record("Contact", contact_id)
    assert record is not None
    assert record["NPS_Last_Comment__c"] == "Support never called me back."
    assert record["NPS_Last_Score__c"] == detractor.score


def test_a_passive_gets_a_task_once_its_comment_arrives(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    contact = world.book.contacts[3]
    now = datetime.now(UTC) - timedelta(minutes=5)
    rid = world.delighted.add_response(
        email=contact.email, score=7, comment=None, created_at=now, updated_at=now
    )
    first = make_engine().run_once()
    assert (first.new, first.tasks_created) == (1, 0)
    world.delighted.update_response(rid, comment="Fine, but the reports are slow.")
    second = make_engine().run_once()
    assert (second.updated, second.tasks_created) == (1, 1)
    third = make_engine().run_once()
    assert third.tasks_created == 0


def test_malformed_lines_are_reported_with_file_and_line(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    contact = world.book.contacts[0]
    export = tmp_path / "export.jsonl"
    export.write_text(
        "\n".join(
            [
                f'{{"response_id": "f1", "email": "{contact.email}", "score": 3,'
                ' "comment": "too slow", "created_at": "2026-10-01T10:00:00Z"}',
                '{"response_id": "f2", "email": "a@b.example", "score": 11,'
                ' "created_at": "2026-10-01T10:00:00Z"}',
                '{"response_id": "f3", "score": 5, "created_at": "2026-10-01T10:00:00Z"}',
                '{"response_id": "f4", "email": ',
                f'{{"response_id": "f5", "email": "{contact.email}", "score": 10,'
                ' "comment": "much better", "created_at": "2026-10-02T10:00:00Z"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    engine = make_engine(sources=[{"type": "file", "path": str(export)}])
    report = engine.run_once()
    assert report.pulled == 2
    assert sorted(p.split(": ", 1)[0] for p in report.problems) == [
        f"{export}:2",
        f"{export}:3",
        f"{export}:4",
    ]
    assert report.routed == 2
    tasks = Counter(t["WhoId"] for t in world.salesforce.records("Task"))
    assert tasks[contact.id] == 2


def test_write_back_survives_a_pass_that_stopped_after_routing(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    interrupted = make_engine()
    report = RunReport()
    interrupted.pull(report, datetime.now(UTC))
    interrupted.route(report)  # ... and the process dies here, before acting and writing back
    assert report.routed > 0
    contact = next(
        c for c in world.book.contacts if c.email in {r.email for r in world.book.responses}
    )
    assert world.salesforce.get_record("Contact", contact.id)["NPS_Last_Score__c"] is None  # type: ignore[index]

    resumed = make_engine().run_once()
    assert resumed.routed == 0
    assert resumed.tasks_created > 0
    assert resumed.records_updated > 0
    assert world.salesforce.get_record("Contact", contact.id)["NPS_Last_Score__c"] is not None  # type: ignore[index]


def test_a_renamed_source_is_refused_instead_of_acting_on_its_responses_again(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    first = make_engine().run_once()
    assert first.errors == []
    tasks, tickets = len(world.salesforce.records("Task")), len(external_tickets(world))
    renamed = [
        {
            "type": "delighted",
            "name": "delighted-eu",
            "api_key": {"env": "NPS_DEMO_DELIGHTED_KEY"},
            "base_url": "https://api.delighted.com",
        }
    ]
    report = make_engine(sources=renamed).run_once()
    (error,) = report.errors
    assert error.startswith("delighted-eu: ")
    assert "stored under the source name 'delighted'" in error
    assert "put the name back (sources: name: delighted)" in error
    assert (report.pulled, report.tasks_created, report.tickets_created) == (0, 0, 0)
    assert len(world.salesforce.records("Task")) == tasks
    assert len(external_tickets(world)) == tickets
