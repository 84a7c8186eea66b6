"""Escalation steps: planned at routing, scheduled when the original is done, fired when due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from rules import Ruleset, parse_rules
from sync.loop.escalation import (
    AnyResolution,
    EscalationStats,
    Original,
    ResolutionCheck,
    TrackedTicketStatus,
    escalate_due,
    mark_resolved,
    plan_escalations,
)
from sync.stages.route import EscalationRendering, RoutingContext, route_responses
from sync.state import StateStore
from sync.state import schema as t
from tests.routing.helpers import CONTEXT, T0, account, ingest, matched, response

RULES_TEXT = """
version: 1
actions:
  call:
    type: salesforce_task
    subject: "Call {{ contact.name }}"
    due_in: 1d
  ticket:
    type: zendesk_ticket
    subject: "Detractor at {{ account.name }}"
    body: "{{ response.comment }}"
  cx_channel:
    type: notify
    channel: slack
    webhook_env: CX_WEBHOOK
    text: "Nobody followed up on {{ contact.name }} ({{ response.score }}) at {{ account.name }}"
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call, ticket]
    escalate:
      - {after: 4h, business_hours: true, action: cx_channel}
"""
RULES = parse_rules(RULES_TEXT)
EMAILS = ("ann@acme.test", "bob@acme.test", "cy@acme.test")
MATCHES = {email: matched(email, account(1), number=n) for n, email in enumerate(EMAILS)}


def context() -> RoutingContext:
    return CONTEXT


def escalate(
    store: StateStore,
    ruleset: Ruleset,
    now: datetime,
    resolution: ResolutionCheck | None = None,
) -> EscalationStats:
    """Fire due steps as the act stage does, rendering under ``ruleset``."""
    render = EscalationRendering(store, ruleset, context, now)
    return escalate_due(store, now, render=render, resolution=resolution)


class ClosedTasks:
    """A resolution check that knows which task ids are closed."""

    def __init__(self, closed: set[str]) -> None:
        self.closed = closed
        self.asked: list[str] = []

    def resolved(self, originals: Sequence[Original]) -> set[str]:
        self.asked.extend(o.key for o in originals)
        return {o.key for o in originals if o.external_id in self.closed}


def route_and_complete(store: StateStore) -> dict[tuple[str, str], str]:
    """Route three detractors at T0 and complete their actions; (response, action) -> key."""
    ingest(store, *(response(str(n), e, 2, T0, "bad") for n, e in enumerate(EMAILS)), now=T0)
    batch = store.inbox.pending(10, T0)
    keyed = {("test", s.response.response_id): MATCHES[s.response.email] for s in batch}
    outcomes = route_responses(batch, keyed, RULES, CONTEXT, store, now=T0)
    assert plan_escalations(store, RULES, outcomes, T0) == 6  # 3 responses x (task, ticket)
    store.record_routing(outcomes, T0)
    done = T0 + timedelta(minutes=5)
    keys = {}
    for claimed in store.outbox.claim("w", limit=10, lease=timedelta(minutes=5), now=done):
        store.outbox.complete(claimed.key, "w", f"ext-{claimed.key[:6]}", done)
        keys[(claimed.response_id, claimed.payload.get("subject", "")[:4])] = claimed.key
    return {(rid, "call" if what == "Call" else "ticket"): key for (rid, what), key in keys.items()}


def statuses(store: StateStore) -> dict[tuple[str, str], str]:
    e = t.escalations
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.response_id, e.c.action_key, e.c.status)).all()
    return {(row.response_id, row.action_key): row.status for row in rows}


def test_steps_fire_for_open_originals_once_and_not_for_resolved_ones(store: StateStore) -> None:
    keys = route_and_complete(store)
    # Response 1: its task is closed in Salesforce and its ticket solved: resolved.
    closed = ClosedTasks({f"ext-{keys[('1', 'call')][:6]}"})
    mark_resolved(store, [keys[("1", "ticket")], keys[("2", "ticket")]], T0 + timedelta(hours=1))
    # Response 2: only its ticket is solved; the open task still escalates.

    # Done at Monday 10:05; four business hours later is 14:05.
    early = escalate(store, RULES, T0 + timedelta(hours=4), resolution=closed)
    assert (early.scheduled, early.fired) == (6, 0)
    assert set(statuses(store).values()) == {"scheduled"}

    due = escalate(store, RULES, T0 + timedelta(hours=4, minutes=5), resolution=closed)
    assert (due.fired, due.resolved, due.cancelled) == (2, 3, 0)
    fired = [a for a in store.outbox.actions(status="pending") if a.kind == "notify"]
    assert sorted(a.response_id for a in fired) == ["0", "2"]
    assert fired[0].rule == "detractors"
    assert fired[0].action == "cx_channel"
    assert fired[0].payload["webhook_env"] == "CX_WEBHOOK"
    assert fired[0].payload["text"] == "Nobody followed up on Doe (2) at Account 1"
    after = statuses(store)
    assert after[("1", keys[("1", "call")])] == "resolved"
    assert after[("2", keys[("2", "call")])] == "fired"
    assert after[("0", keys[("0", "ticket")])] == "fired"

    # Steps that fired or resolved are done with; nothing fires twice.
    again = escalate(store, RULES, T0 + timedelta(days=3), resolution=closed)
    assert (again.fired, again.resolved) == (0, 0)
    assert len([a for a in store.outbox.actions() if a.kind == "notify"]) == 2


def test_a_failed_original_cancels_its_step(store: StateStore) -> None:
    ingest(store, response("0", EMAILS[0], 1, T0), now=T0)
    batch = store.inbox.pending(10, T0)
    keyed = {("test", "0"): MATCHES[EMAILS[0]]}
    outcomes = route_responses(batch, keyed, RULES, CONTEXT, store, now=T0)
    plan_escalations(store, RULES, outcomes, T0)
    store.record_routing(outcomes, T0)
    claimed = {c.kind: c for c in store.outbox.claim("w", limit=9, lease=timedelta(1), now=T0)}
    store.outbox.kill(claimed["zendesk_ticket"].key, "w", "rejected", T0)
    store.outbox.complete(claimed["salesforce_task"].key, "w", "00T1", T0)

    stats = escalate(store, RULES, T0 + timedelta(days=2))
    assert (stats.scheduled, stats.fired) == (1, 1)
    after = statuses(store)
    assert after[("0", claimed["zendesk_ticket"].key)] == "cancelled"
    assert after[("0", claimed["salesforce_task"].key)] == "fired"


def test_a_step_whose_action_left_the_rules_is_cancelled(store: StateStore) -> None:
    ingest(store, response("0", EMAILS[0], 1, T0), now=T0)
    batch = store.inbox.pending(10, T0)
    outcomes = route_responses(
        batch, {("test", "0"): MATCHES[EMAILS[0]]}, RULES, CONTEXT, store, now=T0
    )
    plan_escalations(store, RULES, outcomes, T0)
    store.record_routing(outcomes, T0)
    for claimed in store.outbox.claim("w", limit=9, lease=timedelta(1), now=T0):
        store.outbox.complete(claimed.key, "w", "x", T0)
    renamed = parse_rules(RULES_TEXT.replace("cx_channel", "cx_room"))
    stats = escalate(store, renamed, T0 + timedelta(days=2))
    assert (stats.fired, stats.cancelled) == (0, 2)
    e = t.escalations
    with store.engine.connect() as conn:
        notes = set(conn.execute(sa.select(e.c.note)).scalars())
    assert notes == {"action 'cx_channel' is no longer in the rules"}


def test_tracked_ticket_status_and_task_status_together_resolve(store: StateStore) -> None:
    keys = route_and_complete(store)
    with store.engine.begin() as conn:
        conn.execute(
            t.ticket_status.insert(),
            [
                {
                    "action_key": keys[(rid, "ticket")],
                    "ticket_id": 100 + int(rid),
                    "status": status,
                    "reopened": 0,
                    "recorded_at": T0,
                }
                for rid, status in (("0", "solved"), ("1", "closed"), ("2", "open"))
            ],
        )
    tasks = ClosedTasks({f"ext-{keys[(rid, 'call')][:6]}" for rid in ("0", "1", "2")})
    check = AnyResolution((TrackedTicketStatus(store), tasks))
    stats = escalate(store, RULES, T0 + timedelta(days=1), resolution=check)
    assert (stats.fired, stats.resolved) == (1, 5)
    (fired,) = [a for a in store.outbox.actions() if a.kind == "notify"]
    assert fired.response_id == "2"
    # Tickets the tracking resolved are not asked of the next check.
    assert keys[("0", "ticket")] not in tasks.asked
