"""``named_ticket`` on a ticket action: read with its defaults, mistakes reported where made."""

from __future__ import annotations

import pytest

from rules import NamedTicket, RulesError, ZendeskTicketAction, parse_rules

HEAD = "version: 1\nactions:\n  t:\n    type: zendesk_ticket\n    subject: s\n    body: b\n"


def test_named_ticket_settings_are_read_with_their_defaults() -> None:
    ruleset = parse_rules(f"{HEAD}    named_ticket: {{reopen: true}}\nrules: []\n", "r.yaml")
    action = ruleset.actions["t"]
    assert isinstance(action, ZendeskTicketAction)
    assert action.named_ticket == NamedTicket("Zendesk Ticket Id", True, "new_ticket")
    rendered = ruleset.render_action("t", {})
    assert rendered.named_ticket == action.named_ticket  # type: ignore[union-attr]


def test_an_action_without_named_ticket_has_none() -> None:
    ruleset = parse_rules(f"{HEAD}rules: []\n", "r.yaml")
    assert ruleset.actions["t"].named_ticket is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{reopn: true}", "7:20: unknown key 'reopn'"),
        ("{if_missing: ignore}", "7:32: expected 'new_ticket' or 'skip', got 'ignore'"),
        ("{reopen: yes}", "7:28: expected true or false, got 'yes'"),
        ('{property: " "}', "7:30: `property` names the response property that holds the"),
    ],
)
def test_named_ticket_mistakes_are_reported_with_file_line_and_column(
    setting: str, message: str
) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(f"{HEAD}    named_ticket: {setting}\nrules: []\n", "r.yaml")
    assert str(caught.value).startswith(f"r.yaml:{message}")
