"""Fixtures for the Zendesk connector and engine pieces: the real zenpy client against the emulator.

One emulator server per module with a fresh account per test (``ZendeskEmulator.reset``), a small
seeded book (two organizations mirroring Salesforce accounts, four end users), and helpers that
put ticket intents into the outbox the way the route stage does. The ``store`` fixture (root
conftest) runs each test on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.models import SurveyResponse, category_of
from connectors.transport import CallCounter, make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials, connect
from emulators.base import EmulatorServer
from emulators.seed_model import Seed, SeedOrganization, SeedZendeskUser
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from sync.core.retry import RetryPolicy
from sync.stages.act import Executor, Outcome, result_of
from sync.stages.route import action_key
from sync.state import ActionIntent, ClaimedAction, RoutingOutcome, StateStore
from tests.emulators.zendesk.conftest import fresh_account
from tests.emulators.zendesk.conftest import server as server  # the module-scoped emulator server

PUBLIC = "https://acme.zendesk.com"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=1.0)
LEASE = timedelta(minutes=5)

ACME_ORG, GLOBEX_ORG = 5001, 5002
ACME_ACCOUNT, GLOBEX_ACCOUNT = "001000000000001AAA", "001000000000002AAA"


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    name: str
    organization_id: int | None
    account_id: str | None


ANA = Person(6001, "ana@acme.example", "Ana Acme", ACME_ORG, ACME_ACCOUNT)
BEN = Person(6002, "ben@acme.example", "Ben Acme", ACME_ORG, ACME_ACCOUNT)
CAL = Person(6003, "cal@globex.example", "Cal Globex", GLOBEX_ORG, GLOBEX_ACCOUNT)
DEE = Person(6004, "dee@globex.example", "Dee Globex", None, GLOBEX_ACCOUNT)
PEOPLE = (ANA, BEN, CAL, DEE)


def small_book() -> Seed:
    return Seed(
        organizations=[
            SeedOrganization(ACME_ORG, "Acme Corp", ACME_ACCOUNT, ("acme.example",)),
            SeedOrganization(GLOBEX_ORG, "Globex", GLOBEX_ACCOUNT, ("globex.example",)),
        ],
        zendesk_users=[
            SeedZendeskUser(p.user_id, p.name, p.email, p.organization_id, f"003{p.user_id}")
            for p in PEOPLE
        ],
    )


@pytest.fixture
def emulator(server: EmulatorServer) -> ZendeskEmulator:
    app = fresh_account(server)
    app.load_seed(small_book())
    return app


Serve = Callable[..., tuple[ZendeskEmulator, str]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(**settings)``: an emulator with other settings (seeded) and its loopback URL."""
    running: list[EmulatorServer] = []

    def start(**settings: Any) -> tuple[ZendeskEmulator, str]:
        app = ZendeskEmulator(**settings)
        app.load_seed(small_book())
        running.append(EmulatorServer(app).start())
        return app, running[-1].url

    yield start
    for each in running:
        each.stop()


ConnectorFactory = Callable[..., ZendeskConnector]


def new_connector(url: str, counter: CallCounter | None = None, **options: Any) -> ZendeskConnector:
    """The real connector on a loopback session to the emulator at ``url``."""
    session = make_session({PUBLIC: url}, counter=counter, label="zendesk")
    credentials = ZendeskCredentials("acme", email=DEFAULT_AGENT_EMAIL, token=DEFAULT_TOKEN)
    return ZendeskConnector(connect(credentials, session=session, **options), poll_interval=0.001)


@pytest.fixture
def make_connector(server: EmulatorServer, emulator: ZendeskEmulator) -> ConnectorFactory:
    """``make_connector(**connect_options)``: a connector to this module's emulator."""

    def build(**options: Any) -> ZendeskConnector:
        return new_connector(server.url, **options)

    return build


@pytest.fixture
def desk(make_connector: ConnectorFactory) -> ZendeskConnector:
    return make_connector()


