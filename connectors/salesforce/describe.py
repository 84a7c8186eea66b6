"""What ``describe`` says about an object's fields, as plain records.

``nps-sync check`` compares these with the configuration: does each named field exist, is its type
one we can read or write, may the integration user update it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """The describe properties of one field that decide whether nps-sync can use it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    createable: bool = False
    updateable: bool = False
    filterable: bool = False
    external_id: bool = False
    unique: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An sObject's fields by lower-cased API name (Salesforce names are case-insensitive)."""

    name: str
    fields: Mapping[str, FieldInfo]

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name.lower())


def parse_field(raw: Mapping[str, Any]) -> FieldInfo:
    return FieldInfo(
        name=str(raw.get("name", "")),
        type=str(raw.get("type", "")),
        label=str(raw.get("label") or ""),
        length=int(raw.get("length") or 0),
        precision=int(raw.get("precision") or 0),
        scale=int(raw.get("scale") or 0),
        createable=bool(raw.get("createable")),
        updateable=bool(raw.get("updateable")),
        filterable=bool(raw.get("filterable")),
        external_id=bool(raw.get("externalId")),
        unique=bool(raw.get("unique")),
        picklist_values=tuple(
            str(p.get("value"))
            for p in raw.get("picklistValues") or []
            if isinstance(p, Mapping) and p.get("active", True)
        ),
        restricted_picklist=bool(raw.get("restrictedPicklist")),
        reference_to=tuple(str(r) for r in raw.get("referenceTo") or []),
    )


def parse_object(raw: Mapping[str, Any]) -> ObjectInfo:
    fields = [parse_field(f) for f in raw.get("fields") or [] if isinstance(f, Mapping)]
    return ObjectInfo(name=str(raw.get("name", "")), fields={f.name.lower(): f for f in fields})
