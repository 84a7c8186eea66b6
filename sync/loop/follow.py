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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from more_itertools import chunked

from connectors.salesforce.records import TaskState
from sync.core.config import LoopMirror, LoopSla
from sync.core.ports import TaskStates
from sync.core.retry import RetryPolicy
from sync.loop import mirror as mirror_kinds
from sync.loop.calendar import BusinessHours
from sync.loop.escalation.plan import SLA_FIRST_CONTACT_STEP, SLA_RESOLUTION_STEP
from sync.loop.mirror import mirror_intents
from sync.loop.sla import applies, deadlines, escalation_moment
from sync.loop.states import derive, outcome_code, transitions
from sync.state import StateStore
from sync.state.escalations import PlannedStep
from sync.state.loops import RESURVEY_KIND, Followup, Loop, LoopEvent, TaskStatusRow

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
    #: Escalation steps planned for the SLAs of new loops.
    sla_steps: int = 0
    #: Status mirrors queued (a Task to complete, a ticket note to add).
    mirrored: int = 0


#: Task ids per read: what one Salesforce query takes.
TASKS_PER_READ = 200


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
    states: dict[str, TaskState] = {}
    # Each query is retried on its own: retried as one, a read of thousands of Tasks would
    # need every one of its queries to succeed in a row, which a steady fault rate denies.
    for part in chunked(sorted(wanted), TASKS_PER_READ):
        states.update(retry.call(partial(crm.task_states, part, outcome_field=field)))
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


def update_loops(
    store: StateStore,
    now: datetime,
    *,
    since: datetime,
    slas: Sequence[LoopSla] = (),
    hours: BusinessHours | None = None,
    mirror: LoopMirror | None = None,
    queue_accounts: bool = False,
) -> LoopStats:
    """Derive the loop of every response with a Task or ticket made since ``since``; store the
    loops that changed and their transitions. A new loop gets the escalation steps of its SLA
    (:func:`plan_sla_steps`); a loop contacted or ended settles the ones it met. With
    ``queue_accounts`` (Account fields show loop figures), the accounts of the loops that
    changed are queued for a write-back."""
    stats = LoopStats()
    followups = store.loops.followups(since)
    if not followups:
        return stats
    mirrored = _mirrored_tasks(store, followups.keys())
    if mirrored:
        followups = {
            key: [replace(f, mirrored=f.key in mirrored) for f in items]
            for key, items in followups.items()
        }
    if mirror is not None:
        stats.mirrored = _mirror(store, followups, mirror, mirrored, now)
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
    fresh = {
        (lp.source, lp.response_id): followups[(lp.source, lp.response_id)]
        for lp in changed
        if (lp.source, lp.response_id) not in stored
    }
    if fresh and any(sla.escalate for sla in slas):
        stats.sla_steps = plan_sla_steps(store, fresh, slas, hours or BusinessHours(), now)
    store.loops.save(changed, events, now)
    if queue_accounts and changed:
        keys = [(lp.source, lp.response_id) for lp in changed]
        accounts = {f.account_id for f in store.loops.facts(keys=keys) if f.account_id}
        store.write_backs.queue(account_ids=accounts, now=now)
    ended = [(lp.source, lp.response_id) for lp in changed if lp.ended_at is not None]
    if ended:
        # A resurvey waits for its loop to end: it is due as soon as it has.
        store.outbox.wake(ended, [RESURVEY_KIND], now)
    met: list[tuple[str, int, datetime]] = []
    for lp in changed:
        first = _first(followups[(lp.source, lp.response_id)]).key
        if lp.contacted_at is not None or lp.ended_at is not None:
            at = lp.contacted_at or lp.ended_at
            assert at is not None
            met.append((first, SLA_FIRST_CONTACT_STEP, at))
        if lp.ended_at is not None:
            met.append((first, SLA_RESOLUTION_STEP, lp.ended_at))
    for key, step, at in met:
        store.escalations.resolve_steps([(key, step)], at)
    reopened = [
        (_first(followups[(lp.source, lp.response_id)]).key, SLA_RESOLUTION_STEP)
        for lp in changed
        if lp.ended_at is None
        and (before := stored.get((lp.source, lp.response_id))) is not None
        and before.ended_at is not None
    ]
    if reopened:  # a customer reopened the ticket: the resolution deadline counts again
        store.escalations.reopen_steps(reopened, now)
    stats.events = len(events)
    return stats


