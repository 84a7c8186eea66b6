"""Cooldowns and settle delays in the route stage, on both state store backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules import Cooldown, Decision, RuleMatch, parse_rules
from sync.loop.throttle import CooldownKey, CooldownLedger, cooldown_value, settle_until
from sync.state import StateStore
from tests.routing.helpers import T0, account, days, ingest, matched, response, route_pending

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
rules:
  - name: detractors
    when: {category: detractor}
    actions: [ticket]
    cooldown: {key: account.id, period: 14d}
    continue: true
  - name: call-detractors
    when: {category: detractor}
    actions: [call]
  - name: passives
    when: {category: passive}
    actions: [call]
    settle: 15m
"""
)
ACME, GLOBEX = account(1), account(2)


def match_of(rule: str, settle: timedelta | None) -> RuleMatch:
    return RuleMatch(rule, 0, ("a",), False, None, settle, ())


@pytest.mark.parametrize(
    ("settles", "age", "waits_until"),
    [
        ((), timedelta(0), None),
        ((timedelta(minutes=15),), timedelta(minutes=5), timedelta(minutes=15)),
        ((timedelta(minutes=15),), timedelta(minutes=15), None),
        (
            (timedelta(minutes=5), timedelta(minutes=30)),
            timedelta(minutes=10),
            timedelta(minutes=30),
        ),
        ((None, timedelta(minutes=5)), timedelta(minutes=1), timedelta(minutes=5)),
    ],
)
def test_settle_waits_for_the_longest_delay_from_submission(
    settles: tuple[timedelta | None, ...], age: timedelta, waits_until: timedelta | None
) -> None:
    decision = Decision("h", tuple(match_of(f"r{i}", s) for i, s in enumerate(settles)))
    expected = T0 + waits_until if waits_until is not None else None
    assert settle_until(decision, T0, T0 + age) == expected


@pytest.mark.parametrize(
    ("value", "stored"),
    [(None, None), ("", None), ("  ", None), ("001A", "001A"), (7, "7"), (True, "true")],
)
def test_cooldown_keys_as_stored(value: object, stored: str | None) -> None:
    assert cooldown_value(value) == stored


def test_ledger_allows_one_claim_per_period_in_either_direction() -> None:
    ledger = CooldownLedger()
    acme = CooldownKey("r", Cooldown("account.id", days(14)), "acme")
    assert ledger.blocker(acme, "s", "1", T0) is None
    ledger.claim(acme, "s", "1", T0)
    blocker = ledger.blocker(acme, "s", "2", T0 + days(13))
    assert blocker is not None
    assert blocker.response_id == "1"
    # A response submitted earlier but routed later is inside the period too.
    assert ledger.blocker(acme, "s", "0", T0 - days(1)) is not None
    assert ledger.blocker(acme, "s", "3", T0 + days(14)) is None
    # Other key values and other rules have their own cooldowns.
    assert ledger.blocker(CooldownKey("r", acme.cooldown, "globex"), "s", "4", T0) is None
    assert ledger.blocker(CooldownKey("other", acme.cooldown, "acme"), "s", "5", T0) is None
    # The holder of a claim keeps it (an edited response routed again), and claims once.
    assert ledger.blocker(acme, "s", "1", T0) is None
    ledger.claim(acme, "s", "1", T0)
    assert len(ledger.new) == 1


def test_cooldown_skips_a_second_ticket_for_the_account_across_passes(store: StateStore) -> None:
    ingest(store, response("1", "ann@acme.test", 2, T0, "slow"), now=T0)
    first = route_pending(store, RULES, {"ann@acme.test": matched("ann@acme.test", ACME)}, T0)
    assert [i.action for i in first[0].intents] == ["ticket", "call"]

    later = T0 + days(3)
    ingest(
        store,
        response("2", "bob@acme.test", 3, later),
        response("3", "eve@globex.test", 1, later),
        now=later,
    )
    matches = {
        "bob@acme.test": matched("bob@acme.test", ACME, number=2),
        "eve@globex.test": matched("eve@globex.test", GLOBEX, number=3),
    }
    second = {o.response_id: o for o in route_pending(store, RULES, matches, later)}
    # The other rule of the same response still acts; the other account is not affected.
    assert [i.action for i in second["2"].intents] == ["call"]
    assert second["2"].decision["notes"] == [
        f"detractors: skipped: cooldown: account.id={ACME.id} acted on for response test/1 of "
        f"{T0.isoformat()} (one per 14d)"
    ]
    assert [i.action for i in second["3"].intents] == ["ticket", "call"]

    # Outside the period, the account gets a ticket again.
    much_later = T0 + days(15)
    ingest(store, response("4", "bob@acme.test", 0, much_later), now=much_later)
    matches = {"bob@acme.test": matched("bob@acme.test", ACME, number=2)}
    (third,) = route_pending(store, RULES, matches, much_later)
    assert [i.action for i in third.intents] == ["ticket", "call"]


