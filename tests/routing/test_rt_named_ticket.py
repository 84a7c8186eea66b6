"""A ticket action with ``named_ticket`` carries the ticket the response names to the executor."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules import parse_rules
from sync.state import StateStore
from tests.routing.helpers import T0, account, ingest, matched, response, route_pending

RULES = parse_rules(
    """version: 1
actions:
  note:
    type: zendesk_ticket
    subject: "NPS {{ response.score }}"
    body: "{{ response.comment }}"
    named_ticket: {property: ticket, reopen: true, if_missing: skip}
rules:
  - name: all
    actions: [note]
""",
    "r.yaml",
)


@pytest.mark.parametrize(
    ("properties", "named"),
    [({"ticket": " 4321 "}, "4321"), ({"other": "4321"}, None), ({"ticket": ""}, None)],
)
def test_the_ticket_named_in_the_configured_property_goes_with_the_intent(
    store: StateStore, properties: dict[str, str], named: str | None
) -> None:
    answer = replace(response("r1", "a@x.example", 3, T0, "Slow"), properties=properties)
    ingest(store, answer, now=T0)

    (outcome,) = route_pending(
        store, RULES, {"a@x.example": matched("a@x.example", account(1))}, T0
    )

    (intent,) = outcome.intents
    assert intent.payload.get("named_ticket") == named
    if named:
        assert intent.payload["reopen_named"] is True
        assert intent.payload["if_named_missing"] == "skip"
        assert intent.payload["named_ticket_property"] == "ticket"