def _mirrored_tasks(store: StateStore, responses: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Keys of the Task actions the status mirror completed."""
    rows = store.outbox.of_responses(responses, [mirror_kinds.TASK_KIND])
    return frozenset(
        str(row.payload.get("task_key"))
        for found in rows.values()
        for row in found
        if row.status == "done"
    )


def _mirror(
    store: StateStore,
    followups: Mapping[tuple[str, str], Sequence[Followup]],
    mirror: LoopMirror,
    mirrored: frozenset[str],
    now: datetime,
) -> int:
    """Queue the status mirrors the Tasks and tickets call for; returns how many are new."""
    intents = [
        intent
        for (source, response_id), items in sorted(followups.items())
        for intent in mirror_intents(source, response_id, items, mirror, mirrored)
    ]
    if not intents:
        return 0
    known = store.outbox.existing(i.key for i in intents)
    return store.outbox.enqueue([i for i in intents if i.key not in known], now)


def _first(followups: Sequence[Followup]) -> Followup:
    return min(followups, key=lambda f: (f.created_at, f.key))


def plan_sla_steps(
    store: StateStore,
    fresh: Mapping[tuple[str, str], Sequence[Followup]],
    slas: Sequence[LoopSla],
    hours: BusinessHours,
    now: datetime,
) -> int:
    """Plan the escalation steps of new loops whose SLA escalates: one per deadline, on the
    loop's first Task or ticket, due ``escalate_before`` ahead of the deadline. They run like
    the rules' own escalation steps (:mod:`sync.loop.escalation`), keyed
    ``escalate:<step>:<action>``, and are settled as resolved when the loop meets the deadline.
    Returns the steps planned."""
    planned: list[PlannedStep] = []
    for facts in store.loops.facts(keys=fresh.keys()):
        first = _first(fresh[(facts.source, facts.response_id)])
        for sla in slas:
            if not applies(sla, facts.rules, facts.tier, facts.score):
                continue
            if sla.escalate is None:
                break
            due = deadlines([sla], hours, facts.answered_at, facts.rules, facts.tier, facts.score)
            assert due is not None
            for step, deadline in (
                (SLA_FIRST_CONTACT_STEP, due.first_contact),
                (SLA_RESOLUTION_STEP, due.resolution),
            ):
                if deadline is None:
                    continue
                fire_at = escalation_moment(sla, deadline, hours)
                planned.append(
                    PlannedStep(
                        action_key=first.key,
                        step=step,
                        source=facts.source,
                        response_id=facts.response_id,
                        rule=first.rule,
                        action=sla.escalate,
                        after=max(fire_at - first.created_at, timedelta(0)),
                        business_hours=False,
                    )
                )
            break
    store.escalations.plan(planned, now)
    return len(planned)


def follow_loops(
    store: StateStore,
    crm: TaskStates,
    retry: RetryPolicy,
    now: datetime,
    *,
    follow_for: timedelta,
    made_before: datetime | None = None,
    outcome_field: Callable[[], str] = str,
    slas: Sequence[LoopSla] = (),
    hours: BusinessHours | None = None,
    mirror: LoopMirror | None = None,
    queue_accounts: bool = False,
) -> LoopStats:
    """Read the open Tasks, then bring every loop of the last ``follow_for`` up to date.

    Tasks made from ``made_before`` on (the pass that made them) are not read yet: nobody has
    worked on them, and a pass that creates Tasks spends no query on them.
    """
    since = now - follow_for
    read = read_tasks(
        store, crm, retry, now, since=since, before=made_before or now, outcome_field=outcome_field
    )
    stats = update_loops(
        store,
        now,
        since=since,
        slas=slas,
        hours=hours,
        mirror=mirror,
        queue_accounts=queue_accounts,
    )
    stats.tasks_read = read
    log.debug("loops: %d Tasks read, %d loops changed", read, stats.changed)
    return stats
