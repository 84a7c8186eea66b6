"""Salesforce metadata for the custom fields nps-sync needs, as a Salesforce DX project that the
Salesforce CLI deploys as it is (``sf project deploy start --manifest package.xml``).

Layout: ``sfdx-project.json`` and ``package.xml`` at the top; in ``force-app/main/default`` the
source format files: ``objects/<Object>/fields/<Field>.field-meta.xml`` per field (fields of tasks
under ``objects/Activity``, where Salesforce defines them), the history object's
``objects/<Object>/<Object>.object-meta.xml``, and a permission set that lets the integration user
read and edit every field (a deployed field is invisible to every user, administrators included,
until a profile or an assigned permission set grants it). Elements follow the order Salesforce
itself writes: ``fullName`` first, the rest alphabetical.

A field nps-sync writes says so in its description, with how long a hand edit lasts, true to the
config (:func:`upkeep_note`): contact and account fields are read back and repaired by the
reconciliation the daemon runs on ``schedule.reconcile_cron``; Lead and history fields are
compared only with what nps-sync last wrote; fields nps-sync only reads say nothing of the kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from sync.core.catalogue import ACCOUNT_METRICS, CONTACT_METRICS
from sync.core.files import write_text_whole
from sync.fields.fieldmap import RequiredField, metadata_name_problem

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
PERMISSION_SET = "NPS_Sync"
MAX_LABEL = 40
MAX_DESCRIPTION = 1000
#: Objects whose fields the reconciliation reads back and repairs (sync/stages/writeback/).
RECONCILED = frozenset({"Contact", "Account"})
#: Metrics nps-sync writes to contacts and accounts (and to Leads matched in their place).
WRITTEN_METRICS = frozenset(m.key for m in (*CONTACT_METRICS, *ACCOUNT_METRICS))
#: The project's package directory and where the source format files go inside it.
PACKAGE_DIR = "force-app"
SOURCE_DIR = Path(PACKAGE_DIR, "main", "default")
#: Objects whose custom fields Salesforce defines on another (tasks' on ``Activity``).
DEFINED_ON = {"Task": "Activity", "Event": "Activity"}
#: What the integration user does with each standard object nps-sync touches.
OBJECT_ACCESS: dict[str, tuple[str, ...]] = {
    "Account": ("allowEdit", "allowRead"),
    "Contact": ("allowEdit", "allowRead"),
    "Lead": ("allowEdit", "allowRead"),
    "Task": ("allowCreate", "allowEdit", "allowRead"),
}

Node = tuple[str, "str | list[Node]"]


def _render(nodes: Sequence[Node], depth: int) -> list[str]:
    pad = "    " * depth
    lines: list[str] = []
    for tag, value in nodes:
        if isinstance(value, str):
            lines.append(f"{pad}<{tag}>{escape(value)}</{tag}>")
        else:
            lines.append(f"{pad}<{tag}>")
            lines.extend(_render(value, depth + 1))
            lines.append(f"{pad}</{tag}>")
    return lines


def document(root: str, nodes: Sequence[Node]) -> str:
    """An XML metadata document: declaration, namespaced root, four-space indentation."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{root} xmlns="{NAMESPACE}">']
    lines += _render(nodes, 1)
    lines.append(f"</{root}>")
    return "\n".join(lines) + "\n"


def _ordered(full_name: str, nodes: list[Node]) -> list[Node]:
    return [("fullName", full_name), *sorted(nodes, key=lambda n: n[0])]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def schedule_words(cron: str) -> str:
    """A cron expression (UTC) in words: ``0 3 * * *`` -> ``daily at 03:00 UTC``."""
    parts = cron.split()
    daily = len(parts) == 5 and parts[2:] == ["*", "*", "*"]
    if daily and parts[0].isdigit() and parts[1].isdigit():
        return f"daily at {int(parts[1]):02d}:{int(parts[0]):02d} UTC"
    return f"on the cron schedule '{cron}' (UTC)"


