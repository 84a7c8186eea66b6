"""A deploy of Metadata API source files into the emulated org, as ``sf project deploy start`` does.

It reads a Salesforce DX project (``sfdx-project.json`` and its package directories) or a bare
source folder: ``objects/<Object>/<Object>.object-meta.xml`` (custom objects),
``objects/<Object>/fields/<Field>.field-meta.xml`` (``CustomField``) and
``permissionsets/<Name>.permissionset-meta.xml`` (``PermissionSet``). With a manifest
(``package.xml``) only the members it lists are deployed, and a listed member missing from the
source fails the deploy. Like a production deploy, it is all or nothing: every component is
checked first and nothing changes if one fails.

What it models of the real platform:

- custom fields of tasks are defined on ``Activity`` and appear on ``Task``;
- a new custom field is visible to nobody until a permission set grants it and is assigned
  (:mod:`emulators.salesforce.security`);
- a permission set may not name a field that does not exist, or grant access to a required field.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from emulators.salesforce.org import Org
from emulators.salesforce.schema import FieldDef, SObjectDef
from emulators.salesforce.security import FieldPermission, ObjectPermission, PermissionSet
from emulators.salesforce.standard_schema import (
    audit_fields,
    number,
    owner,
    picklist,
    plain,
    reference,
    system_fields,
    text,
)

NS: Final = "{http://soap.sforce.com/2006/04/metadata}"
#: Objects whose custom fields are defined on ``Activity``.
ACTIVITY_OBJECTS: Final = ("Task", "Event")
MAX_TEXT: Final = 255
MAX_LONG_TEXT: Final = 131_072


class DeployError(Exception):
    """The deploy failed; ``problems`` lists each failing component with why, as the CLI does."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class DeployResult:
    objects: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    permission_sets: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Field:
    object: str
    definition: FieldDef
    required: bool


@dataclass
class _Plan:
    objects: list[SObjectDef] = field(default_factory=list)
    fields: list[_Field] = field(default_factory=list)
    permission_sets: list[PermissionSet] = field(default_factory=list)


def deploy(org: Org, directory: Path, manifest: Path | None = None) -> DeployResult:
    """Deploy the source under ``directory`` (only ``manifest``'s members when given)."""
    sources = _sources(directory)
    wanted = _manifest(manifest) if manifest is not None else None
    problems: list[str] = []
    plan = _Plan()
    object_files = {name: path for (kind, name), path in sources.items() if kind == "CustomObject"}
    field_files = {name: path for (kind, name), path in sources.items() if kind == "CustomField"}
    set_files = {name: path for (kind, name), path in sources.items() if kind == "PermissionSet"}
    if wanted is not None:
        for kind, name in sorted(wanted - set(sources)):
            problems.append(f"{kind} {name}: listed in {manifest} but not found in {directory}")
        object_files = {n: p for n, p in object_files.items() if ("CustomObject", n) in wanted}
        field_files = {n: p for n, p in field_files.items() if ("CustomField", n) in wanted}
        set_files = {n: p for n, p in set_files.items() if ("PermissionSet", n) in wanted}
    for name, path in sorted(object_files.items()):
        _plan_object(org, name, path, plan, problems)
    new_objects = {obj.name for obj in plan.objects}
    for name, path in sorted(field_files.items()):
        _plan_field(org, name, path, new_objects, plan, problems)
    for name, path in sorted(set_files.items()):
        _plan_permission_set(org, name, path, plan, problems)
    if problems:
        raise DeployError(problems)
    return _apply(org, plan)


