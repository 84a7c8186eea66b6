"""Routing on what the matched records and the survey carry: the contact's job title from
Salesforce, Account and Contact fields and survey properties declared as custom fields, each in
its own type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.errors import ConfigError
from emulators.salesforce.standard_schema import number, picklist, text
from emulators.world import EmulatedWorld
from sync.checks.references import diagnostics, missing_custom_fields, reload_check
from sync.cli import main
from sync.core.errors import EXIT_CONFIG_FILE
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
fields:
  response.custom.plan: string
  response.custom.seats: integer
  response.custom.trial: boolean
actions:
  exec_call:
    type: salesforce_task
    owner: account_owner
    subject: "Call {{ contact.title }} ({{ response.custom.seats }} seats)"
    due_in: 1d
  big_plan_call:
    type: salesforce_task
    owner: account_owner
    subject: "Enterprise plan, {{ response.custom.seats }} seats"
    due_in: 1d
rules:
  - name: executives
    when: {contact.title: {contains: "{title}"}}
    actions: [exec_call]
    continue: true
  - name: big-accounts
    when:
      all:
        - response.custom.plan: {eq: enterprise}
        - response.custom.seats: {gte: 100}
        - response.custom.trial: {eq: false}
    actions: [big_plan_call]
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=3, responses=0) as w:
        yield w


def test_rules_read_the_contact_title_and_typed_survey_properties(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    contact = world.book.contacts[0]
    assert contact.title
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("{title}", contact.title), encoding="utf-8")
    big = world.delighted.add_response(
        email=contact.email,
        score=9,
        properties={"plan": "enterprise", "seats": "250", "trial": "No"},
    )
    small = world.delighted.add_response(
        email=contact.email, score=9, properties={"plan": "enterprise", "seats": "many"}
    )

    engine = make_engine(rules=rules)
    assert engine.run_once().errors == []

    actions = engine.store.outbox.actions()
    rules_of = {r: sorted(a.rule for a in actions if a.response_id == r) for r in (big, small)}
    assert rules_of[big] == ["big-accounts", "executives"]
    assert rules_of[small] == ["executives"]  # "many" seats reads as no number: missing
    tasks = {t["Subject"] for t in world.salesforce.records("Task")}
    assert f"Call {contact.title} (250 seats)" in tasks
    assert "Enterprise plan, 250 seats" in tasks


CUSTOM_RULES = """version: 1
fields:
  account.custom.Health_Score__c: integer
  contact.custom.Persona__c: string
  account.custom.Churn_Signals__c: string
actions:
  health_call:
    type: salesforce_task
    owner: account_owner
    subject: "Health {{ account.custom.Health_Score__c }}, {{ contact.custom.Persona__c }}"
    due_in: 1d
rules:
  - name: unhealthy-champion
    when:
      all:
        - account.custom.Health_Score__c: {lt: 40}
        - contact.custom.Persona__c: {eq: Champion}
        - account.custom.Churn_Signals__c: {contains: Usage drop}
    actions: [health_call]
"""


def test_rules_read_custom_salesforce_fields_declared_in_the_rules(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    sf = world.salesforce
    sf.add_field("Account", number("Health_Score__c", precision=3, scale=0, custom=True))
    sf.add_field("Account", text("Churn_Signals__c", 255, custom=True))
    sf.add_field("Contact", picklist("Persona__c", ("Champion", "User"), custom=True))
    champion, user = world.book.contacts[0], world.book.contacts[1]
    sf.update_record("Account", champion.account_id, {"Health_Score__c": 35})
    sf.update_record("Account", champion.account_id, {"Churn_Signals__c": "Usage drop;Late pay"})
    sf.update_record("Contact", champion.id, {"Persona__c": "Champion"})
    sf.update_record("Contact", user.id, {"Persona__c": "User"})
    rules = tmp_path / "rules.yaml"
    rules.write_text(CUSTOM_RULES, encoding="utf-8")
    hit = world.delighted.add_response(email=champion.email, score=3)
    miss = world.delighted.add_response(email=user.email, score=3)

    engine = make_engine(rules=rules)
    assert engine.run_once().errors == []

    actions = engine.store.outbox.actions()
    assert [a.response_id for a in actions] == [hit]
    assert {t["Subject"] for t in world.salesforce.records("Task")} == {"Health 35, Champion"}
    stored = engine.store.inbox.get("delighted", miss)
    assert stored is not None
    assert stored.match is not None
    assert stored.match["contact"]["custom"] == {"Persona__c": "User"}


def test_a_custom_field_salesforce_lacks_is_named_at_its_declaration(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(CUSTOM_RULES, encoding="utf-8")
    engine = make_engine(rules=rules)
    found = diagnostics(missing_custom_fields(engine.ruleset, engine.conn.crm), rules)
    assert [f"{d.file}:{d.line}" for d in found] == [f"{rules}:3", f"{rules}:4", f"{rules}:5"]
    assert "field Account.Health_Score__c does not exist" in str(found[0])
    # A daemon given these rules by a reload keeps the rules in force, saying why.
    refused = reload_check(engine.conn.crm, engine.conn.helpdesk, None, engine.retry)
    lines = refused(engine.ruleset, rules)
    assert [line.split(": ")[0].rsplit(":", 1)[0] for line in lines] == [
        f"{rules}:3",
        f"{rules}:4",
        f"{rules}:5",
    ]
    with pytest.raises(ConfigError, match="Account has no field Health_Score__c, Churn_Signals__c"):
        engine.run_once()


ROLE_RULES = """version: 1
actions:
  sponsor_call:
    type: salesforce_task
    owner: account_owner
    subject: "Call the {{ contact.role }}"
    due_in: 1d
