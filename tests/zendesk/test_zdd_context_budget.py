"""The requester's open tickets in Task and ticket context are a courtesy: they cost one request
per requester who has any, so they are listed only while the minute's Zendesk budget has room,
and a backlog spends the budget on the Tasks and tickets themselves."""

from __future__ import annotations

import pytest
from zenpy.lib.api_objects import Comment, Ticket

from connectors.zendesk.client import ZendeskConnector
from tests.zendesk.conftest import ANA, BEN, Serve, new_connector

LIMIT = 20


@pytest.mark.parametrize(
    ("spent", "listed"),
    [(0, True), (LIMIT // 2 - 3, True), (LIMIT // 2 + 2, False)],
)
def test_open_tickets_are_listed_only_while_half_the_minute_is_left(
    serve: Serve, spent: int, listed: bool
) -> None:
    emulator, url = serve(rate_limit_per_minute=LIMIT)
    desk = new_connector(url)
    desk.client.tickets.create(
        Ticket(subject="Export broken", requester_id=ANA.user_id, comment=Comment(body="Help"))
    )
    for _ in range(spent):  # other work of the same minute
        desk.open_ticket_counts([ANA.user_id])
    emulator.reset_counters()

    found = desk.open_tickets([ANA.user_id])

    if listed:
        assert [t.subject for t in found[ANA.user_id]] == ["Export broken"]
        assert emulator.calls["users_tickets_requested"] == 1
    else:
        assert ANA.user_id not in found  # the context says "unknown"
        assert "users_tickets_requested" not in emulator.calls
        assert "users_show_many" not in emulator.calls  # nor are the counts asked for


def test_open_ticket_lists_stop_at_their_share_of_a_minute(serve: Serve) -> None:
    emulator, url = serve()
    desk = ZendeskConnector(new_connector(url).client, context_lists_per_minute=1)
    for person in (ANA, BEN):
        desk.client.tickets.create(
            Ticket(
                subject=f"Ticket of {person.name}",
                requester_id=person.user_id,
                comment=Comment(body="Help"),
            )
        )

    found = desk.open_tickets([ANA.user_id, BEN.user_id])

    assert [t.subject for t in found[ANA.user_id]] == ["Ticket of Ana Acme"]
    assert BEN.user_id not in found
    emulator.reset_counters()
    assert desk.open_tickets([BEN.user_id]) == {}  # the minute's lists are spent
    assert emulator.calls == {}
