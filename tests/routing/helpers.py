"""Building blocks for routing tests: stored responses, matches and a routing context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import Account, Contact, SurveyResponse, ZendeskUser
from rules import Ruleset
from sync.stages.match_record import Match
from sync.stages.route import RoutingContext, route_responses
from sync.state import RoutingOutcome, StateStore, StoredResponse

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
CONTEXT = RoutingContext(
    group_ids={"Customer Success": 7},
    ticket_field_ids={},
    score_field="NPS Score",
    fallback_owner_id="005FALLBACK",
)


def account(number: int) -> Account:
    return Account(id=f"001A{number:014d}", name=f"Account {number}", owner_id="005OWNER")


def matched(email: str, acct: Account | None, *, number: int = 1) -> Match:
    """A match to contact ``number`` (and its Zendesk user) of ``acct``."""
    contact = Contact(
        id=f"003C{number:014d}", email=email, last_name="Doe", owner_id="005CONTACT", account=acct
    )
    user = ZendeskUser(id=900 + number, email=email, organization_id=55)
    return Match("matched", "email", contact, acct, user, 1)


def response(
    rid: str,
    email: str,
    score: int,
    at: datetime,
    comment: str = "",
    *,
    edited: datetime | None = None,
) -> SurveyResponse:
    """A response submitted ``at``; ``edited``: when a later version of it was made."""
    return SurveyResponse(
        source="test",
        response_id=rid,
        email=email,
        score=score,
        comment=comment,
        created_at=at,
        updated_at=edited or at,
    )


def ingest(store: StateStore, *responses: SurveyResponse, now: datetime) -> None:
    store.inbox.ingest_page("test", list(responses), None, now)


def route_pending(
    store: StateStore,
    ruleset: Ruleset,
    matches: dict[str, Match],
    now: datetime,
    context: RoutingContext = CONTEXT,
) -> list[RoutingOutcome]:
    """One route stage over every pending response, recorded as the engine records it."""
    batch: list[StoredResponse] = store.inbox.pending(100, now)
    by_key = {("test", s.response.response_id): matches[s.response.email] for s in batch}
    outcomes = route_responses(batch, by_key, ruleset, context, store, now=now)
    store.record_routing(outcomes, now)
    return outcomes


def days(n: float) -> timedelta:
    return timedelta(days=n)
