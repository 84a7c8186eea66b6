"""Which answer a ticket shows last: the latest answered, whatever the keys of their actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import SurveyResponse
from sync.state import ActionIntent, ActionResult, RoutingOutcome, StateStore

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def test_answers_joined_in_one_batch_are_ordered_by_when_they_were_given(
    store: StateStore,
) -> None:
    # Routed together, so their actions share their time; the later answer's key sorts first.
    given = {"r-early": ("z-early", T0), "r-late": ("a-late", T0 + timedelta(hours=1))}
    outcomes = []
    for rid, (key, at) in given.items():
        response = SurveyResponse("delighted", rid, "ana@example.com", 3, "", at, at)
        store.inbox.ingest_page("delighted", [response], None, T0)
        stored = store.inbox.get("delighted", rid)
        assert stored is not None
        ticket = ActionIntent(key, "delighted", rid, "rule", "ticket", "zendesk_ticket", {}, "h")
        outcomes.append(
            RoutingOutcome(
                "delighted", rid, stored.version, "matched", "003A", "001A", 7, None, {}, {},
                [ticket],
            )
        )  # fmt: skip
    store.record_routing(outcomes, T0)
    claimed = store.outbox.claim("w", limit=5, lease=timedelta(minutes=5), now=T0)
    store.outbox.record_results("w", [ActionResult.done(a.key, "41") for a in claimed], T0)

    assert store.tickets.last_told([41]) == {41: "a-late"}