def upkeep_note(field: RequiredField, reconcile_cron: str) -> str:
    """What a field's description says about who keeps it, for the configured schedule; ""
    for a field whose own description says it (the account's tier or ARR that nps-sync reads,
    the Task marker)."""
    if field.metric.startswith("history."):
        return (
            "Written by nps-sync from each survey response (upserted by response id); it is not "
            "read back, so a hand edit stays until the response changes."
        )
    if field.metric not in WRITTEN_METRICS:
        return ""
    managed = "Managed by nps-sync: written as responses arrive"
    if field.object not in RECONCILED:
        return (
            f"{managed}; it is not read back, so a hand edit stays until nps-sync writes a new "
            "value."
        )
    if not reconcile_cron.strip():
        return (
            f"{managed}. Its nightly repair is off (schedule.reconcile_cron is empty): a hand "
            "edit stays until nps-sync writes a new value or `nps-sync fields reconcile` runs."
        )
    return (
        f"{managed}; hand edits are overwritten by its reconciliation, "
        f"{schedule_words(reconcile_cron)} while the nps-sync daemon runs, or at once by "
        "`nps-sync fields reconcile`."
    )


def field_xml(required: RequiredField, note: str = "") -> str:
    """The ``CustomField`` document of one Salesforce field; ``note`` ends its description."""
    kind = required.type
    description = f"{required.description} {note}".strip()[:MAX_DESCRIPTION]
    nodes: list[Node] = [
        ("label", required.label[:MAX_LABEL]),
        ("description", description),
        ("inlineHelpText", required.description),
        ("type", kind),
    ]
    if kind not in ("Checkbox", "Lookup"):
        nodes.append(("required", "false"))
    if kind in ("Number", "Percent", "Currency"):
        nodes += [("precision", str(required.precision or 18)), ("scale", str(required.scale or 0))]
        nodes.append(("externalId", "false"))
    elif kind == "Checkbox":
        nodes.append(("defaultValue", "false"))
    elif kind == "Text":
        nodes += [("length", str(required.length or 255)), ("unique", _bool(required.external_id))]
        nodes.append(("externalId", _bool(required.external_id)))
        if required.external_id:
            nodes.append(("caseSensitive", "false"))
    elif kind == "LongTextArea":
        nodes += [("length", str(required.length or 32768)), ("visibleLines", "3")]
    elif kind == "Picklist":
        values: list[Node] = [
            ("value", [("fullName", v), ("default", "false"), ("label", v)])
            for v in required.picklist_values
        ]
        definition: list[Node] = [("sorted", "false"), *values]
        nodes.append(("valueSet", [("restricted", "true"), ("valueSetDefinition", definition)]))
    elif kind == "Lookup":
        nodes += [
            ("referenceTo", required.reference_to or ""),
            ("relationshipName", "NPS_Responses"),
            ("relationshipLabel", "NPS Responses"),
            ("deleteConstraint", "SetNull"),
        ]
    return document("CustomField", _ordered(required.field, nodes))


def object_xml(name: str, label: str) -> str:
    """A custom object with an auto-numbered name, readable and writable by its users."""
    nodes: list[Node] = [
        ("label", label[:MAX_LABEL]),
        ("pluralLabel", f"{label}s"[:MAX_LABEL]),
        ("description", "One record per NPS survey response, written by nps-sync."),
        ("deploymentStatus", "Deployed"),
        ("sharingModel", "ReadWrite"),
        (
            "nameField",
            [("displayFormat", "NPS-{000000}"), ("label", f"{label} Name"), ("type", "AutoNumber")],
        ),
    ]
    return document("CustomObject", _ordered(name, nodes))


def _object_permissions(name: str, allowed: Sequence[str]) -> Node:
    flags = ("allowCreate", "allowDelete", "allowEdit", "allowRead", "modifyAllRecords")
    permissions: list[Node] = [(flag, _bool(flag in allowed)) for flag in flags]
    permissions += [("object", name), ("viewAllRecords", "false")]
    return ("objectPermissions", permissions)