def test_an_edited_response_keeps_its_claim_without_repeating_actions(store: StateStore) -> None:
    matches = {"ann@acme.test": matched("ann@acme.test", ACME)}
    ingest(store, response("1", "ann@acme.test", 2, T0), now=T0)
    route_pending(store, RULES, matches, T0)
    edited = response("1", "ann@acme.test", 2, T0, "No call", edited=T0 + timedelta(hours=1))
    ingest(store, edited, now=T0 + timedelta(hours=1))
    (again,) = route_pending(store, RULES, matches, T0 + timedelta(hours=1))
    assert [i.action for i in again.intents] == ["ticket", "call"]
    assert again.decision["notes"] == []
    assert len(store.outbox.actions()) == 2  # the same keys: nothing new in the outbox


def test_a_settling_response_is_deferred_then_routed_once(store: StateStore) -> None:
    matches = {"pat@acme.test": matched("pat@acme.test", ACME)}
    ingest(store, response("9", "pat@acme.test", 8, T0), now=T0)
    assert route_pending(store, RULES, matches, T0 + timedelta(minutes=2)) == []
    assert store.inbox.pending(10, T0 + timedelta(minutes=14)) == []

    # The comment arrives while the response settles: still deferred until 15 min after T0.
    edited = response("9", "pat@acme.test", 8, T0, "Slow", edited=T0 + timedelta(minutes=4))
    ingest(store, edited, now=T0 + timedelta(minutes=4))
    assert route_pending(store, RULES, matches, T0 + timedelta(minutes=5)) == []

    (routed,) = route_pending(store, RULES, matches, T0 + timedelta(minutes=15))
    assert [i.action for i in routed.intents] == ["call"]
    assert store.inbox.pending(10, T0 + days(1)) == []
    assert len(store.outbox.actions()) == 1


def test_a_response_that_could_not_act_does_not_hold_the_cooldown(store: StateStore) -> None:
    no_requester = matched("ann@acme.test", ACME)
    no_requester = type(no_requester)(
        no_requester.status, no_requester.method, no_requester.contact, ACME, None, 1
    )
    ingest(store, response("1", "ann@acme.test", 2, T0), now=T0)
    (first,) = route_pending(store, RULES, {"ann@acme.test": no_requester}, T0)
    assert [i.action for i in first.intents] == ["call"]
    (note,) = first.decision["notes"]
    assert note.startswith("detractors/ticket: skipped: ")  # no Zendesk requester
    later = T0 + days(1)
    ingest(store, response("2", "bob@acme.test", 3, later), now=later)
    matches = {"bob@acme.test": matched("bob@acme.test", ACME, number=2)}
    (second,) = route_pending(store, RULES, matches, later)
    assert [i.action for i in second.intents] == ["ticket", "call"]


def test_a_window_reads_the_claims_that_can_block_it_at_either_end(store: StateStore) -> None:
    """The batch answered on days 34 and 40 reads only claims of answers given within the
    14-day period of either: one just inside each end blocks, one exactly a period away and
    years of older ones do not."""
    hour = timedelta(hours=1)
    early = [response(f"old{n}", f"p{n}@acme.test", 1, T0 - days(15 * n)) for n in range(1, 30)]
    claims = [
        ("ann@acme.test", ACME, T0 + days(20) + hour),  # 13.96 days before bob: blocks him
        ("kim@globex.test", GLOBEX, T0 + days(54) - hour),  # 13.96 days after eve: blocks her
        ("lou@initech.test", account(3), T0 + days(20)),  # exactly 14 days before ray: no block
    ]
    for n, (email, acct, at) in enumerate(claims):
        ingest(store, response(f"c{n}", email, 2, at), now=at)
        route_pending(store, RULES, {email: matched(email, acct, number=10 + n)}, at)
    for old in early:
        ingest(store, old, now=old.created_at)
        route_pending(store, RULES, {old.email: matched(old.email, ACME)}, old.created_at)
    assert len(store.cooldowns.claims([("detractors", ACME.id)])) == 1 + 29

    now = T0 + days(60)
    batch = [
        response("bob", "bob@acme.test", 3, T0 + days(34)),
        response("ray", "ray@initech.test", 3, T0 + days(34)),
        response("eve", "eve@globex.test", 1, T0 + days(40)),
    ]
    ingest(store, *batch, now=now)
    matches = {
        "bob@acme.test": matched("bob@acme.test", ACME, number=2),
        "ray@initech.test": matched("ray@initech.test", account(3), number=4),
        "eve@globex.test": matched("eve@globex.test", GLOBEX, number=3),
    }
    routed = {o.response_id: o for o in route_pending(store, RULES, matches, now)}

    assert [i.action for i in routed["bob"].intents] == ["call"]
    assert [i.action for i in routed["eve"].intents] == ["call"]
    assert [i.action for i in routed["ray"].intents] == ["ticket", "call"]
    span = (T0 + days(20), T0 + days(54))
    assert {
        c.response_id
        for c in store.cooldowns.claims(
            [("detractors", ACME.id), ("detractors", GLOBEX.id), ("detractors", account(3).id)],
            between=span,
        )
    } == {"c0", "c1", "ray"}
