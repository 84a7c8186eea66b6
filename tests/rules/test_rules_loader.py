"""Loading: strictness beyond single invariants, hashing, and reading files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rules import (
    NotifyAction,
    OwnerRef,
    RulesError,
    SalesforceTaskAction,
    UpdateFieldsAction,
    ZendeskTicketAction,
    load_rules,
    parse_rules,
)

BASE = """\
# a comment
version: 1
actions:
  followup:
    type: salesforce_task
    subject: "Call {{ contact.name }}"
    due_in: 2d
    priority: High
rules:
  - name: detractors
    when: {score: {lte: 6}}
    actions: [followup]
"""


def test_hash_ignores_comments_and_layout_but_not_meaning() -> None:
    original = parse_rules(BASE, "a.yaml").hash
    reformatted = BASE.replace("# a comment\n", "").replace(
        "when: {score: {lte: 6}}", "when:\n      score:\n        lte: 6"
    )
    assert parse_rules(reformatted, "b.yaml").hash == original
    assert parse_rules(BASE.replace("lte: 6", "lte: 5"), "c.yaml").hash != original
    assert len(original) == 64


MORE_ACTIONS = """\
  ticket:
    type: zendesk_ticket
    subject: s
    body: b
    priority: urgent
    ticket_type: incident
    group: Customer Success
    assignee: agent@example.com
    tags: [nps, detractor]
    attach_to_open: true
    create_requester: true
  flag:
    type: update_fields
    system: salesforce
    object: Contact
    values: {NPS_Flag__c: true}
  ping:
    type: notify
    channel: slack
    webhook_env: CX_SLACK
    text: hi
"""


def test_actions_are_frozen_runtime_values_with_parsed_settings() -> None:
    ruleset = parse_rules(BASE.replace("rules:\n", MORE_ACTIONS + "rules:\n"), "r.yaml")
    followup, ticket, flag, ping = (
        ruleset.actions[n] for n in ("followup", "ticket", "flag", "ping")
    )
    assert isinstance(followup, SalesforceTaskAction)
    assert (followup.owner, followup.due_in, followup.priority) == (
        OwnerRef("account_owner"),
        timedelta(days=2),
        "High",
    )
    assert isinstance(ticket, ZendeskTicketAction)
    assert (ticket.priority, ticket.ticket_type, ticket.group, ticket.assignee) == (
        "urgent",
        "incident",
        "Customer Success",
        "agent@example.com",
    )
    assert ticket.tags == ("nps", "detractor")
    assert ticket.attach_to_open
    assert ticket.create_requester
    assert isinstance(flag, UpdateFieldsAction)
    assert (flag.system, flag.object_type) == ("salesforce", "Contact")
    assert isinstance(ping, NotifyAction)
    assert (ping.channel, ping.webhook_env) == ("slack", "CX_SLACK")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nrules: []\nextra: 1\n", "3:1: unknown key 'extra' in rules file"),
        ("- a\n- b\n", "1:1: expected a mapping, got a list"),
        ("version: 1\nactions: {}\n", "1:1: missing required key 'rules'"),
        (
            "version: 1\nactions: {}\nrules:\n  - name: bad name\n    actions: []\n",
            "4:11: invalid name 'bad name': use letters, digits, '_', '-' and '.', starting with "
            "a letter or digit, at most 64 characters",
        ),
        (
            "version: 1\nactions: {}\nrules:\n  - name: x\n    actions: []\n    settle: 15\n",
            "6:13: expected a duration like 30m, 4h, 2d or 1w, got 15 "
            "(write '15m', '15h' or '15d')",
        ),
        (
            "version: 1\n1: x\nactions: {}\nrules: []\n",
            "2:1: keys must be text; write '1' in quotes",
        ),
        (
            "version: 1\nactions:\n  t: {subject: x}\nrules: []\n",
            "3:6: missing required key 'type' (salesforce_task, zendesk_ticket, update_fields, "
            "notify or resurvey)",
        ),
        (
            "version: 1\nactions:\n  t: {type: salesforce_task, subject: x, due_in: 1d, "
            "owner: acount_owner}\nrules: []\n",
            "3:61: unknown owner 'acount_owner'; expected account_owner, contact_owner, "
            "user:<email or id> or queue:<queue name>; did you mean 'account_owner'?",
        ),
        (
            "version: 1\nactions:\n  t: {type: salesforce_task, subject: x, due_in: 1d, "
            "owner: 'queue: Team'}\nrules: []\n",
            "3:61: ' Team' is not a queue name: write the queue's Name or DeveloperName (up to 80 "
            "characters, no line breaks, no spaces at either end)",
        ),
        (
            "version: 1\nactions: {}\nrules:\n  - name: x\n    when: {score: {regex: x}}\n"
            "    actions: []\n",
            "5:20: operator 'regex' does not apply to integer field 'score'; use one of: eq, ne, "
            "lt, lte, gt, gte, in, not_in, between, present",
        ),
        (
            "version: 1\nactions:\n  u: {type: update_fields, system: zendesk, object: user, "
            "values: {A: [1]}}\nrules: []\n",
            "3:71: expected text, a number or true or false, got a list",
        ),
        (
            "version: 1\nactions: {}\nrules:\n  - name: x\n    when: {account.region: 2024-01-01}\n"
            "    actions: []\n",
            "5:28: 'eq' takes a single value; got the date 2024-01-01 (quote it to write text)",
        ),
    ],
)
def test_strict_parsing(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "r.yaml")
    assert str(caught.value) == f"r.yaml:{message}"


def test_a_queue_owner_is_read_with_its_name_as_written() -> None:
    ruleset = parse_rules(
        "version: 1\nactions:\n  t: {type: salesforce_task, subject: x, due_in: 1d, "
        'owner: "queue:NPS Follow-up"}\nrules: []\n',
        "r.yaml",
    )
    owner = ruleset.actions["t"].owner  # type: ignore[union-attr]
    assert (owner.kind, owner.queue) == ("queue", "NPS Follow-up")
    assert str(owner) == "queue:NPS Follow-up"


def test_yaml_1_2_keeps_yes_and_no_as_text() -> None:
    ruleset = parse_rules(
        "version: 1\nactions: {}\nrules:\n  - name: x\n    when: {account.region: NO}\n"
        "    actions: []\n",
        "r.yaml",
    )
    assert ruleset.route({"account.region": "no"}).rule_names == ("x",)


def test_load_rules_reads_the_file_and_reports_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_rules(path).source == str(path)
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "missing.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'missing.yaml'}: cannot read file: No such file or directory (check the "
        "path; a config's rules path is read from its folder)"
    )
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(RulesError, match="not UTF-8 text"):
        load_rules(path)


def test_every_tab_and_duplicate_key_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\nactions:\n\tx: {type: zendesk_ticket, subject: s}\n"
        "rules:\n  - name: a\n    when: {score: {lte: 6}}\n    actions: [x]\nversion: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}:3:1: invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)",
        f"{path}:8:1: duplicate key 'version' (the mapping starts at line 1)",
    ]