def permission_set_xml(fields: Sequence[RequiredField], objects: Sequence[str]) -> str:
    """Access to every field (read and edit; read only for the fields nps-sync only reads) and to
    the history object for the integration user, with the object access nps-sync needs (create
    Tasks; read and edit accounts and contacts)."""
    nodes: list[Node] = [
        ("label", "NPS Sync"),
        ("description", "Fields and objects nps-sync writes. Assign to the integration user."),
    ]
    standard = sorted({f.object for f in fields if f.object in OBJECT_ACCESS} | {"Task"})
    for name in sorted({*objects, *standard}):
        allowed = OBJECT_ACCESS.get(name, ("allowCreate", "allowEdit", "allowRead"))
        nodes.append(_object_permissions(name, allowed))
    for f in sorted(fields, key=lambda f: (f.object, f.field)):
        access: list[Node] = [
            ("editable", _bool(not f.read_only)),
            ("field", f"{f.object}.{f.field}"),
            ("readable", "true"),
        ]
        nodes.append(("fieldPermissions", access))
    # Alphabetical by tag; sorting is stable, so repeated tags keep their order.
    return document("PermissionSet", sorted(nodes, key=lambda n: n[0]))


def project_json(api_version: str) -> str:
    """``sfdx-project.json``: one package directory, the API version the config uses."""
    project = {
        "packageDirectories": [{"path": PACKAGE_DIR, "default": True}],
        "name": "nps-sync-fields",
        "namespace": "",
        "sourceApiVersion": api_version,
    }
    return json.dumps(project, indent=2) + "\n"


def defined_on(sobject: str) -> str:
    """The object a custom field of ``sobject`` is defined on in metadata (Task: Activity)."""
    return DEFINED_ON.get(sobject, sobject)


def package_xml(members: dict[str, list[str]], api_version: str) -> str:
    nodes: list[Node] = [
        ("types", [*[("members", m) for m in sorted(names)], ("name", kind)])
        for kind, names in sorted(members.items())
        if names
    ]
    nodes.append(("version", api_version))
    return document("Package", nodes)


@dataclass(frozen=True, slots=True)
class MetadataResult:
    written: list[Path]
    #: Fields left out, with why (a standard field, an invalid name).
    skipped: list[tuple[RequiredField, str]]


def write_metadata(
    required: Sequence[RequiredField],
    directory: Path,
    *,
    api_version: str,
    custom_objects: Sequence[tuple[str, str]] = (),
    reconcile_cron: str = "0 3 * * *",
) -> MetadataResult:
    """Write the Salesforce fields of ``required`` (and ``custom_objects``: name, label) as a
    Salesforce DX project under ``directory``, with a permission set, ``package.xml`` and
    ``sfdx-project.json``; descriptions follow the reconciliation schedule ``reconcile_cron``
    (``schedule.reconcile_cron``). Raises OSError when the directory cannot be written."""
    written: list[Path] = []
    skipped: list[tuple[RequiredField, str]] = []
    fields: list[RequiredField] = []
    seen: set[tuple[str, str]] = set()
    for f in required:
        if f.system != "salesforce" or (f.object.lower(), f.field.lower()) in seen:
            continue
        seen.add((f.object.lower(), f.field.lower()))
        problem = metadata_name_problem(f.field)
        if problem:
            skipped.append((f, problem))
        else:
            fields.append(f)

    def write(relative: Path, text: str) -> None:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_whole(path, text)  # killed half-way, no file is left cut short
        written.append(path)

    objects_dir = SOURCE_DIR / "objects"
    for name, label in custom_objects:
        write(objects_dir / name / f"{name}.object-meta.xml", object_xml(name, label))
    for f in fields:
        owner = defined_on(f.object)
        xml = field_xml(f, upkeep_note(f, reconcile_cron))
        write(objects_dir / owner / "fields" / f"{f.field}.field-meta.xml", xml)
    object_names = [name for name, _ in custom_objects]
    permission_set = SOURCE_DIR / "permissionsets" / f"{PERMISSION_SET}.permissionset-meta.xml"
    write(permission_set, permission_set_xml(fields, object_names))
    members = {
        "CustomField": sorted({f"{defined_on(f.object)}.{f.field}" for f in fields}),
        "CustomObject": object_names,
        "PermissionSet": [PERMISSION_SET],
    }
    write(Path("package.xml"), package_xml(members, api_version))
    write(Path("sfdx-project.json"), project_json(api_version))
    return MetadataResult(written, skipped)
