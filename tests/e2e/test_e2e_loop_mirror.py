"""Status mirrored between a response's Task and ticket: once, and never back and forth."""

from __future__ import annotations

from typing import Any

from emulators.world import EmulatedWorld
from sync.loop.mirror import TASK_NOTE
from tests.e2e.conftest import EngineFactory

BOTH_WAYS = {"mirror": {"ticket_solved_completes_task": True, "task_completed_notes_ticket": True}}


def _pairs(engine: Any) -> list[tuple[tuple[str, str], str, int]]:
    """(response, Task id, ticket id) of responses with one Task and one ticket."""
    found = []
    for key, items in engine.store.loops.followups(
        engine.clock() - engine.config.loop.follow_for
    ).items():
        kinds = {i.kind: i.external_id for i in items}
        if len(items) == 2 and set(kinds) == {"salesforce_task", "zendesk_ticket"}:
            found.append((key, kinds["salesforce_task"], int(kinds["zendesk_ticket"])))
    return sorted(found)


def _notes(world: EmulatedWorld, ticket_id: int) -> list[str]:
    comments = world.zendesk.comments(ticket_id)
    return [c["body"] for c in comments if not c["public"] and "was completed on" in c["body"]]


def test_a_completed_task_notes_its_ticket_and_a_solved_ticket_completes_its_task(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    engine = make_engine(loop=BOTH_WAYS)
    assert engine.run_once().errors == []
    (called, called_task, called_ticket), (solved, solved_task, solved_ticket), *_ = _pairs(engine)

    world.salesforce.update_record(
        "Task", called_task, {"Status": "Completed", "NPS_Loop_Outcome__c": "Resolved"}
    )
    world.zendesk.solve_ticket(solved_ticket)
    world.zendesk.advance_clock(61)
    for _ in range(3):  # read the facts, queue the mirrors, run them
        assert make_engine(loop=BOTH_WAYS).run_once().errors == []

    notes = _notes(world, called_ticket)
    assert len(notes) == 1
    assert "(outcome: resolved)" in notes[0]
    task = world.salesforce.get_record("Task", solved_task)
    assert task is not None
    assert task["IsClosed"] is True
    assert str(task["Description"]).count("was solved on") == 1
    assert f"Zendesk ticket #{solved_ticket}" in str(task["Description"])
    assert _notes(world, solved_ticket) == []  # the mirrored completion does not come back
    still_open = world.salesforce.get_record("Task", called_task)
    assert still_open is not None
    assert world.zendesk.ticket(called_ticket)["status"] != "solved"

    for _ in range(2):
        assert make_engine(loop=BOTH_WAYS).run_once().errors == []
    assert len(_notes(world, called_ticket)) == 1
    again = world.salesforce.get_record("Task", solved_task)
    assert again is not None
    assert str(again["Description"]).count("was solved on") == 1
    loops = engine.store.loops.current()
    # a ticket solved without a reply, and a Task the mirror completed: nobody reached them
    assert (loops[solved].state, loops[solved].reason) == ("closed", "closed_without_contact")
    assert loops[called].state == "contacted"
    assert TASK_NOTE.split("{")[0] in str(again["Description"])


def test_without_the_mirror_nothing_is_written(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    engine = make_engine()
    engine.run_once()
    (_, task_id, ticket_id), *_ = _pairs(engine)
    world.salesforce.update_record("Task", task_id, {"Status": "Completed"})
    world.zendesk.advance_clock(61)
    for _ in range(3):
        make_engine().run_once()
    assert _notes(world, ticket_id) == []
