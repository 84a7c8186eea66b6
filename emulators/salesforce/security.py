"""Field-level security: which users may see and edit the fields that permission sets open.

A custom field deployed through the Metadata API is visible to nobody until a profile or an
assigned permission set grants it (not even to administrators). Fields the org was built with
(:mod:`standard_schema`) are treated as granted by the users' profile. For a field a user cannot
read, describe leaves the field out, SOQL answers ``No such column`` and a write is refused, as
Salesforce does; a field the user may read but not edit is described as neither createable nor
updateable, and a write to it is refused.

Custom fields of activities are defined once on ``Activity`` and appear on ``Task`` (and
``Event``); permission sets grant them as ``Task.Field__c``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from emulators.salesforce.errors import ApiError

Access = Literal["edit", "read"]
FieldKey = tuple[str, str]


def field_key(sobject: str, name: str) -> FieldKey:
    return sobject.lower(), name.lower()


@dataclass(frozen=True, slots=True)
class FieldPermission:
    sobject: str
    field: str
    readable: bool
    editable: bool


@dataclass(frozen=True, slots=True)
class ObjectPermission:
    sobject: str
    create: bool
    read: bool
    edit: bool
    delete: bool


@dataclass(frozen=True, slots=True)
class PermissionSet:
    name: str
    label: str
    fields: tuple[FieldPermission, ...] = ()
    objects: tuple[ObjectPermission, ...] = ()


@dataclass
class FieldSecurity:
    """Controlled fields, the org's permission sets and who holds which."""

    #: Fields that only a permission set opens (deployed ones), by lower-cased object and name.
    controlled: set[FieldKey] = field(default_factory=set)
    permission_sets: dict[str, PermissionSet] = field(default_factory=dict)
    #: user id -> names of the permission sets assigned to that user.
    assignments: dict[str, set[str]] = field(default_factory=dict)

    def control(self, sobject: str, name: str) -> None:
        """Close a new field to every user until a permission set grants it."""
        self.controlled.add(field_key(sobject, name))

    def access(self, user_id: str, sobject: str, name: str) -> Access | None:
        """What ``user_id`` may do with the field: edit, read, or nothing (None)."""
        key = field_key(sobject, name)
        if key not in self.controlled:
            return "edit"
        best: Access | None = None
        for set_name in self.assignments.get(user_id, ()):
            for grant in self.permission_sets[set_name].fields:
                if field_key(grant.sobject, grant.field) != key:
                    continue
                if grant.editable:
                    return "edit"
                if grant.readable:
                    best = "read"
        return best

    def assign(self, user_id: str, name: str) -> None:
        if name not in self.permission_sets:
            raise KeyError(f"no permission set named {name!r}")
        self.assignments.setdefault(user_id, set()).add(name)

    def check_write(
        self, user_id: str, sobject: str, names: Iterable[str], *, creating: bool
    ) -> None:
        """Refuse a write naming a field the user cannot see (as unknown) or cannot edit."""
        hidden = [n for n in names if self.access(user_id, sobject, n) is None]
        if hidden:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{hidden[0]}' on sobject of type {sobject}"
            )
        read_only = [n for n in names if self.access(user_id, sobject, n) == "read"]
        if read_only:
            verb = "create" if creating else "update"
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {verb} fields: {', '.join(read_only)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                read_only,
            )
