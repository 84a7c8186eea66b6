"""Each response's loop, read from what owners and agents do in Salesforce and Zendesk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emulators.world import EmulatedWorld
from sync.state.loops import Loop
from tests.e2e.conftest import EngineFactory
from tests.support import acting_on_the_seeded_year, run_cli

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


def test_loops_follow_tasks_and_tickets(
    world: EmulatedWorld, make_engine: EngineFactory, state_url: str, tmp_path: Path
) -> None:
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

    report = _report(world, state_url, tmp_path)
    loops = engine.store.loops.current()
    start = datetime.now(UTC) - timedelta(days=365)
    recent = {("delighted", r.id): r for r in world.book.responses if r.created_at >= start}
    detractors = [r for r in recent.values() if r.score <= 6]
    reached = [
        k for k, lp in loops.items() if lp.contacted_at and k in recent and recent[k].score <= 6
    ]
    assert report["total"]["detractors"] == len(detractors)
    assert report["total"]["contacted"] == len(reached) > 0
    # nobody was reached within 1 minute of answering: every contact was late
    assert report["total"]["contacted_within_sla"] == 0
    assert report["total"]["sla_breaches"]["first_contact"] == len(detractors)
    assert {o["deadline"] for o in report["past_sla"]} == {"first_contact"}
    # every detractor ticket of the default rules goes to Customer Success
    assert report["groups"]["Customer Success"]["contacted"] == len(reached)

    zd.reopen_ticket(churn)
    zd.advance_clock(61)
    fourth = make_engine().run_once()
    assert fourth.loops_changed == 1
    reopened = engine.store.loops.current()[tickets[churn]]
    assert reopened.state == "contacted"
    last = engine.store.loops.events(*tickets[churn])[-1]
    assert (last.state, last.origin) == ("contacted", "reopened")


def _report(world: EmulatedWorld, state_url: str, tmp_path: Path) -> Any:
    """``nps-sync loop report --json`` with a one-minute first-contact SLA for detractors."""
    sla = [{"category": "detractor", "first_contact": "1m", "business_hours": False}]
    data = world.config_data(
        state_url=state_url,
        routing=acting_on_the_seeded_year(),
        loop={"sla": sla},
    )
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")
    done = run_cli(
        "loop", "report", "--since", "365d", "--by", "team", "--json", "--config", config
    )
    assert done.returncode == 0, done.stderr
    tables = run_cli("loop", "report", "--since", "365d", "--by", "owner", "--config", config)
    assert tables.returncode == 0, tables.stderr
    assert "Open loops past SLA" in tables.stdout
    return json.loads(done.stdout)


def _state(loop: Loop) -> tuple[str, str | None, str | None]:
    return (loop.state, loop.reason, loop.outcome)
