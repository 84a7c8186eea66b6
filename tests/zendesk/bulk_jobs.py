"""What the proofs of Zendesk bulk jobs in doubt share: a connector with short patience, one act
stage as a named worker, and a count of each action's effects in the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.transport import DEFAULT_TIMEOUT, make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials, connect
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from sync.stages.act import DrainStats, drain
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import ANA, BEN, CAL, FAST_RETRY, PUBLIC, Outbox, ticket_payload

#: The bulk write of each case: new tickets, or comments on open tickets (one per ticket).
WRITES = {"tickets": "tickets_create_many", "comments": "tickets_update_many"}


def job_connector(
    url: str, *, job_timeout: float, timeout: float = DEFAULT_TIMEOUT
) -> ZendeskConnector:
    """A connector that waits ``timeout`` for an answer and ``job_timeout`` for a job."""
    session = make_session({PUBLIC: url}, label="zendesk", timeout=timeout)
    credentials = ZendeskCredentials("acme", email=DEFAULT_AGENT_EMAIL, token=DEFAULT_TOKEN)
    return ZendeskConnector(
        connect(credentials, session=session), poll_interval=0.01, job_timeout=job_timeout
    )


def drain_as(
    owner: str,
    desk: ZendeskConnector,
    store: StateStore,
    later: timedelta,
    settings: TicketSettings | None = None,
) -> DrainStats:
    """One act stage; it claims as if ``later`` (so deferred actions are due), while the
    executor keeps the real time the emulator runs its jobs by."""
    executor = ZendeskTicketExecutor(
        desk, FAST_RETRY, store=store, settings=settings or TicketSettings()
    )
    return drain(
        store,
        [executor],
        owner=owner,
        lease=timedelta(minutes=5),
        max_failures=8,
        now=lambda: datetime.now(UTC) + later,
    )


def effects(emulator: ZendeskEmulator, key: str) -> int:
    """Tickets carrying ``key`` plus comments carrying its marker."""
    tickets = [t for t in emulator.tickets() if t.get("external_id") == key]
    comments = sum(
        marker(key) in c["body"] for t in emulator.tickets() for c in emulator.comments(t["id"])
    )
    return len(tickets) + comments


def bulk_actions(case: str, outbox: Outbox, desk: ZendeskConnector, store: StateStore) -> list[str]:
    """Three new tickets, or three comments (each on its requester's open ticket)."""
    people = (ANA, BEN, CAL)
    if case == "tickets":
        return [outbox.add(p, ticket_payload(p)) for p in people]
    for person in people:  # one ticket each first, made one request at a time
        outbox.add(person, ticket_payload(person, attach=True, comment="First."))
        drain_as("setup", desk, store, timedelta(0))
    return [outbox.add(p, ticket_payload(p, attach=True, comment="Again.")) for p in people]
