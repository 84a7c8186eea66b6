"""The field mapping in the config, what it requires, and the Salesforce metadata for it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.salesforce.describe import FieldInfo
from sync.cli import main
from sync.core.config import (
    AccountFieldMap,
    ContactFieldMap,
    OrganizationFieldMap,
    UserFieldMap,
    parse_config,
)
from sync.core.errors import ConfigFileError
from sync.fields.fieldmap import (
    ACCOUNT_METRICS,
    CONTACT_METRICS,
    RequiredField,
    field_problem,
    metadata_name_problem,
    required_fields,
    suggested_mapping,
)
from sync.fields.sfmetadata import NAMESPACE, write_metadata
from tests.metrics.conftest import make_config

NS = {"md": NAMESPACE}


def parse(path: Path) -> ET.Element:
    """Our own generated files, not untrusted input."""
    return ET.parse(path).getroot()  # noqa: S314


def by_field(required: list[RequiredField]) -> dict[tuple[str, str], RequiredField]:
    return {(f.object, f.field): f for f in required}


def test_the_config_models_offer_exactly_the_catalogued_metrics() -> None:
    assert list(ContactFieldMap.model_fields) == [m.key for m in CONTACT_METRICS]
    assert list(AccountFieldMap.model_fields) == [m.key for m in ACCOUNT_METRICS]
    assert list(UserFieldMap.model_fields) == [m.key for m in CONTACT_METRICS if m.zendesk]
    assert list(OrganizationFieldMap.model_fields) == [m.key for m in ACCOUNT_METRICS if m.zendesk]


def test_an_unknown_metric_is_an_error_with_its_position() -> None:
    text = (
        "salesforce: {instance_url: https://acme.my.salesforce.com}\n"
        "zendesk: {subdomain: acme}\n"
        "rules: rules.yaml\n"
        "write_back:\n"
        "  salesforce:\n"
        "    account:\n"
        "      nps_score: NPS__c\n"
    )
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, Path("nps-sync.yaml"))
    assert str(caught.value) == (
        "nps-sync.yaml:7:7: unknown key 'nps_score' in write_back.salesforce.account"
    )


def test_required_fields_of_the_default_mapping_are_the_legacy_ones_trend_and_sample() -> None:
    required = by_field(required_fields(make_config()))
    assert sorted(required) == [
        ("Account", "NPS_Responses__c"),
        ("Account", "NPS_Revenue_At_Risk__c"),
        ("Account", "NPS_Score__c"),
        ("Account", "NPS_Small_Sample__c"),
        ("Account", "NPS_Trend__c"),
        ("Contact", "NPS_Category__c"),
        ("Contact", "NPS_Last_Comment__c"),
        ("Contact", "NPS_Last_Response_Date__c"),
        ("Contact", "NPS_Last_Score__c"),
        ("organization", "nps_account_score"),
        ("user", "nps_category"),
        ("user", "nps_date"),
        ("user", "nps_score"),
    ]
    score = required[("Account", "NPS_Score__c")]
    assert (score.system, score.type, score.precision, score.scale) == (
        "salesforce",
        "Number",
        5,
        1,
    )
    comment = required[("Contact", "NPS_Last_Comment__c")]
    assert (comment.type, comment.length) == ("LongTextArea", 1000)
    assert required[("user", "nps_date")].type == "date"
    assert required[("Contact", "NPS_Category__c")].picklist_values == (
        "promoter",
        "passive",
        "detractor",
    )


def test_a_short_comment_length_asks_for_a_text_field_and_history_adds_its_object() -> None:
    config = make_config(write_back={"comment_length": 200, "history": {"enabled": True}})
    required = by_field(required_fields(config))
    assert (required[("Contact", "NPS_Last_Comment__c")].type, 200) == (
        "Text",
        required[("Contact", "NPS_Last_Comment__c")].length,
    )
    key = required[("NPS_Response__c", "Response_Id__c")]
    assert (key.type, key.length, key.external_id) == ("Text", 255, True)
    assert required[("NPS_Response__c", "Contact__c")].reference_to == "Contact"
    assert required[("NPS_Response__c", "Responded_At__c")].type == "DateTime"


def info(kind: str, **kw: object) -> FieldInfo:
    return FieldInfo(name="F__c", type=kind, updateable=True, createable=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("described", "problem"),
    [
        (info("double", precision=5, scale=1), None),
        (info("percent"), None),
        (None, "Account.NPS_Score__c does not exist (or the integration user cannot see it)"),
        (info("string", length=10), "Account.NPS_Score__c is string, expected Number"),
        (
            FieldInfo(name="F__c", type="double"),
            "Account.NPS_Score__c is read-only for the integration user",
        ),
    ],
)
def test_field_problem_compares_describe_with_what_the_metric_needs(
    described: FieldInfo | None, problem: str | None
) -> None:
    nps_field = by_field(required_fields(make_config()))[("Account", "NPS_Score__c")]
    assert field_problem(nps_field, described) == problem


def test_field_problem_spots_missing_picklist_values() -> None:
    category = by_field(required_fields(make_config()))[("Contact", "NPS_Category__c")]
    described = info(
        "picklist", picklist_values=("promoter", "detractor"), restricted_picklist=True
    )
    assert field_problem(category, described) == (
        "Contact.NPS_Category__c lacks the picklist values passive"
    )


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("NPS_Score__c", True),
        ("Description", False),  # a standard field: nothing to create
        ("NPS__Score__c", False),  # double underscore
        ("9NPS__c", False),
        ("A" * 41 + "__c", False),
    ],
)
def test_metadata_names(name: str, ok: bool) -> None:
    assert (metadata_name_problem(name) is None) is ok


def test_metadata_files_deploy_every_field_with_a_permission_set(tmp_path: Path) -> None:
    config = make_config(write_back={**suggested_mapping(), "comment_length": 2000})
    result = write_metadata(
        required_fields(config),
        tmp_path,
        api_version="59.0",
        custom_objects=[("NPS_Response__c", "NPS Response")],
    )
    assert result.skipped == []
    source = tmp_path / "force-app" / "main" / "default"
    fields_dir = source / "objects" / "Account" / "fields"
    nps_xml = parse(fields_dir / "NPS_Score__c.field-meta.xml")
    assert nps_xml.tag == f"{{{NAMESPACE}}}CustomField"
    assert next(iter(nps_xml)).tag == f"{{{NAMESPACE}}}fullName"
    assert nps_xml.findtext("md:type", namespaces=NS) == "Number"
    assert nps_xml.findtext("md:precision", namespaces=NS) == "5"
    assert nps_xml.findtext("md:scale", namespaces=NS) == "1"
    comment = parse(
        source / "objects" / "Contact" / "fields" / "NPS_Last_Comment__c.field-meta.xml"
    )
    assert comment.findtext("md:type", namespaces=NS) == "LongTextArea"
    assert comment.findtext("md:length", namespaces=NS) == "2000"
    key = parse(source / "objects" / "NPS_Response__c" / "fields" / "Response_Id__c.field-meta.xml")
    assert key.findtext("md:externalId", namespaces=NS) == "true"
    assert key.findtext("md:unique", namespaces=NS) == "true"
    lookup = parse(source / "objects" / "NPS_Response__c" / "fields" / "Account__c.field-meta.xml")
    assert lookup.findtext("md:referenceTo", namespaces=NS) == "Account"
    assert (source / "objects" / "NPS_Response__c" / "NPS_Response__c.object-meta.xml").exists()

    package = parse(tmp_path / "package.xml")
    types = {
        t.findtext("md:name", namespaces=NS): [m.text for m in t.findall("md:members", NS)]
        for t in package.findall("md:types", NS)
    }
    salesforce_fields = [f for f in required_fields(config) if f.system == "salesforce"]
    assert len(types["CustomField"]) == len(salesforce_fields)
    assert "Contact.NPS_Score_Change__c" in types["CustomField"]
    assert types["CustomObject"] == ["NPS_Response__c"]
    assert types["PermissionSet"] == ["NPS_Sync"]
    assert package.findtext("md:version", namespaces=NS) == "59.0"
    permset = parse(source / "permissionsets" / "NPS_Sync.permissionset-meta.xml")
    editable = {
        p.findtext("md:field", namespaces=NS)
        for p in permset.findall("md:fieldPermissions", NS)
        if p.findtext("md:editable", namespaces=NS) == "true"
    }
    assert editable == set(types["CustomField"])


@pytest.mark.parametrize(
    ("schedule", "repair"),
    [
        ("", "Its nightly repair is off (schedule.reconcile_cron is empty)"),
        (
            "reconcile_cron: '0 3 * * *'",
            "hand edits are overwritten by its reconciliation, daily at 03:00 UTC while the "
            "nps-sync daemon runs, or at once by `nps-sync fields reconcile`.",
        ),
        ("reconcile_cron: '30 1 * * mon-fri'", "on the cron schedule '30 1 * * mon-fri' (UTC)"),
    ],
)
def test_metadata_descriptions_say_who_keeps_each_field_as_configured(
    tmp_path: Path, schedule: str, repair: str
) -> None:
    config_file = tmp_path / "nps-sync.yaml"
    cron = schedule or "reconcile_cron: ''"
    config_file.write_text(
        "salesforce:\n"
        "  instance_url: https://acme.my.salesforce.com\n"
        "  matching: {order: [crm_id, email, lead, alias, domain]}\n"
        "zendesk: {subdomain: acme}\n"
        "write_back: {history: {enabled: true}}\n"
        f"schedule: {{{cron}}}\n"
        "rules: rules.yaml\n",
        encoding="utf-8",
    )
    out = tmp_path / "metadata"
    result = CliRunner().invoke(
        main, ["fields", "setup", "--config", str(config_file), "--metadata", str(out)]
    )
    assert result.exit_code == 0, result.output
    objects = out / "force-app" / "main" / "default" / "objects"

    def description(obj: str, field: str) -> str:
        xml = parse(objects / obj / "fields" / f"{field}.field-meta.xml")
        return " ".join((xml.findtext("md:description", namespaces=NS) or "").split())

    for obj, field, what in (
        ("Account", "NPS_Trend__c", "NPS now minus NPS of the previous window."),
        ("Contact", "NPS_Last_Score__c", "Score (0-10) of the latest response."),
    ):
        text = description(obj, field)
        assert text.startswith(f"{what} Managed by nps-sync: written as responses arrive")
        assert repair in text
    assert description("Account", "NPS_Small_Sample__c").startswith(
        "Too few respondents for the NPS to mean much. Managed by nps-sync"
    )
    lead = description("Lead", "NPS_Last_Score__c")
    assert "it is not read back, so a hand edit stays until nps-sync writes a new value" in lead
    history = description("NPS_Response__c", "Score__c")
    assert "it is not read back, so a hand edit stays until the response changes" in history
    assert "Managed by" not in description("Account", "Tier__c")  # nps-sync only reads it


def test_setup_command_prints_fields_and_writes_metadata(tmp_path: Path) -> None:
    config_file = tmp_path / "nps-sync.yaml"
    config_file.write_text(
        "salesforce:\n"
        "  instance_url: https://acme.my.salesforce.com\n"
        "  fields: {account_nps: Description}\n"
        "zendesk: {subdomain: acme}\n"
        "rules: rules.yaml\n",
        encoding="utf-8",
    )
    out = tmp_path / "metadata"
    result = CliRunner().invoke(
        main,
        ["fields", "setup", "--config", str(config_file), "--metadata", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "NPS_Last_Score__c" in result.output
    assert "nps_account_score" in result.output
    assert "skipped Account.Description: Description is not a custom field name" in result.output
    objects = out / "force-app" / "main" / "default" / "objects"
    assert (objects / "Contact" / "fields" / "NPS_Category__c.field-meta.xml").exists()
    assert (objects / "Activity" / "fields" / "NPS_Sync_Key__c.field-meta.xml").exists()
    outcome = parse(objects / "Activity" / "fields" / "NPS_Loop_Outcome__c.field-meta.xml")
    values = [v.text for v in outcome.iterfind(".//md:value/md:fullName", namespaces=NS)]
    assert values == ["Resolved", "Not reachable", "No action needed", "Churn risk"]
    assert "a Drop-down titled 'Loop outcome'" in " ".join(result.output.split())
    assert not (objects / "Account" / "fields" / "Description.field-meta.xml").exists()
    assert (out / "sfdx-project.json").exists()
    every = CliRunner().invoke(
        main, ["fields", "setup", "--config", str(config_file), "--all"], env={"COLUMNS": "200"}
    )
    assert every.exit_code == 0, every.output
    assert "NPS_Days_To_Renewal__c" in every.output
    assert "key_contact_coverage: NPS_Key_Contact_Coverage__c" in every.output
