"""The org's metadata: sObjects and their fields, as describe reports them and writes obey them.

Field names are case-insensitive everywhere in Salesforce, so lookups go through lower-cased
keys while every answer uses the canonical API name. One :class:`Schema` belongs to one emulator
and is mutable, so a test can remove a field or make it read-only to simulate a misconfigured org.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "url", "phone", "picklist", "combobox", "encryptedstring"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})

#: Long text areas cannot be filtered or sorted in SOQL.
MAX_FILTERABLE_TEXTAREA = 255


@dataclass(slots=True)
class FieldDef:
    """One field's metadata (the subset of describe properties the emulator acts on)."""

    name: str
    type: str
    label: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    filterable: bool = True
    sortable: bool = True
    external_id: bool = False
    unique: bool = False
    id_lookup: bool = False
    case_sensitive: bool = False
    custom: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    default_value: str | bool | None = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    defaulted_on_create: bool = False
    name_field: bool = False
    auto_number: bool = False
    derived: bool = False
    """Set by the org itself (full names, Task.IsClosed), never by a write."""

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_id(self) -> bool:
        return self.type in ID_TYPES

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES

    @property
    def is_indexed(self) -> bool:
        """Fields the store keeps a lookup index for (upsert keys, unique checks)."""
        return self.type != "id" and (self.external_id or self.unique or self.id_lookup)


@dataclass(slots=True)
class SObjectDef:
    """One sObject type: its key prefix and fields in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)

    def add(self, *defs: FieldDef) -> SObjectDef:
        for definition in defs:
            self.fields[definition.name.lower()] = definition
        return self

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (``Owner`` → ``OwnerId``)."""
        wanted = name.lower()
        for definition in self.fields.values():
            if definition.relationship_name and definition.relationship_name.lower() == wanted:
                return definition
        return None

    def __iter__(self) -> Iterator[FieldDef]:
        return iter(self.fields.values())


class Schema:
    """All sObject types of the org, by case-insensitive name and by key prefix."""

    def __init__(self, objects: list[SObjectDef]) -> None:
        self._objects = {obj.name.lower(): obj for obj in objects}

    def get(self, name: str) -> SObjectDef | None:
        return self._objects.get(name.lower())

    def by_prefix(self, prefix: str) -> SObjectDef | None:
        for obj in self._objects.values():
            if obj.key_prefix == prefix:
                return obj
        return None

    def __iter__(self) -> Iterator[SObjectDef]:
        return iter(self._objects.values())

    def put(self, obj: SObjectDef) -> None:
        """Add an sObject type, or replace the one of that name (a deployed custom object)."""
        self._objects[obj.name.lower()] = obj

    def require(self, sobject: str) -> SObjectDef:
        found = self.get(sobject)
        if found is None:
            raise KeyError(f"unknown sObject {sobject!r}")
        return found

    def remove_field(self, sobject: str, name: str) -> None:
        """Drop a field, as if an admin deleted it or hid it from the integration user."""
        obj = self.require(sobject)
        if obj.fields.pop(name.lower(), None) is None:
            raise KeyError(f"{obj.name} has no field {name!r}")

    def set_field_updateable(self, sobject: str, name: str, updateable: bool) -> None:
        """Make a field read-only (or writable again) for the integration user."""
        definition = self.require(sobject).field(name)
        if definition is None:
            raise KeyError(f"{sobject} has no field {name!r}")
        definition.updateable = updateable
        definition.createable = updateable

    def children_of(self, sobject: str) -> list[tuple[SObjectDef, FieldDef]]:
        """(child object, reference field) pairs that point at ``sobject``."""
        target = self.require(sobject).name
        return [
            (obj, definition)
            for obj in self._objects.values()
            for definition in obj
            if target in definition.reference_to
        ]
