"""Write-back, history object, reconciliation and explain against the emulators, through the real
simple-salesforce and zenpy clients."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from connectors.models import FieldUpdate, category_of
from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import Connections, connect_all, open_store
from sync.cli import main
from sync.core.config import Config
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import suggested_mapping
from sync.fields.metrics import nps
from sync.stages.writeback import chunks, reconcile
from sync.state import StateStore

RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0)
WINDOW = timedelta(days=180)
METRICS = {
    "revenue_at_risk": "detractor_share",
    "revenue_at_risk_small_sample": True,  # the formula on every account, however few answered
    "key_contact_field": "Role__c",
    "key_contact_values": ["Decision Maker"],
}


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=30, responses=150) as w:
        w.zendesk.add_metric_fields()
        yield w


def full_config_data(world: EmulatedWorld, tmp_path: Path) -> dict[str, Any]:
    data = world.config_data(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    data["write_back"] = suggested_mapping()
    data["metrics"] = METRICS
    return data


@pytest.fixture
def config(world: EmulatedWorld, tmp_path: Path) -> Config:
    return Config.model_validate(full_config_data(world, tmp_path))


@pytest.fixture
def parts(config: Config) -> Iterator[tuple[StateStore, Connections]]:
    store = open_store(config)
    yield store, connect_all(config)
    store.close()


def run_pass(config: Config, store: StateStore) -> None:
    engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=RETRY)
    report = engine.run_once()
    assert report.errors == []


def answers_by_contact(world: EmulatedWorld) -> dict[str, list[tuple[datetime, int, str]]]:
    emails = {c.email: c.id for c in world.book.contacts}
    found: dict[str, list[tuple[datetime, int, str]]] = {}
    for r in world.book.responses:
        contact_id = emails.get(r.email.lower())
        if contact_id:
            found.setdefault(contact_id, []).append((r.created_at, r.score, r.id))
    return found


def test_every_mapped_field_lands_and_a_second_pass_writes_nothing(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections]
) -> None:
    store, conn = parts
    key_contacts = world.book.contacts[::3]
    conn.crm.update_records(
        [FieldUpdate("Contact", c.id, {"Role__c": "Decision Maker"}) for c in key_contacts]
    )
    run_pass(config, store)
    now = datetime.now(UTC)

    answers = answers_by_contact(world)
    repeat = next(cid for cid, got in answers.items() if len(got) >= 2)
    ordered = sorted(answers[repeat])
    record = world.salesforce.get_record("Contact", repeat)
    assert record is not None
    assert record["NPS_Last_Score__c"] == ordered[-1][1]
    assert record["NPS_Previous_Score__c"] == ordered[-2][1]
    assert record["NPS_Score_Change__c"] == ordered[-1][1] - ordered[-2][1]
    assert record["NPS_Response_Count__c"] == len(ordered)
    assert record["NPS_Response_Link__c"]

    # One account by hand: latest answer per contact in the window, coverage, key contacts.
    account = max(
        world.book.accounts,
        key=lambda a: sum(
            1 for c in world.book.contacts if c.account_id == a.id and c.id in answers
        ),
    )
    contacts = [c for c in world.book.contacts if c.account_id == account.id]
    latest = {
        c.id: max((at, s) for at, s, _ in answers[c.id] if now - WINDOW < at <= now)
        for c in contacts
        if any(now - WINDOW < at <= now for at, _, _ in answers.get(c.id, []))
    }
    scores = [s for _, s in latest.values()]
    acc = world.salesforce.get_record("Account", account.id)
    assert acc is not None
    assert acc["NPS_Score__c"] == nps(scores)
    assert acc["NPS_Responses__c"] == len(latest)
    assert acc["NPS_Detractors__c"] == sum(1 for s in scores if s <= 6)
    assert acc["NPS_Coverage__c"] == round(100 * len(latest) / len(contacts), 1)
    keys = {c.id for c in key_contacts if c.account_id == account.id}
    expected_key = round(100 * len(keys & set(latest)) / len(keys), 1) if keys else None
    assert acc["NPS_Key_Contact_Coverage__c"] == expected_key
    assert acc["NPS_Days_To_Renewal__c"] == (account.renewal_date - now.date()).days
    share = sum(1 for s in scores if s <= 6) / len(scores) if scores else 0.0
    assert acc["NPS_Revenue_At_Risk__c"] == pytest.approx(round(account.arr * share, 2))
    assert acc["NPS_Small_Sample__c"] is (len(latest) < 5)

    org = next(o for o in world.zendesk.organizations() if o["external_id"] == account.id)
    assert org["organization_fields"]["nps_account_score"] == acc["NPS_Score__c"]
    assert org["organization_fields"]["nps_detractors"] == acc["NPS_Detractors__c"]
    assert org["organization_fields"]["nps_stale"] is acc["NPS_Stale__c"]

    history = world.salesforce.records("NPS_Response__c")
    routed = [r for r in store.inbox.routed(contact_ids=sorted(answers)) if r.contact_id]
    assert len(history) == len(routed) > 0
    one = next(h for h in history if h["Contact__c"] == repeat)
    assert one["Account__c"] == next(
        c.account_id for c in contacts + world.book.contacts if c.id == repeat
    )
    assert one["Category__c"] == category_of(int(one["Score__c"]))

    world.salesforce.reset_counters()
    world.zendesk.reset_counters()
    run_pass(config, store)
    assert world.salesforce.calls["composite_update"] == 0
    assert world.salesforce.calls["composite_upsert"] == 0
    assert len(world.salesforce.records("NPS_Response__c")) == len(history)


def test_an_edited_response_updates_its_history_record_in_place(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections]
) -> None:
    store, _ = parts
    run_pass(config, store)
    before = len(world.salesforce.records("NPS_Response__c"))
    known = {c.email for c in world.book.contacts}
    response = next(r for r in world.book.responses if r.email.lower() in known)
    world.delighted.update_response(response.id, comment="Edited: the export is back.")
    run_pass(config, store)
    history = world.salesforce.records("NPS_Response__c")
    assert len(history) == before
    edited = [h for h in history if h["Response_Id__c"] == f"delighted:{response.id}"]
    assert [h["Comment__c"] for h in edited] == ["Edited: the export is back."]


def test_reconcile_repairs_hand_edits_by_reading_salesforce_back(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections]
) -> None:
    store, conn = parts
    run_pass(config, store)
    contact_id = next(iter(answers_by_contact(world)))
    good_contact = world.salesforce.get_record("Contact", contact_id)
    account_id = next(
        a.id
        for a in world.book.accounts
        if (world.salesforce.get_record("Account", a.id) or {}).get("NPS_Score__c") is not None
    )
    good_account = world.salesforce.get_record("Account", account_id)
    assert good_contact is not None
    assert good_account is not None
    conn.crm.update_records(
        [
            FieldUpdate("Contact", contact_id, {"NPS_Last_Score__c": 0, "NPS_Channel__c": "fax"}),
            FieldUpdate("Account", account_id, {"NPS_Score__c": 99.0}),
        ]
    )
    world.salesforce.reset_counters()

    stats = reconcile(store, config, conn.crm, conn.helpdesk, RETRY, datetime.now(UTC))

    assert stats.errors == []
    assert stats.drift == 2
    assert stats.updated == {"salesforce.Account": 1, "salesforce.Contact": 1}
    fixed = world.salesforce.get_record("Contact", contact_id)
    assert fixed is not None
    assert fixed["NPS_Last_Score__c"] == good_contact["NPS_Last_Score__c"]
    assert fixed["NPS_Channel__c"] == good_contact["NPS_Channel__c"]
    fixed_account = world.salesforce.get_record("Account", account_id)
    assert fixed_account is not None
    assert fixed_account["NPS_Score__c"] == good_account["NPS_Score__c"]
    contacts, accounts = store.inbox.routed_record_ids()
    # Read back by id, 200 per query (plus the contact counts, key contacts and accounts).
    reads = -(-len(contacts) // 200) + 4 * -(-len(accounts) // 200)
    assert world.salesforce.calls["query"] <= reads + 1

    again = reconcile(store, config, conn.crm, conn.helpdesk, RETRY, datetime.now(UTC))
    assert (again.updated, again.drift, again.errors) == ({}, 0, [])


def hand_edited(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections], tmp_path: Path
) -> tuple[str, Path]:
    """After a pass, a contact's NPS category edited by hand; the contact and a config file."""
    store, conn = parts
    run_pass(config, store)
    contact_id = next(iter(answers_by_contact(world)))
    conn.crm.update_records([FieldUpdate("Contact", contact_id, {"NPS_Category__c": "passive"})])
    return contact_id, write_config(full_config_data(world, tmp_path), tmp_path / "nps-sync.yaml")


