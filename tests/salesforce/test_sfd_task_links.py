"""The links from Tasks to the tickets of the same responses, in bulk once a backlog is large."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulators.salesforce import SalesforceEmulator
from sync.stages.act import drain
from sync.stages.executors.customer_context import ticket_url
from sync.stages.executors.task_context import TICKET_LINE
from sync.stages.executors.task_links import KIND, TaskLinkExecutor, link_key
from sync.state import ActionIntent, ActionResult, StateStore
from tests.salesforce.conftest import ConnectorFactory
from tests.zendesk.conftest import FAST_RETRY

ZENDESK = "https://acme.zendesk.com"
#: More links than a collection takes (200), more than the connector reads by REST here.
LINKS = 250
BULK_FROM = 220
LEASE = timedelta(minutes=5)


def intent(key: str, kind: str, payload: dict[str, str]) -> ActionIntent:
    return ActionIntent(key, "delighted", f"r{key}", "detractors", kind, kind, payload, "hash")


def queue_links(org: SalesforceEmulator, store: StateStore, now: datetime) -> dict[str, int]:
    """``LINKS`` Tasks whose responses' tickets were made after them, their links queued;
    returns each Task's ticket id."""
    tickets = {f"{i:040d}": 7000 + i for i in range(LINKS)}
    store.outbox.enqueue([intent(k, "zendesk_ticket", {}) for k in tickets], now)
    claimed = store.outbox.claim("zd", limit=LINKS, lease=LEASE, now=now, kinds=["zendesk_ticket"])
    store.outbox.record_results(
        "zd", [ActionResult.done(a.key, str(tickets[a.key])) for a in claimed], now
    )
    linked: dict[str, int] = {}
    links = []
    for ticket_key, ticket_id in tickets.items():
        description = f'Call them back.\n"Too slow", they said ({ticket_id}).'
        task_id = org.insert_record("Task", {"Subject": "Call", "Description": description})
        linked[task_id] = ticket_id
        task_key = f"t{ticket_key[1:]}"
        payload = {"ticket_key": ticket_key, "task_key": task_key, "task_id": task_id}
        links.append(intent(link_key(ticket_key, task_key), KIND, payload))
    store.outbox.enqueue(links, now)
    return linked


def test_a_backlog_of_links_is_read_and_written_in_bulk_jobs(
    org: SalesforceEmulator, connect: ConnectorFactory, store: StateStore
) -> None:
    now = datetime.now(UTC)
    linked = queue_links(org, store, now)
    crm = connect(query_bulk_threshold=BULK_FROM, bulk_threshold=BULK_FROM, bulk_poll_seconds=0.01)
    org.reset_counters()

    drain(
        store,
        [TaskLinkExecutor(crm, store, FAST_RETRY, ZENDESK, clock=lambda: now)],
        owner="sf",
        lease=LEASE,
        max_failures=3,
        now=lambda: now,
    )

    assert {a.status for a in store.outbox.actions() if a.kind == KIND} == {"done"}
    tasks = {t["Id"]: str(t["Description"]) for t in org.records("Task")}
    for task_id, ticket_id in linked.items():
        line = TICKET_LINE.format(url=ticket_url(ZENDESK, str(ticket_id)))
        assert tasks[task_id] == f'Call them back.\n"Too slow", they said ({ticket_id}).\n{line}'
    # One batch past the thresholds: the descriptions read by one query job, the links written
    # by one ingest job, not a query and a collection update per 200 links.
    assert org.calls["query"] == org.calls["composite_update"] == 0
    assert org.calls["bulk2_query_create"] == org.calls["bulk2_create_job"] == 1
