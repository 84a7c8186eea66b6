"""Responses too old to act on when routed: decided and recorded, counted, never acted on."""

from __future__ import annotations

from dataclasses import replace

from rules import parse_rules
from sync.loop.escalation.plan import planned_steps
from sync.state import StateStore
from tests.routing.helpers import (
    CONTEXT,
    T0,
    account,
    days,
    ingest,
    matched,
    response,
    route_pending,
)

RULES = parse_rules(
    """
version: 1
actions:
  ticket:
    type: zendesk_ticket
    subject: "NPS {{ response.score }} at {{ account.name }}"
    body: "{{ response.comment }}"
    group: Customer Success
  call:
    type: salesforce_task
    subject: "Call {{ contact.name }}"
    due_in: 1d
  flag:
    type: update_fields
    system: salesforce
    object: Account
    values: {At_Risk__c: true}
  manager:
    type: notify
    channel: slack
    webhook_env: SLACK_HOOK
    text: "{{ account.name }} is unhappy"
rules:
  - name: detractors
    when: {category: detractor}
    actions: [ticket, call, flag, manager]
    cooldown: {key: account.id, period: 14d}
    escalate: [{after: 1d, action: manager}]
"""
)
ACME = account(1)
WEEK = replace(CONTEXT, act_window=days(7))
NOTE = (
    "too old to act on: answered 2024-02-24, 9 days ago; acts only on responses newer than 7d "
    "(routing.act_on_responses_newer_than)"
)


def test_an_old_answer_is_recorded_and_counted_but_nothing_is_done(store: StateStore) -> None:
    ann = matched("ann@acme.test", ACME)
    ingest(store, response("old", "ann@acme.test", 2, T0 - days(9), "slow"), now=T0)
    (outcome,) = route_pending(store, RULES, {"ann@acme.test": ann}, T0, WEEK)
    assert (outcome.too_old, list(outcome.intents)) == (True, [])
    assert planned_steps(RULES, [outcome]) == []
    assert outcome.decision["rules"] == ["detractors"]
    assert outcome.decision["actions"] == []
    assert outcome.decision["notes"] == [NOTE]
    assert store.outbox.counts() == {}
    assert store.inbox.too_old_count() == 1
    queued = store.write_backs.queued()  # its score still counts in the NPS fields
    assert ann.contact is not None
    assert (set(queued.contacts), set(queued.accounts)) == ({ann.contact.id}, {ACME.id})


def test_an_old_answer_claims_no_cooldown(store: StateStore) -> None:
    """Five days apart by submission, inside the 14-day cooldown: only a claim could block."""
    people = {"ann@acme.test": matched("ann@acme.test", ACME)}
    people["bob@acme.test"] = matched("bob@acme.test", ACME, number=2)
    ingest(store, response("old", "ann@acme.test", 2, T0 - days(8)), now=T0)
    ingest(store, response("new", "bob@acme.test", 1, T0 - days(3)), now=T0)
    outcomes = {o.response_id: o for o in route_pending(store, RULES, people, T0, WEEK)}
    assert outcomes["old"].too_old
    assert not outcomes["new"].too_old
    assert sorted(i.action for i in outcomes["new"].intents) == [
        "call",
        "flag",
        "manager",
        "ticket",
    ]
    assert len(planned_steps(RULES, [outcomes["new"]])) == 2  # the ticket's and the call's


def test_an_edit_counts_from_the_original_submission(store: StateStore) -> None:
    ann = {"ann@acme.test": matched("ann@acme.test", ACME)}
    ingest(store, response("r", "ann@acme.test", 2, T0 - days(6)), now=T0)
    (first,) = route_pending(store, RULES, ann, T0, WEEK)
    assert not first.too_old
    acted = {i.key for i in first.intents}
    # The comment arrives two days later: the answer is now eight days old, and its edit is not
    # news. What was done stays done; nothing more is done.
    later = T0 + days(2)
    ingest(store, response("r", "ann@acme.test", 2, T0 - days(6), "slow", edited=later), now=later)
    (edited,) = route_pending(store, RULES, ann, later, WEEK)
    assert (edited.too_old, list(edited.intents)) == (True, [])
    assert {a.key for a in store.outbox.actions()} == acted
