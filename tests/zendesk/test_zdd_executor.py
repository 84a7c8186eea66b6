"""The ticket executor against the emulator: never twice, attach instead of duplicate, context."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from emulators.zendesk import ZendeskEmulator
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import (
    ACME_ORG,
    ANA,
    BEN,
    CAL,
    FAST_RETRY,
    GLOBEX_ORG,
    Outbox,
    our_tickets,
    ticket_payload,
)


def executor(
    desk: ZendeskConnector, store: StateStore | None, outbox: Outbox, **settings: Any
) -> ZendeskTicketExecutor:
    return ZendeskTicketExecutor(
        desk, FAST_RETRY, store=store, settings=TicketSettings(**settings), clock=lambda: outbox.now
    )


def comments_with(emulator: ZendeskEmulator, ticket_id: int, key: str) -> int:
    return sum(marker(key) in c["body"] for c in emulator.comments(ticket_id))


# -- never twice -----------------------------------------------------------------------------------
@pytest.mark.parametrize("burst", [1, 3], ids=["single create", "create_many job"])
def test_a_crash_between_create_and_record_never_makes_a_second_ticket(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox, burst: int
) -> None:
    people = [ANA, BEN, CAL][:burst]
    keys = [outbox.add(p, ticket_payload(p)) for p in people]
    run = executor(desk, store, outbox)

    first = outbox.claim()
    created = run.execute(first)  # the worker dies here: nothing is recorded
    assert [o.result for o in created] == ["done"] * burst
    assert outbox.claim(owner="worker-2") == []  # still leased to the dead worker

    outbox.pass_lease()
    second = outbox.claim(owner="worker-2")
    assert sorted(a.key for a in second) == sorted(keys)
    assert all(a.attempts == 2 for a in second)
    outcomes = run.execute(second)
    outbox.record(second, outcomes, owner="worker-2")

    assert all(o.result == "done" and o.found_existing for o in outcomes)
    assert {o.external_id for o in outcomes} == {o.external_id for o in created}
    assert sorted(t["external_id"] for t in our_tickets(emulator)) == sorted(keys)
    assert {a.status for a in store.outbox.actions()} == {"done"}


def test_a_create_whose_answer_is_lost_is_not_repeated(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    key = outbox.add(ANA, ticket_payload(ANA))
    emulator.inject(Fault("late", count=1, endpoint="^tickets_create$", hang_seconds=0.01))

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert outcome.result == "done"
    (ticket,) = our_tickets(emulator)
    assert (ticket["external_id"], str(ticket["id"])) == (key, outcome.external_id)


def test_a_single_create_sends_its_key_as_idempotency_key(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    outbox.add(ANA, ticket_payload(ANA))
    (action,) = outbox.claim()
    run = executor(desk, store, outbox, context_template="")
    (first,) = run.execute([action])
    # The same request again (a retry after a lost answer) gets the first ticket back.
    (again,) = run.execute([action])
    assert again.external_id == first.external_id
    assert len(our_tickets(emulator)) == 1


# -- what a ticket carries -------------------------------------------------------------------------
def test_tickets_carry_type_group_assignee_fields_and_plain_text(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    emulator.add_api_token("lead@acme.example", "x")  # an admin to assign to
    arr_field = emulator.add_ticket_field("Account ARR", "decimal")
    tier_field = emulator.add_ticket_field("Account Tier", "text")
    group_id = next(g["id"] for g in emulator.groups() if g["name"] == "Customer Success")
    account = {"name": "Acme Corp", "tier": "Enterprise", "arr": 250000.0}
    payload = ticket_payload(
        ANA,
        group_id=group_id,
        assignee="Lead@acme.example",
        ticket_type="problem",
        account=account,
    )
    outbox.add(ANA, payload)
    titles = {
        "score": "NPS Score",
        "category": "NPS Category",
        "response_link": "NPS Response Link",
        "account_arr": "Account ARR",
        "account_tier": "Account Tier",
    }
    (outcome,) = outbox.run(executor(desk, store, outbox, field_titles=titles))

    ticket = emulator.ticket(int(outcome.external_id))
    lead = next(u for u in emulator.users() if u["email"] == "lead@acme.example")
    assert (ticket["type"], ticket["group_id"], ticket["assignee_id"]) == (
        "problem",
        group_id,
        lead["id"],
    )
    assert (ticket["requester_id"], ticket["organization_id"]) == (ANA.user_id, ACME_ORG)
    values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
    assert values[emulator.ticket_field_id("NPS Score")] == 3
    assert values[emulator.ticket_field_id("NPS Category")] == "detractor"
    assert values[emulator.ticket_field_id("NPS Response Link")] == "https://delighted.example/r/1"
    assert (values[arr_field], values[tier_field]) == (250000.0, "Enterprise")
    (first,) = emulator.comments(ticket["id"])
    assert first["public"] is False  # an internal note: the customer is not emailed
    assert first["body"].startswith("Ana Acme answered 3.")
    assert "Account: Acme Corp (Enterprise)" in first["body"]


def test_an_assignee_who_is_not_an_agent_fails_the_action_for_good(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    outbox.add(ANA, ticket_payload(ANA, assignee=BEN.email))
    (outcome,) = outbox.run(executor(desk, store, outbox))
    assert outcome.result == "dead"
    assert "not an agent" in outcome.error
    assert our_tickets(emulator) == []


def test_the_body_carries_score_history_and_open_tickets(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    earlier = outbox.now - timedelta(days=90)
    outbox.add(ANA, ticket_payload(ANA, score=8), score=8, created_at=earlier)
    outbox.run(executor(desk, store, outbox, context_template=""))  # one open ticket of Ana's
    outbox.add(ANA, ticket_payload(ANA, score=2), score=2)

    outcomes = outbox.run(executor(desk, store, outbox))

    ticket_id = int(outcomes[0].external_id)
    body = emulator.comments(ticket_id)[0]["body"]
    (first_ticket,) = [t for t in our_tickets(emulator) if t["id"] != ticket_id]
    assert "Open tickets of the requester: 1\n" in body
    assert f"- #{first_ticket['id']} {first_ticket['subject']}\n" in body
    history = body.split("Score history (oldest first):\n")[1].split("\n")[:2]
    assert history == [
        f"- {earlier.date().isoformat()}: 8",
        f"- {(outbox.now - timedelta(minutes=10)).date().isoformat()}: 2 (this answer)",
    ]
    assert f"- {earlier.date().isoformat()} (8, earlier): " in body


def test_context_needs_one_request_per_hundred_requesters(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    for person in (ANA, BEN, CAL):
        outbox.add(person, ticket_payload(person))
    emulator.reset_counters()
    outbox.run(executor(desk, store, outbox))
    calls = dict(emulator.calls)
    assert calls.pop("users_show_many") == 1
    assert calls.pop("tickets_create_many") == 1
    assert calls.pop("ticket_fields") == 1  # names, resolved once per executor
    assert set(calls) == {"job_statuses_show_many"}


# -- attach, don't duplicate -----------------------------------------------------------------------
def test_a_second_response_with_an_open_ticket_becomes_a_comment(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    run = executor(desk, store, outbox)
    outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Slow."))
    (first,) = outbox.run(run)
    second_key = outbox.add(ANA, ticket_payload(ANA, attach=True, comment="Still slow."))

    (second,) = outbox.run(run)

    assert (second.result, second.external_id) == ("done", first.external_id)
    assert len(our_tickets(emulator)) == 1
    ticket_id = int(first.external_id)
    assert comments_with(emulator, ticket_id, second_key) == 1
    comment = emulator.comments(ticket_id)[-1]["body"]
    assert "Still slow." in comment
    # The context lists the requester's other open tickets, not the one it is posted on.
    assert "Open tickets of the requester: 0\n" in comment
    assert f"#{ticket_id} " not in comment
    assert {a.external_id for a in store.outbox.actions()} == {first.external_id}


def test_a_comment_is_not_added_twice_after_a_crash(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    run = executor(desk, store, outbox)
    outbox.add(ANA, ticket_payload(ANA, attach=True))
    (first,) = outbox.run(run)
    key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    claimed = outbox.claim()
    run.execute(claimed)  # comments, then the worker dies before recording

    outbox.pass_lease()
    (outcome,) = outbox.run(run)

    assert (outcome.result, outcome.external_id) == ("done", first.external_id)
    assert comments_with(emulator, int(first.external_id), key) == 1
    assert len(our_tickets(emulator)) == 1


@pytest.mark.parametrize(
    ("change", "attached"),
    [
        ("nothing", True),
        ("solved", False),
        ("outside the window", False),
        ("no attach_to_open", False),
    ],
)
def test_what_is_attached_to(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    change: str,
    attached: bool,
) -> None:
    run = executor(desk, store, outbox, attach_window=timedelta(days=7))
    outbox.add(ANA, ticket_payload(ANA, attach=True))
    (first,) = outbox.run(run)
    if change == "solved":
        emulator.solve_ticket(int(first.external_id))
    if change == "outside the window":
        outbox.now += timedelta(days=8)
    outbox.add(ANA, ticket_payload(ANA, attach=change != "no attach_to_open"))

    run.begin_pass()
    (second,) = outbox.run(run)

    assert second.result == "done"
    assert (second.external_id == first.external_id) is attached
    assert len(our_tickets(emulator)) == (1 if attached else 2)


@pytest.mark.parametrize(("scope", "tickets"), [("requester", 2), ("organization", 1)])
def test_the_attach_scope_may_be_the_organization(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    scope: str,
    tickets: int,
) -> None:
    run = executor(desk, store, outbox, attach_scope=scope)
    outbox.add(ANA, ticket_payload(ANA, attach=True))
    outbox.run(run)
    outbox.add(BEN, ticket_payload(BEN, attach=True))  # Ben works at Acme too
    outbox.add(CAL, ticket_payload(CAL, attach=True))  # Cal does not

    outbox.run(run)

    assert len(our_tickets(emulator)) == tickets + 1
    orgs = sorted(t["organization_id"] for t in our_tickets(emulator))
    assert orgs == sorted([ACME_ORG] * tickets + [GLOBEX_ORG])


def test_two_responses_in_one_batch_open_one_ticket(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    first_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    second_key = outbox.add(ANA, ticket_payload(ANA, attach=True))

    outcomes = {o.key: o for o in outbox.run(executor(desk, store, outbox))}

    (ticket,) = our_tickets(emulator)
    assert ticket["external_id"] == first_key
    assert outcomes[second_key].external_id == str(ticket["id"])
    assert comments_with(emulator, ticket["id"], second_key) == 1


def test_a_batch_cut_short_after_opening_a_ticket_joins_it_on_the_next_attempt(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    first_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    second_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    run = executor(desk, store, outbox)
    emulator.inject(Fault("500", count=100, endpoint="^tickets_update"))
    run.execute(outbox.claim())  # the ticket is made, the comment is not; the worker dies
    emulator.clear_faults()

    outbox.pass_lease()
    second = outbox.claim(owner="worker-2")
    outcomes = {o.key: o for o in run.execute(second)}

    (ticket,) = our_tickets(emulator)
    assert ticket["external_id"] == first_key
    assert outcomes[first_key].found_existing
    assert outcomes[second_key].external_id == str(ticket["id"])
    assert comments_with(emulator, ticket["id"], second_key) == 1


# -- requesters ------------------------------------------------------------------------------------
def test_an_unknown_requester_is_created_with_the_account_organization(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    email = "new.person@acme.example"
    outbox.add(None, ticket_payload(None, email=email), email=email)
    run = executor(desk, store, outbox)

    (outcome,) = outbox.run(run)

    user = next(u for u in emulator.users() if u["email"] == email)
    assert user["organization_id"] == ACME_ORG  # from the Salesforce account's mirror
    ticket = emulator.ticket(int(outcome.external_id))
    assert (ticket["requester_id"], ticket["organization_id"]) == (user["id"], ACME_ORG)

    # Running it again for another response: the same user, not a second one.
    outbox.add(None, ticket_payload(None, email=email), email=email)
    outbox.run(run)
    assert [u["email"] for u in emulator.users()].count(email) == 1


# -- rate limits -----------------------------------------------------------------------------------
def test_a_rate_limit_longer_than_the_budget_defers_the_batch(
    emulator: ZendeskEmulator, make_connector: Any, store: StateStore, outbox: Outbox
) -> None:
    desk = make_connector(wait_budget_seconds=5)
    outbox.add(ANA, ticket_payload(ANA))
    emulator.inject(Fault("429", count=1, endpoint="ticket_fields", retry_after=120))

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert outcome.result == "defer"
    assert outcome.not_before is not None
    (action,) = store.outbox.actions()
    assert (action.status, action.failures) == ("pending", 0)
    assert our_tickets(emulator) == []
