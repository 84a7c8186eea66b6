"""Salesforce metadata for the fields the write-back mapping needs, deployable with the Salesforce
CLI (``sf project deploy start``).

Layout (source format): ``objects/<Object>/fields/<Field>.field-meta.xml`` per field, the history
object's ``objects/<Object>/<Object>.object-meta.xml``, a permission set that lets the integration
user read and edit every field (new fields are invisible to everyone until some profile or
permission set grants them), and ``package.xml`` listing it all. Elements follow the order
Salesforce itself writes: ``fullName`` first, the rest alphabetical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from sync.fields.fieldmap import RequiredField, metadata_name_problem

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
PERMISSION_SET = "NPS_Sync"
MAX_LABEL = 40

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


def field_xml(required: RequiredField) -> str:
    """The ``CustomField`` document of one Salesforce field."""
    kind = required.type
    nodes: list[Node] = [
        ("label", required.label[:MAX_LABEL]),
        ("description", required.description),
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


def permission_set_xml(fields: Sequence[RequiredField], objects: Sequence[str]) -> str:
    """Read and edit access to every field (and the history object) for the integration user."""
    nodes: list[Node] = [
        ("label", "NPS Sync"),
        ("description", "Fields and objects nps-sync writes. Assign to the integration user."),
    ]
    for name in sorted(objects):
        permissions: list[Node] = [
            ("allowCreate", "true"),
            ("allowDelete", "false"),
            ("allowEdit", "true"),
            ("allowRead", "true"),
            ("modifyAllRecords", "false"),
            ("object", name),
            ("viewAllRecords", "false"),
        ]
        nodes.append(("objectPermissions", permissions))
    for f in sorted(fields, key=lambda f: (f.object, f.field)):
        access: list[Node] = [
            ("editable", "true"),
            ("field", f"{f.object}.{f.field}"),
            ("readable", "true"),
        ]
        nodes.append(("fieldPermissions", access))
    # Alphabetical by tag; sorting is stable, so repeated tags keep their order.
    return document("PermissionSet", sorted(nodes, key=lambda n: n[0]))


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
) -> MetadataResult:
    """Write the Salesforce fields of ``required`` (and ``custom_objects``: name, label) under
    ``directory``, with a permission set and ``package.xml``."""
    written: list[Path] = []
    skipped: list[tuple[RequiredField, str]] = []
    fields: list[RequiredField] = []
    for f in required:
        if f.system != "salesforce":
            continue
        problem = metadata_name_problem(f.field)
        if problem:
            skipped.append((f, problem))
        else:
            fields.append(f)
    objects_dir = directory / "objects"
    for name, label in custom_objects:
        path = objects_dir / name / f"{name}.object-meta.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(object_xml(name, label), encoding="utf-8")
        written.append(path)
    for f in fields:
        path = objects_dir / f.object / "fields" / f"{f.field}.field-meta.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(field_xml(f), encoding="utf-8")
        written.append(path)
    object_names = [name for name, _ in custom_objects]
    permsets = directory / "permissionsets" / f"{PERMISSION_SET}.permissionset-meta.xml"
    permsets.parent.mkdir(parents=True, exist_ok=True)
    permsets.write_text(permission_set_xml(fields, object_names), encoding="utf-8")
    written.append(permsets)
    members = {
        "CustomField": [f"{f.object}.{f.field}" for f in fields],
        "CustomObject": object_names,
        "PermissionSet": [PERMISSION_SET],
    }
    package = directory / "package.xml"
    package.write_text(package_xml(members, api_version), encoding="utf-8")
    written.append(package)
    return MetadataResult(written, skipped)
