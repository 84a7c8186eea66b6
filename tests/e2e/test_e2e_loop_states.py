"""Each response's loop, read from what owners and agents do in Salesforce and Zendesk."""

from __future__ import annotations

from typing import Any

from emulators.world import EmulatedWorld
from sync.state.loops import Loop
from tests.e2e.conftest import EngineFactory

MARKER = "NPS_Sync_Key__c"


def _followups(engine: Any) -> tuple[dict[str, tuple[str, str]], dict[int, tuple[str, str]]]:
    """Task id -> response of responses with a Task alone; ticket id -> (response, its Task id)
    of responses with one Task and one ticket."""
    followups = engine.store.loops.followups(engine.clock() - engine.config.loop.follow_for)
    tasks: dict[str, tuple[str, str]] = {}
    tickets: dict[int, tuple[str, str]] = {}
    for key, items in followups.items():
        kinds = sorted(item.kind for item in items)
        if kinds == ["salesforce_task"]:
            tasks[items[0].external_id] = key
        elif kinds == ["salesforce_task", "zendesk_ticket"]:
            ticket = next(i for i in items if i.kind == "zendesk_ticket")
            tickets[int(ticket.external_id)] = key
    return tasks, tickets


def _task_of(engine: Any, key: tuple[str, str]) -> str:
    items = engine.store.loops.followups(engine.clock() - engine.config.loop.follow_for)[key]
    return str(next(i.external_id for i in items if i.kind == "salesforce_task"))


def test_loops_follow_tasks_and_tickets(world: EmulatedWorld, make_engine: EngineFactory) -> None:
    engine = make_engine()
    first = engine.run_once()
    assert first.errors == []
    loops = engine.store.loops.current()
    assert loops
    assert first.loops_changed == len(loops)
    assert {loop.state for loop in loops.values()} == {"open"}

    tasks, tickets = _followups(engine)
    assert len(tasks) >= 3
    assert len(tickets) >= 3
    done, unreachable, untouched, *_ = sorted(tasks)
    replied, silent, churn, *_ = sorted(tickets)
    sf, zd = world.salesforce, world.zendesk
    sf.update_record("Task", done, {"Status": "Completed"})
    sf.update_record(
        "Task", unreachable, {"Status": "Completed", "NPS_Loop_Outcome__c": "Not reachable"}
    )
    zd.agent_replies(replied, "Sorry about that, here is what we will do.")
    zd.agent_replies(silent, "internal: nothing to do", public=False)
    zd.solve_ticket(silent)
    sf.update_record(
        "Task",
        _task_of(engine, tickets[silent]),
        {"Status": "Completed", "NPS_Loop_Outcome__c": "No action needed"},
    )
    sf.update_record("Task", _task_of(engine, tickets[churn]), {"Status": "Completed"})
    zd.advance_clock(120)
    zd.agent_replies(churn, "We hear you.")
    zd.set_ticket_field(churn, "Loop outcome", "loop_churn_risk")
    zd.solve_ticket(churn)
    zd.advance_clock(61)

    second = make_engine().run_once()
    assert second.errors == []
    loops = engine.store.loops.current()
    completed = sf.get_record("Task", done)
    assert completed is not None
    assert completed["CompletedDateTime"]
    done_loop = loops[tasks[done]]
    assert (done_loop.state, done_loop.reason) == ("resolved", None)
    assert done_loop.contacted_at == done_loop.ended_at
    assert done_loop.contacted_at is not None
    assert (
        done_loop.contacted_at.strftime("%Y-%m-%dT%H:%M:%S") == completed["CompletedDateTime"][:19]
    )
    assert _state(loops[tasks[unreachable]]) == ("closed", "not_reachable", "not_reachable")
    assert loops[tasks[unreachable]].contacted_at is None
    assert loops[tasks[untouched]].state == "open"
    assert loops[tickets[replied]].state == "contacted"
    assert loops[tickets[replied]].contacted_at is not None
    assert _state(loops[tickets[silent]]) == ("closed", "no_action_needed", "no_action_needed")
    churned = loops[tickets[churn]]
    assert _state(churned) == ("resolved", None, "churn_risk")
    assert churned.contacted_at is not None
    assert churned.ended_at is not None
    assert churned.contacted_at <= churned.ended_at
    assert second.loops_changed == 5

    source, response_id = tasks[unreachable]
    events = [(e.state, e.origin, e.reason) for e in engine.store.loops.events(source, response_id)]
    assert events == [
        ("open", "salesforce_task", None),
        ("closed", "salesforce_task", "not_reachable"),
    ]

    # Nothing changed: nothing recorded twice; the closed Tasks are not read again.
    third = make_engine().run_once()
    assert third.loops_changed == 0
    assert len(engine.store.loops.events(source, response_id)) == 2

    zd.reopen_ticket(churn)
    zd.advance_clock(61)
    fourth = make_engine().run_once()
    assert fourth.loops_changed == 1
    reopened = engine.store.loops.current()[tickets[churn]]
    assert reopened.state == "contacted"
    last = engine.store.loops.events(*tickets[churn])[-1]
    assert (last.state, last.origin) == ("contacted", "reopened")


def _state(loop: Loop) -> tuple[str, str | None, str | None]:
    return (loop.state, loop.reason, loop.outcome)