def test_reconcile_command_reports_what_it_repaired(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections], tmp_path: Path
) -> None:
    _, config_file = hand_edited(world, config, parts, tmp_path)
    result = CliRunner().invoke(main, ["fields", "reconcile", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "hand edits repaired: 1" in result.output


def test_reconcile_command_waits_for_a_reconciliation_already_running(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections], tmp_path: Path
) -> None:
    contact_id, config_file = hand_edited(world, config, parts, tmp_path)
    hold = "import sys, time\nfrom sync.state import StateStore\n" + (
        "with StateStore(sys.argv[1]).locks.singleton('reconcile') as mine:\n"
        "    print('held' if mine else 'taken', flush=True)\n    time.sleep(60)\n"
    )
    with subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", hold, config.state.url], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            result = CliRunner().invoke(main, ["fields", "reconcile", "--config", str(config_file)])
        finally:
            holder.kill()
    assert result.exit_code == 75, result.output
    contact = world.salesforce.get_record("Contact", contact_id)
    assert contact is not None
    assert contact["NPS_Category__c"] == "passive"  # left to the run that holds the lock


def test_the_comment_is_cut_to_the_length_salesforce_describes(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections]
) -> None:
    store, _ = parts
    contact_def = world.salesforce.org.schema.require("Contact").field("NPS_Last_Comment__c")
    assert contact_def is not None
    contact_def.length = 12
    contact = world.book.contacts[0]
    at = datetime.now(UTC) - timedelta(hours=1)
    world.delighted.add_response(
        email=contact.email, score=3, comment="The new reporting module is far too slow.",
        created_at=at, updated_at=at,
    )  # fmt: skip
    run_pass(config, store)
    record = world.salesforce.get_record("Contact", contact.id)
    assert record is not None
    assert record["NPS_Last_Comment__c"] == "The new rep…"
    user = next(u for u in world.zendesk.users() if u.get("external_id") == contact.id)
    assert user["user_fields"]["nps_comment"] == "The new reporting module is far too slow."