rules:
  - name: decision-makers
    when: {contact.role: {eq: Decision Maker}}
    actions: [sponsor_call]
"""


def test_rules_read_the_contact_role_from_the_configured_field(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    boss, other = world.book.contacts[0], world.book.contacts[1]
    world.salesforce.update_record("Contact", boss.id, {"Role__c": "Decision Maker"})
    world.salesforce.update_record("Contact", other.id, {"Role__c": "User"})
    rules = tmp_path / "rules.yaml"
    rules.write_text(ROLE_RULES, encoding="utf-8")
    hit = world.delighted.add_response(email=boss.email, score=5)
    world.delighted.add_response(email=other.email, score=5)

    salesforce = world.config_data(state_url="sqlite://")["salesforce"]
    engine = make_engine(
        rules=rules, salesforce={**salesforce, "fields": {"contact_role": "Role__c"}}
    )
    assert engine.run_once().errors == []

    assert [a.response_id for a in engine.store.outbox.actions()] == [hit]
    assert {t["Subject"] for t in world.salesforce.records("Task")} == {"Call the Decision Maker"}


MISTYPED_RULES = """version: 1
fields:
  account.custom.Health_Score__c: boolean
  contact.custom.HasOptedOutOfEmail: integer
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "Call"
    due_in: 1d
rules:
  - name: odd
    when:
      any:
        - account.custom.Health_Score__c: {eq: true}
        - contact.custom.HasOptedOutOfEmail: {eq: 0}
    actions: [call]
"""


def test_a_custom_field_declared_a_type_its_values_cannot_read_as_is_refused_not_fatal(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    world.salesforce.add_field("Account", number("Health_Score__c", precision=3, custom=True))
    contact = world.book.contacts[0]
    world.salesforce.update_record("Account", contact.account_id, {"Health_Score__c": 35})
    rules = tmp_path / "rules.yaml"
    rules.write_text(MISTYPED_RULES, encoding="utf-8")
    engine = make_engine(rules=rules)

    found = diagnostics(missing_custom_fields(engine.ruleset, engine.conn.crm), rules)
    assert [d.line for d in found] == [3, 4]
    assert "a Salesforce double field, declared boolean" in found[0].message
    assert found[0].message.endswith("declare account.custom.Health_Score__c as integer")
    assert found[1].message.endswith("declare contact.custom.HasOptedOutOfEmail as boolean")
    # Taken as they are (a daemon's first rules are refused by the same check), the values read
    # as missing: no error, no crash, no action.
    world.delighted.add_response(email=contact.email, score=3)
    assert engine.run_once().errors == []
    assert engine.store.outbox.actions() == []


def test_a_pass_started_on_rules_naming_a_missing_custom_field_stops_at_their_line(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(CUSTOM_RULES, encoding="utf-8")
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}", rules=rules)
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")

    result = CliRunner().invoke(main, ["sync", "--config", str(config)])

    assert result.exit_code == EXIT_CONFIG_FILE, result.output
    assert f"{rules}:3:" in result.output
    assert "field Account.Health_Score__c does not exist" in result.output