# -- the outbox, as the route stage fills it -------------------------------------------------------
def ticket_payload(
    person: Person | None,
    *,
    score: int = 3,
    comment: str = "Support never called back.",
    email: str = "",
    attach: bool = False,
    group_id: int | None = None,
    assignee: str | None = None,
    ticket_type: str | None = None,
    permalink: str = "https://delighted.example/r/1",
    account: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A payload shaped like ``sync.stages.route._ticket_payload`` builds it."""
    address = person.email if person else email
    return {
        "subject": f"NPS detractor ({score})",
        "body": f"{person.name if person else address} answered {score}.\n\n{comment}",
        "requester_id": person.user_id if person else None,
        "requester_email": "" if person else address,
        "requester_name": "" if person else "New Person",
        "organization_id": person.organization_id if person else None,
        "group_id": group_id,
        "priority": "high",
        "tags": ["nps", "detractor"],
        "custom_fields": {},
        "ticket_type": ticket_type,
        "assignee_email": assignee,
        "attach_to_open": attach,
        "email": address,
        "account_id": person.account_id if person else ACME_ACCOUNT,
        "fields": {
            "score": score,
            "category": category_of(score),
            "response_link": permalink,
            "account_arr": float((account or {}).get("arr") or 0) or None,
            "account_tier": (account or {}).get("tier"),
        },
        "account": dict(account) if account is not None else None,
        "response": {"score": score, "comment": comment, "link": permalink},
    }


class Outbox:
    """Routes responses into the store's outbox and claims them, with a controllable clock."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.now = datetime.now(UTC)
        self._seq = 0

    def add(
        self,
        person: Person | None,
        payload: Mapping[str, Any],
        *,
        score: int = 3,
        created_at: datetime | None = None,
        email: str = "",
    ) -> str:
        """Store a response of ``person`` and enqueue its ticket intent; returns the key."""
        self._seq += 1
        rid = f"r{self._seq}"
        at = created_at or self.now - timedelta(minutes=10)
        address = person.email if person else email
        response = SurveyResponse("delighted", rid, address, score, "text", at, at)
        self.store.inbox.ingest_page("delighted", [response], None, self.now)
        (stored,) = [
            s for s in self.store.inbox.pending(1000, self.now) if s.response.response_id == rid
        ]
        key = action_key("delighted", rid, "detractors", "ticket")
        intent = ActionIntent(
            key, "delighted", rid, "detractors", "ticket", "zendesk_ticket", dict(payload), "hash"
        )
        outcome = RoutingOutcome(
            source="delighted",
            response_id=rid,
            version=stored.version,
            match_status="matched",
            contact_id=None,
            account_id=person.account_id if person else None,
            zendesk_user_id=person.user_id if person else None,
            zendesk_org_id=person.organization_id if person else None,
            match={},
            decision={},
            intents=[intent],
        )
        self.store.record_routing([outcome], self.now)
        return key

    def claim(self, owner: str = "worker-1", limit: int = 100) -> list[ClaimedAction]:
        return self.store.outbox.claim(
            owner, limit=limit, lease=LEASE, now=self.now, kinds=["zendesk_ticket"]
        )

    def record(
        self, claimed: Sequence[ClaimedAction], outcomes: Sequence[Outcome], owner: str = "worker-1"
    ) -> None:
        """Record outcomes as the drain loop does."""
        by_key = {a.key: a for a in claimed}
        results = [
            result_of(by_key[o.key], o, 8, timedelta(seconds=30), self.now) for o in outcomes
        ]
        self.store.outbox.record_results(owner, results, self.now)

    def run(self, executor: Executor) -> list[Outcome]:
        """Claim everything due, execute it and record the outcomes."""
        claimed = self.claim()
        outcomes = executor.execute(claimed)
        self.record(claimed, outcomes)
        return outcomes

    def pass_lease(self) -> None:
        """Let time run past the lease, as after a crash."""
        self.now += LEASE + timedelta(seconds=1)


@pytest.fixture
def outbox(store: StateStore) -> Outbox:
    return Outbox(store)


def our_tickets(emulator: ZendeskEmulator) -> list[dict[str, Any]]:
    return [t for t in emulator.tickets() if t.get("external_id")]