def write_config(data: dict[str, Any], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        YAML().dump(data, out)
    return path


def test_explain_account_shows_counted_responses_and_worked_formulas(
    world: EmulatedWorld, config: Config, parts: tuple[StateStore, Connections], tmp_path: Path
) -> None:
    store, _ = parts
    run_pass(config, store)
    _, accounts = store.inbox.routed_record_ids()
    # An account with respondents in the window, so the worked NPS formula must be shown.
    account_id = next(
        a
        for a in accounts
        if (world.salesforce.get_record("Account", a) or {}).get("NPS_Score__c") is not None
    )
    config_file = write_config(full_config_data(world, tmp_path), tmp_path / "nps-sync.yaml")
    result = CliRunner().invoke(
        main, ["explain", "account", account_id[:15], "--config", str(config_file)],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = world.salesforce.get_record("Account", account_id)
    assert record is not None
    assert account_id in result.output
    assert "counted" in result.output
    assert "100 x (promoters - detractors) / respondents" in result.output
    assert "no respondent in the window" not in result.output
    assert "Account.NPS_Score__c" in result.output
    assert "respondents / contacts" in result.output
    segments = CliRunner().invoke(
        main, ["explain", "segments", "--by", "tier", "--config", str(config_file)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert segments.exit_code == 0, segments.output
    assert "revenue-weighted NPS" in segments.output
    assert "Enterprise" in segments.output


def test_backfill_imports_history_without_actions_and_computes_every_field(
    world: EmulatedWorld, tmp_path: Path
) -> None:
    data = full_config_data(world, tmp_path)
    data["salesforce"]["api"] = {"bulk_threshold": 50, "bulk_poll_seconds": 0.05}
    config_file = write_config(data, tmp_path / "nps-sync.yaml")
    since = (date.today() - timedelta(days=800)).isoformat()

    result = CliRunner().invoke(
        main, ["backfill", "--since", since, "--config", str(config_file)], env={"COLUMNS": "200"}
    )

    assert result.exit_code == 0, result.output
    assert world.salesforce.records("Task") == []
    assert [t for t in world.zendesk.tickets() if t.get("external_id")] == []
    history = world.salesforce.records("NPS_Response__c")
    answers = answers_by_contact(world)
    assert len(history) == sum(len(v) for v in answers.values())
    assert world.salesforce.calls["bulk2_create_job"] >= 1
    contact_id, got = next(iter(answers.items()))
    record = world.salesforce.get_record("Contact", contact_id)
    assert record is not None
    assert record["NPS_Last_Score__c"] == max(got)[1]
    assert f"imported {len(world.book.responses)}" in result.output

    # A second backfill finds everything known; the daemon then acts on nothing old.
    world.salesforce.reset_counters()
    again = CliRunner().invoke(
        main, ["backfill", "--since", since, "--config", str(config_file)], env={"COLUMNS": "200"}
    )
    assert again.exit_code == 0, again.output
    assert "imported 0" in again.output
    assert world.salesforce.calls["composite_update"] == 0
    config = Config.model_validate(data)
    store = open_store(config)
    engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=RETRY)
    report = engine.run_once()
    store.close()
    assert (report.routed, report.tasks_created, report.tickets_created) == (0, 0, 0)


WRITE_CALLS = {
    "salesforce": ("composite_update", "composite_upsert"),
    "zendesk": ("users_update_many", "organizations_update_many"),
}


def written_world(tmp_path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """One pass on a fresh world: the NPS values it holds afterwards, and the write calls."""
    with EmulatedWorld(seed=11, accounts=30, responses=150) as world:
        world.zendesk.add_metric_fields()
        tmp_path.mkdir()
        config = Config.model_validate(full_config_data(world, tmp_path))
        store = open_store(config)
        try:
            run_pass(config, store)
        finally:
            store.close()
        sf, zd = world.salesforce, world.zendesk
        held = {
            "contacts": {r["Id"]: _nps(r) for r in sf.records("Contact")},
            "accounts": {r["Id"]: _nps(r) for r in sf.records("Account")},
            "history": sorted(
                repr(sorted(h.items())) for h in map(_nps, sf.records("NPS_Response__c"))
            ),
            "users": {u["id"]: u.get("user_fields") for u in zd.users()},
            "organizations": {o["id"]: o.get("organization_fields") for o in zd.organizations()},
        }
        calls = {
            name: app.calls[name]
            for system, app in (("salesforce", sf), ("zendesk", zd))
            for name in WRITE_CALLS[system]
        }
    return held, calls


def _nps(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k.startswith("NPS_") or k.endswith("__c")}


def test_write_back_planned_in_small_chunks_writes_the_same_values_with_the_same_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_calls = written_world(tmp_path / "whole")
    monkeypatch.setattr(chunks, "RESPONSES_PER_PLAN", 5)
    monkeypatch.setattr(chunks, "RECORDS_PER_PLAN", 2)
    chunked_up, chunked_calls = written_world(tmp_path / "chunked")

    assert whole["history"]  # every field and the history object are mapped
    assert chunked_up == whole
    assert chunked_calls == whole_calls
