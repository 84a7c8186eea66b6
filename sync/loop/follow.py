"""Following loops: read where our Tasks stand, then derive and record each response's loop.

Ticket facts (solved, first public agent reply, outcome field) arrive with ticket tracking
(:mod:`sync.loop.tracking`, which sideloads metric sets for this); Tasks are read here, 200 per
SOQL query, and only those not yet seen closed, so a pass costs a query per 200 open Tasks.
Then the loop of every response with a Task or ticket made within ``follow_for`` is derived
(:mod:`sync.loop.states`) and what changed is stored with its transitions in one transaction:
re-running a pass records nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sync.core.ports import TaskStates
from sync.core.retry import RetryPolicy
from sync.loop.states import derive, outcome_code, transitions
from sync.state import StateStore
from sync.state.loops import Loop, LoopEvent, TaskStatusRow

log = logging.getLogger(__name__)

#: A Task status is kept to this many characters (a custom status value may be longer).
TASK_STATUS_CHARS = 40


@dataclass
class LoopStats:
    tasks_read: int = 0
    #: Loops whose state moved this pass, and the transitions recorded for them (a loop whose
    #: owner alone became known is stored without a transition).
    changed: int = 0
    events: int = 0


def read_tasks(
    store: StateStore,
    crm: TaskStates,
    retry: RetryPolicy,
    now: datetime,
    *,
    since: datetime,
    before: datetime,
    outcome_field: Callable[[], str] = str,
) -> int:
    """Record where the Tasks made between ``since`` and ``before`` that were not yet seen
    closed stand; returns how many were read. ``outcome_field`` names the Task's outcome field
    ("" for none); it is asked only when some Task is read.

    A Task that no longer exists (deleted) ends its part of the loop without contact.
    """
    wanted = store.loops.tasks_to_read(since, before)
    if not wanted:
        return 0
    field = outcome_field()
    states = retry.call(partial(crm.task_states, sorted(wanted), outcome_field=field))
    rows: list[TaskStatusRow] = []
    for task_id, key in wanted.items():
        state = states.get(task_id[:15])
        if state is None:
            rows.append(TaskStatusRow(key, task_id, "deleted", True, now, None, None))
            continue
        completed = state.completed_at or (state.modified_at if state.closed else None)
        outcome = outcome_code(state.outcome)
        rows.append(
            TaskStatusRow(
                key,
                task_id,
                state.status[:TASK_STATUS_CHARS],
                state.closed,
                completed,
                state.owner_id,
                outcome,
            )
        )
    store.loops.save_task_statuses(rows, now)
    return len(rows)


def update_loops(store: StateStore, now: datetime, *, since: datetime) -> LoopStats:
    """Derive the loop of every response with a Task or ticket made since ``since``; store the
    loops that changed and their transitions."""
    stats = LoopStats()
    followups = store.loops.followups(since)
    if not followups:
        return stats
    stored = store.loops.current(followups.keys())
    changed: list[Loop] = []
    events: list[LoopEvent] = []
    for (source, response_id), items in sorted(followups.items()):
        loop = derive(source, response_id, items)
        before = stored.get((source, response_id))
        if before == loop:
            continue
        changed.append(loop)
        moves = transitions(before, loop, items, now)
        events.extend(moves)
        stats.changed += bool(moves)
    store.loops.save(changed, events, now)
    stats.events = len(events)
    return stats


def follow_loops(
    store: StateStore,
    crm: TaskStates,
    retry: RetryPolicy,
    now: datetime,
    *,
    follow_for: timedelta,
    made_before: datetime | None = None,
    outcome_field: Callable[[], str] = str,
) -> LoopStats:
    """Read the open Tasks, then bring every loop of the last ``follow_for`` up to date.

    Tasks made from ``made_before`` on (the pass that made them) are not read yet: nobody has
    worked on them, and a pass that creates Tasks spends no query on them.
    """
    since = now - follow_for
    read = read_tasks(store, crm, retry, now, since=since, before=made_before or now,
                      outcome_field=outcome_field)  # fmt: skip
    stats = update_loops(store, now, since=since)
    stats.tasks_read = read
    log.debug("loops: %d Tasks read, %d loops changed", read, stats.changed)
    return stats