# -- reading the source ----------------------------------------------------------------------------
def _sources(directory: Path) -> dict[tuple[str, str], Path]:
    """(metadata type, member name) -> file, for every component under the project's roots."""
    project = directory / "sfdx-project.json"
    roots = [directory]
    if project.exists():
        settings = json.loads(project.read_text(encoding="utf-8"))
        roots = [directory / str(p["path"]) for p in settings.get("packageDirectories", [])]
    found: dict[tuple[str, str], Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*-meta.xml")):
            if path.name.endswith(".object-meta.xml") and path.parent.parent.name == "objects":
                found["CustomObject", path.name.removesuffix(".object-meta.xml")] = path
            elif path.name.endswith(".field-meta.xml") and path.parent.name == "fields":
                obj = path.parent.parent.name
                found["CustomField", f"{obj}.{path.name.removesuffix('.field-meta.xml')}"] = path
            elif path.name.endswith(".permissionset-meta.xml"):
                found["PermissionSet", path.name.removesuffix(".permissionset-meta.xml")] = path
    return found


def _manifest(path: Path) -> set[tuple[str, str]]:
    root = _parse(path)
    return {
        (_text(types, "name"), member.text or "")
        for types in root.findall(f"{NS}types")
        for member in types.findall(f"{NS}members")
    }


def _parse(path: Path) -> ET.Element:
    # Metadata files a test generated on this machine, read by test tooling only.
    return ET.parse(path).getroot()  # noqa: S314


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(f"{NS}{tag}")
    return (found.text or "").strip() if found is not None else default


def _flag(element: ET.Element, tag: str) -> bool:
    return _text(element, tag, "false") == "true"


def _int(element: ET.Element, tag: str, default: int = 0) -> int:
    value = _text(element, tag)
    return int(value) if value.isdigit() else default


# -- planning: everything is checked before anything changes ------------------------------------
def _plan_object(org: Org, name: str, path: Path, plan: _Plan, problems: list[str]) -> None:
    root = _parse(path)
    if not name.endswith("__c"):
        return  # a standard object's file carries settings only; fields come in their own files
    label = _text(root, "label") or name.removesuffix("__c").replace("_", " ")
    plural = _text(root, "pluralLabel") or label + "s"
    name_field = root.find(f"{NS}nameField")
    if name_field is None or _text(root, "sharingModel") == "" or not label:
        problems.append(f"CustomObject {name}: needs label, nameField and sharingModel ({path})")
        return
    existing = org.schema.get(name)
    prefix = existing.key_prefix if existing is not None else _free_prefix(org, plan)
    obj = SObjectDef(name, label, plural, prefix, custom=True)
    obj.add(*system_fields("Record"))
    auto = _text(name_field, "type") == "AutoNumber"
    name_def = text(
        "Name",
        80,
        label=_text(name_field, "label") or f"{label} Name",
        nillable=False,
        name_field=True,
        auto_number=auto,
        defaulted_on_create=auto,
    )
    if auto:
        name_def.createable = name_def.updateable = False
    obj.add(name_def, owner(("Group", "User")), *audit_fields())
    if existing is not None:  # a redeploy keeps the object's custom fields
        obj.add(*(d for d in existing if d.custom))
    plan.objects.append(obj)


def _free_prefix(org: Org, plan: _Plan) -> str:
    taken = {obj.key_prefix for obj in org.schema} | {obj.key_prefix for obj in plan.objects}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if f"a0{letter}" not in taken:
            return f"a0{letter}"
    raise AssertionError("no key prefix left for a custom object")


def _targets(org: Org, obj_name: str, new_objects: set[str]) -> list[str]:
    """The sObjects a field of ``obj_name`` lands on (``Activity``: Task and Event)."""
    names = list(ACTIVITY_OBJECTS) if obj_name == "Activity" else [obj_name]
    return [n for n in names if org.schema.get(n) is not None or n in new_objects]


def _plan_field(
    org: Org, member: str, path: Path, new_objects: set[str], plan: _Plan, problems: list[str]
) -> None:
    obj_name, name = member.split(".", 1)
    root = _parse(path)
    where = f"CustomField {member}"
    if _text(root, "fullName") not in ("", name):
        problems.append(f"{where}: fullName {_text(root, 'fullName')} does not match the file")
        return
    if obj_name in ACTIVITY_OBJECTS:
        problems.append(f"{where}: custom fields of tasks and events are defined on Activity")
        return
    targets = _targets(org, obj_name, new_objects)
    if not targets:
        problems.append(f"{where}: no object named {obj_name}")
        return
    if not name.endswith("__c"):
        problems.append(f"{where}: a custom field's name ends in __c")
        return
    try:
        definition = _definition(name, root, org, new_objects)
    except ValueError as error:
        problems.append(f"{where}: {error}")
        return
    required = _flag(root, "required")
    for target in targets:
        plan.fields.append(_Field(target, dataclasses.replace(definition), required))


def _definition(name: str, root: ET.Element, org: Org, new_objects: set[str]) -> FieldDef:
    kind = _text(root, "type")
    label = _text(root, "label")
    if not label:
        raise ValueError("label is required")
    if kind == "Text":
        length = _int(root, "length")
        if not 1 <= length <= MAX_TEXT:
            raise ValueError(f"Text needs a length from 1 to {MAX_TEXT}")
        external = _flag(root, "externalId")
        unique = _flag(root, "unique")
        return text(
            name,
            length,
            external_id=external,
            unique=unique,
            id_lookup=external or unique,
            case_sensitive=_flag(root, "caseSensitive"),
            label=label,
            custom=True,
        )
    if kind == "LongTextArea":
        length = _int(root, "length")
        if not MAX_TEXT < length <= MAX_LONG_TEXT or not _int(root, "visibleLines"):
            raise ValueError(
                f"LongTextArea needs a length from 256 to {MAX_LONG_TEXT} and visibleLines"
            )
        return text(name, length, kind="textarea", label=label, custom=True)
    if kind in ("Number", "Percent", "Currency"):
        precision, scale = _int(root, "precision"), _int(root, "scale")
        if not 1 <= precision <= 18 or scale > precision:
            raise ValueError(f"{kind} needs a precision from 1 to 18 and a scale within it")
        described = {"Number": "double", "Percent": "percent", "Currency": "currency"}[kind]
        return number(name, described, precision, scale, label=label, custom=True)
    if kind == "Checkbox":
        default = _text(root, "defaultValue")
        if default not in ("true", "false"):
            raise ValueError("Checkbox needs defaultValue true or false")
        return plain(
            name,
            "boolean",
            nillable=False,
            default_value=default == "true",
            defaulted_on_create=True,
            label=label,
            custom=True,
        )
    if kind in ("Date", "DateTime"):
        return plain(name, kind.lower(), label=label, custom=True)
    if kind == "Url":
        return text(name, MAX_TEXT, kind="url", label=label, custom=True)
    if kind == "Picklist":
        return _picklist(name, root, label)
    if kind == "Lookup":
        target = _text(root, "referenceTo")
        relationship = _text(root, "relationshipName")
        if org.schema.get(target) is None and target not in new_objects:
            raise ValueError(f"referenceTo names no object: {target!r}")
        if not relationship:
            raise ValueError("Lookup needs a relationshipName")
        return reference(
            name,
            (target,),
            name.removesuffix("__c") + "__r",
            child=relationship + "__r",
            label=label,
            custom=True,
        )
    raise ValueError(f"unsupported field type {kind!r}")


def _picklist(name: str, root: ET.Element, label: str) -> FieldDef:
    value_set = root.find(f"{NS}valueSet")
    definition = value_set.find(f"{NS}valueSetDefinition") if value_set is not None else None
    if value_set is None or definition is None:
        raise ValueError("Picklist needs a valueSet with a valueSetDefinition")
    values = [_text(v, "fullName") for v in definition.findall(f"{NS}value")]
    if not values or not all(values):
        raise ValueError("Picklist needs at least one value, each with a fullName")
    default = next(
        (_text(v, "fullName") for v in definition.findall(f"{NS}value") if _flag(v, "default")),
        None,
    )
    return picklist(
        name,
        tuple(values),
        restricted=_flag(value_set, "restricted"),
        default=default,
        label=label,
        custom=True,
    )


def _plan_permission_set(org: Org, name: str, path: Path, plan: _Plan, problems: list[str]) -> None:
    root = _parse(path)
    where = f"PermissionSet {name}"
    label = _text(root, "label")
    if not label:
        problems.append(f"{where}: label is required")
        return
    planned = {(f.object.lower(), f.definition.name.lower()): f for f in plan.fields}
    grants: list[FieldPermission] = []
    for element in root.findall(f"{NS}fieldPermissions"):
        ref = _text(element, "field")
        obj_name, _, field_name = ref.partition(".")
        new = planned.get((obj_name.lower(), field_name.lower()))
        obj = org.schema.get(obj_name)
        existing = obj.field(field_name) if obj is not None else None
        if new is None and existing is None:
            problems.append(f"{where}: In field: field - no CustomField named {ref} found")
            continue
        if new is not None and new.required:
            problems.append(f"{where}: You cannot deploy to a required field: {ref}")
            continue
        readable, editable = _flag(element, "readable"), _flag(element, "editable")
        if editable and not readable:
            problems.append(f"{where}: {ref} is editable but not readable")
            continue
        grants.append(FieldPermission(obj_name, field_name, readable, editable))
    objects = [
        ObjectPermission(
            _text(element, "object"),
            create=_flag(element, "allowCreate"),
            read=_flag(element, "allowRead"),
            edit=_flag(element, "allowEdit"),
            delete=_flag(element, "allowDelete"),
        )
        for element in root.findall(f"{NS}objectPermissions")
    ]
    plan.permission_sets.append(PermissionSet(name, label, tuple(grants), tuple(objects)))


# -- applying ------------------------------------------------------------------------------------
def _apply(org: Org, plan: _Plan) -> DeployResult:
    result = DeployResult()
    for obj in plan.objects:
        org.schema.put(obj)
        result.objects.append(obj.name)
    for planned in plan.fields:
        obj = org.schema.require(planned.object)
        new = obj.field(planned.definition.name) is None
        obj.add(planned.definition)
        if new:
            org.security.control(obj.name, planned.definition.name)
            _backfill(org, obj, planned.definition)
        result.fields.append(f"{obj.name}.{planned.definition.name}")
    for permission_set in plan.permission_sets:
        org.security.permission_sets[permission_set.name] = permission_set
        result.permission_sets.append(permission_set.name)
    org.store.forget_indexes()
    return result


def _backfill(org: Org, obj: SObjectDef, definition: FieldDef) -> None:
    """Existing records get the new field's default (false for a checkbox, else null)."""
    default = definition.default_value if definition.type == "boolean" else None
    for record in org.store.rows(obj, include_deleted=True):
        record.setdefault(definition.name, default)
