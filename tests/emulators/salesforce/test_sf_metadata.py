"""Deploying Metadata API source files into a bare org, and field-level security after it.

A deployed custom field is invisible until an assigned permission set grants it: describe leaves
it out, SOQL does not know it and writes naming it fail; read access shows it read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError

from emulators.salesforce import DEFAULT_USERNAME, SalesforceEmulator
from emulators.salesforce.metadata import DeployError

Api = Callable[[str], SFType]
NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'


@pytest.fixture
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(seed=1, bare=True)


def text_field(name: str, length: int = 80, *, external_id: bool = False) -> str:
    flag = "true" if external_id else "false"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<CustomField {NS}>\n'
        f"<fullName>{name}</fullName><externalId>{flag}</externalId><label>{name}</label>"
        f"<length>{length}</length><required>false</required><type>Text</type>"
        f"<unique>{flag}</unique>\n</CustomField>\n"
    )


def permission_set(*grants: tuple[str, bool]) -> str:
    body = "".join(
        f"<fieldPermissions><editable>{str(edit).lower()}</editable><field>{ref}</field>"
        "<readable>true</readable></fieldPermissions>"
        for ref, edit in grants
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PermissionSet {NS}>\n{body}'
        "<label>Sync</label>\n</PermissionSet>\n"
    )


def project(root: Path, files: dict[str, str]) -> Path:
    """A Salesforce DX project with ``files`` under force-app/main/default."""
    (root / "sfdx-project.json").write_text(
        '{"packageDirectories": [{"path": "force-app", "default": true}]}', encoding="utf-8"
    )
    for relative, text in files.items():
        path = root / "force-app" / "main" / "default" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


MARKER_FILES = {
    "objects/Activity/fields/Key__c.field-meta.xml": text_field("Key__c", external_id=True),
    "objects/Account/fields/Tier__c.field-meta.xml": text_field("Tier__c", 40),
}


def field_names(sobject: Api, name: str) -> dict[str, dict[str, object]]:
    return {f["name"]: f for f in sobject(name).describe()["fields"]}


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(SalesforceError) as caught:
        call()
    # The client keeps the decoded error array in ``content`` but annotates it as bytes.
    content = cast(list[dict[str, Any]], caught.value.content)
    return str(content[0]["errorCode"])


def test_a_bare_org_has_no_custom_fields_or_objects(sf: Salesforce, sobject: Api) -> None:
    described = sf.describe()
    assert described is not None
    assert "NPS_Response__c" not in {o["name"] for o in described["sobjects"]}
    for name in ("Task", "Contact", "Account", "Lead"):
        assert not [f for f in field_names(sobject, name) if f.endswith("__c")]
    assert "WhatId" in field_names(sobject, "Task")


def test_a_deployed_field_is_invisible_until_a_permission_set_grants_it(
    emulator: SalesforceEmulator, sf: Salesforce, sobject: Api, tmp_path: Path
) -> None:
    files = {
        **MARKER_FILES,
        "permissionsets/Sync.permissionset-meta.xml": permission_set(
            ("Task.Key__c", True), ("Account.Tier__c", False)
        ),
    }
    result = emulator.deploy(project(tmp_path, files))
    assert sorted(result.fields) == ["Account.Tier__c", "Task.Key__c"]  # Activity -> Task
    assert "Key__c" not in field_names(sobject, "Task")
    assert error_code(lambda: sf.query("SELECT Key__c FROM Task")) == "INVALID_FIELD"
    create = sobject("Task").create
    assert error_code(lambda: create({"Subject": "x", "Key__c": "k1"})) == "INVALID_FIELD"

    emulator.assign_permission_set("Sync", DEFAULT_USERNAME)
    key = field_names(sobject, "Task")["Key__c"]
    assert (key["externalId"], key["unique"], key["createable"]) == (True, True, True)
    tier = field_names(sobject, "Account")["Tier__c"]
    assert (tier["createable"], tier["updateable"]) == (False, False)  # read access only
    account = emulator.insert_record("Account", {"Name": "Acme"})
    update = sobject("Account").update
    assert error_code(lambda: update(account, {"Tier__c": "Gold"})) == (
        "INVALID_FIELD_FOR_INSERT_UPDATE"
    )
    created = create({"Subject": "x", "Key__c": "k1"})
    assert (
        sf.query("SELECT Id FROM Task WHERE Key__c = 'K1'")["records"][0]["Id"] == (created["id"])
    )


def test_a_manifest_deploys_only_its_members_and_fails_on_a_missing_one(
    emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    root = project(tmp_path, MARKER_FILES)
    manifest = tmp_path / "package.xml"
    manifest.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Package {NS}><types>'
        "<members>Activity.Key__c</members><name>CustomField</name></types>"
        "<version>59.0</version></Package>\n",
        encoding="utf-8",
    )
    assert emulator.deploy(root, manifest=manifest).fields == ["Task.Key__c"]
    assert emulator.org.schema.require("Account").field("Tier__c") is None
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("Activity.Key__c", "Activity.Nope__c"),
        encoding="utf-8",
    )
    with pytest.raises(DeployError, match=r"CustomField Activity\.Nope__c: listed in"):
        emulator.deploy(root, manifest=manifest)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"objects/Task/fields/Key__c.field-meta.xml": text_field("Key__c")},
            "custom fields of tasks and events are defined on Activity",
        ),
        (
            {"objects/Widget__c/fields/Key__c.field-meta.xml": text_field("Key__c")},
            "no object named Widget__c",
        ),
        (
            {"objects/Account/fields/Key__c.field-meta.xml": text_field("Key__c", 300)},
            "Text needs a length from 1 to 255",
        ),
        (
            {
                **MARKER_FILES,
                "permissionsets/Sync.permissionset-meta.xml": permission_set(
                    ("Activity.Key__c", True)
                ),
            },
            "no CustomField named Activity.Key__c found",
        ),
    ],
    ids=["task-not-activity", "unknown-object", "text-too-long", "permission-on-activity"],
)
def test_a_failing_component_fails_the_whole_deploy(
    emulator: SalesforceEmulator, tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    with pytest.raises(DeployError, match=problem):
        emulator.deploy(project(tmp_path, files))
    assert emulator.org.schema.require("Task").field("Key__c") is None
    assert emulator.org.security.permission_sets == {}
