"""A response's ticket waits for its Task, names it, and queues the link back to it."""

from __future__ import annotations

from datetime import timedelta

from connectors.zendesk.client import ZendeskConnector
from emulators.zendesk import ZendeskEmulator
from sync.stages.executors.task_links import KIND as LINK_KIND
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.state import ActionIntent, ActionResult, StateStore
from tests.zendesk.conftest import ANA, FAST_RETRY, Outbox, our_tickets, ticket_payload

INSTANCE = "https://acme.my.salesforce.com"
TASK_ID = "00T5g000000AbCdEAF"


def executor(desk: ZendeskConnector, store: StateStore, outbox: Outbox) -> ZendeskTicketExecutor:
    settings = TicketSettings(task_instance_url=INSTANCE)
    return ZendeskTicketExecutor(
        desk, FAST_RETRY, store=store, settings=settings, clock=lambda: outbox.now
    )


def queue_task(store: StateStore, outbox: Outbox, response_id: str, *, age: timedelta) -> str:
    """The Task routing queued with the ticket (``age`` ago)."""
    key = "7" * 40
    payload = {
        "subject": "Call Ana",
        "description": "",
        "owner_id": "0055g000000Owner1AAA",
        "owner_name": "Olive Owner",
    }
    intent = ActionIntent(
        key, "delighted", response_id, "detractors", "call", "salesforce_task", payload, "hash"
    )
    store.outbox.enqueue([intent], outbox.now - age)
    return key


def finish_task(store: StateStore, outbox: Outbox) -> None:
    (claimed,) = store.outbox.claim(
        "crm", limit=1, lease=timedelta(minutes=5), now=outbox.now, kinds=["salesforce_task"]
    )
    store.outbox.record_results("crm", [ActionResult.done(claimed.key, TASK_ID)], outbox.now)


def test_the_ticket_waits_for_the_task_then_names_it_and_queues_the_link(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    key = outbox.add(ANA, ticket_payload(ANA))
    (ticket_action,) = store.outbox.actions(keys=[key])
    queue_task(store, outbox, ticket_action.response_id, age=timedelta(0))

    (waiting,) = outbox.run(executor(desk, store, outbox))
    assert waiting.result == "defer"
    assert waiting.error == "waiting for the Salesforce Task of the same response"
    assert our_tickets(emulator) == []

    finish_task(store, outbox)
    outbox.now += timedelta(minutes=2)
    (made,) = outbox.run(executor(desk, store, outbox))
    assert made.result == "done"
    body = emulator.comments(int(made.external_id))[0]["body"]
    assert f"Salesforce Task: {INSTANCE}/lightning/r/Task/{TASK_ID}/view (owner: Olive Owner)" in (
        body
    )
    (link,) = [a for a in store.outbox.actions() if a.kind == LINK_KIND]
    assert (link.status, link.payload["task_id"], link.payload["ticket_key"]) == (
        "pending",
        TASK_ID,
        key,
    )


def test_a_ticket_does_not_wait_past_the_limit_for_a_task_salesforce_holds_back(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    key = outbox.add(ANA, ticket_payload(ANA))
    (ticket_action,) = store.outbox.actions(keys=[key])
    queue_task(store, outbox, ticket_action.response_id, age=timedelta(hours=2))

    (made,) = outbox.run(executor(desk, store, outbox))
    assert made.result == "done"
    body = emulator.comments(int(made.external_id))[0]["body"]
    assert "Salesforce Task:" not in body
    assert [a for a in store.outbox.actions() if a.kind == LINK_KIND] == []
