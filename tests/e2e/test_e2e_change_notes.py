"""A comment or score that changes after the Task and ticket were made reaches them, once each,
through whole passes of the default rules on the emulators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory

HEAD = "The customer changed their NPS answer on"


def notes(world: EmulatedWorld, ticket_id: int) -> list[dict[str, Any]]:
    return [c for c in world.zendesk.comments(ticket_id) if HEAD in c["body"]]


def test_a_later_comment_and_score_are_noted_on_the_task_and_the_ticket_once(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    answered = {r.email.lower() for r in world.book.responses}
    contact = next(c for c in world.book.contacts if c.email.lower() not in answered)
    at = datetime.now(UTC) - timedelta(hours=1)
    tickets_before = {t["id"] for t in world.zendesk.tickets()}
    rid = world.delighted.add_response(
        email=contact.email, score=3, comment=None, created_at=at, updated_at=at
    )
    first = make_engine().run_once()
    assert first.errors == []
    (task,) = [t for t in world.salesforce.records("Task") if t["WhoId"] == contact.id]
    (ticket,) = [t for t in world.zendesk.tickets() if t["id"] not in tickets_before]
    assert HEAD not in task["Description"]

    world.delighted.update_response(rid, comment="Billing charged us twice.")
    second = make_engine().run_once()
    assert (second.errors, second.tasks_created, second.tickets_created) == ([], 0, 0)
    record = world.salesforce.get_record("Task", task["Id"])
    assert record is not None
    assert f"{HEAD} " in record["Description"]
    assert "Comment (new): Billing charged us twice." in record["Description"]
    (note,) = notes(world, ticket["id"])
    assert note["public"] is False
    assert "Comment (new): Billing charged us twice." in note["body"]
    # The customer context stays at the Task's end, above the note.
    assert record["Description"].index("Customer context") < record["Description"].index(HEAD)

    assert make_engine().run_once().errors == []  # nothing new: nothing told again
    again = world.salesforce.get_record("Task", task["Id"])
    assert again is not None
    assert again["Description"].count(HEAD) == 1
    assert len(notes(world, ticket["id"])) == 1

    world.delighted.update_response(rid, score=9)
    assert make_engine().run_once().errors == []
    record = world.salesforce.get_record("Task", task["Id"])
    assert record is not None
    assert record["Description"].count(HEAD) == 2
    assert "Score: 3 -> 9 (now a promoter)" in record["Description"]
    assert record["Status"] != "Completed"  # the account manager decides what it means
    assert [("Score: 3 -> 9" in n["body"]) for n in notes(world, ticket["id"])] == [False, True]
    # The ticket's NPS Score field follows the score; the comment alone left it as it was.
    score_field = world.zendesk.ticket_field_id("NPS Score")
    (shown,) = [t for t in world.zendesk.tickets() if t["id"] == ticket["id"]]
    assert [f["value"] for f in shown["custom_fields"] if f["id"] == score_field] == [9]


def test_an_edit_of_an_earlier_answer_leaves_the_score_of_a_later_one_on_the_ticket(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    answered = {r.email.lower() for r in world.book.responses}
    contact = next(c for c in world.book.contacts if c.email.lower() not in answered)
    score_field = world.zendesk.ticket_field_id("NPS Score")
    at = datetime.now(UTC) - timedelta(hours=2)
    tickets_before = {t["id"] for t in world.zendesk.tickets()}
    first = world.delighted.add_response(
        email=contact.email, score=3, comment="Slow.", created_at=at, updated_at=at
    )
    assert make_engine().run_once().errors == []
    (ticket,) = [t for t in world.zendesk.tickets() if t["id"] not in tickets_before]
    later = at + timedelta(hours=1)
    world.delighted.add_response(
        email=contact.email, score=1, comment="Worse.", created_at=later, updated_at=later
    )
    assert make_engine().run_once().errors == []
    assert [t["id"] for t in world.zendesk.tickets() if t["id"] not in tickets_before] == [
        ticket["id"]
    ]  # the later answer went on the same ticket

    world.delighted.update_response(first, score=5, at=later + timedelta(minutes=5))
    assert make_engine().run_once().errors == []
    (note,) = notes(world, ticket["id"])
    assert "Score: 3 -> 5" in note["body"]
    (shown,) = [t for t in world.zendesk.tickets() if t["id"] == ticket["id"]]
    assert [f["value"] for f in shown["custom_fields"] if f["id"] == score_field] == [1]
