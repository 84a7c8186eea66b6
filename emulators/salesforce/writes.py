"""The write path shared by single-record DML, sObject Collections and Bulk 2.0.

:class:`Writer` turns a request body into typed values (request-level errors: unknown field,
unparseable value) and applies create/update/upsert/delete to a :class:`RecordSource`, raising
:class:`RejectedRecordError` with Salesforce's status codes when one record is rejected: read-only
field, required field missing, string too long, bad restricted-picklist value, bad reference,
row lock, validation rule, duplicate unique value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from emulators.salesforce import ids, values
from emulators.salesforce.errors import ApiError, RejectedRecordError, json_parser_error
from emulators.salesforce.schema import FieldDef, SObjectDef
from emulators.salesforce.standard_schema import OPPORTUNITY_STAGES
from emulators.salesforce.store import Record, RecordSource

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_READ_ONLY_HINT: Final = (
    "Please check the security settings of this field and verify that it is read/write for "
    "your profile or permission set."
)
#: Keys of a record body that are not fields.
_NOT_FIELDS: Final = frozenset({"attributes"})


@dataclass(frozen=True, slots=True)
class ValidationRule:
    """An org validation rule: ``predicate`` returns True when the record is *invalid*.

    Like a Salesforce error-condition formula. The predicate sees the record as the REST API
    would render it (canonical field names, JSON values) after the change is applied.
    """

    sobject: str
    predicate: Callable[[dict[str, Any]], bool]
    message: str
    field: str | None = None


class AmbiguousKeyError(Exception):
    """An upsert key matched several records (HTTP 300 / DUPLICATE_EXTERNAL_ID)."""

    def __init__(self, field: str, record_ids: list[str]) -> None:
        super().__init__(f"{field} matches {len(record_ids)} records")
        self.field = field
        self.record_ids = record_ids


class Writer:
    """Validates and applies record writes; stateless apart from auto-number counters."""

    def __init__(
        self,
        *,
        ids_factory: ids.IdFactory,
        clock: Callable[[], datetime],
        rules: list[ValidationRule],
    ) -> None:
        self._ids = ids_factory
        self._clock = clock
        self._rules = rules
        self._auto_numbers: dict[str, int] = {}

    # -- request parsing -----------------------------------------------------------------------
    def parse_body(self, sobject: SObjectDef, body: Mapping[str, Any]) -> dict[str, Any]:
        """Typed values by canonical field name; unknown fields fail the whole request."""
        parsed: dict[str, Any] = {}
        for key, raw in body.items():
            if key in _NOT_FIELDS:
                continue
            definition = sobject.field(key)
            if definition is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {sobject.name}",
                )
            try:
                parsed[definition.name] = values.from_json(definition, raw)
            except values.BadValueError as exc:
                raise json_parser_error(str(exc)) from None
        return parsed

    # -- DML -----------------------------------------------------------------------------------
    def create(
        self,
        src: RecordSource,
        sobject: SObjectDef,
        fields: Mapping[str, Any],
        *,
        user_id: str,
        locked: bool = False,
    ) -> str:
        if "Id" in fields:
            raise RejectedRecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
            )
        self._check_writable(sobject, fields, creating=True)
        now = self._clock()
        record: Record = {definition.name: None for definition in sobject}
        record.update(self._defaults(sobject))
        record_id = self._ids.new(sobject.key_prefix)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=now,
            CreatedById=user_id,
            LastModifiedDate=now,
            LastModifiedById=user_id,
            SystemModstamp=now,
        )
        if sobject.field("OwnerId") is not None:
            record["OwnerId"] = user_id
        record.update(self._checked(src, sobject, fields))
        self._require(sobject, record, record.keys())
        if "OwnerId" in fields:
            _check_owner(src, sobject, record["OwnerId"])
        self._derive(src, sobject, record, creating=True)
        self._finish(src, sobject, record, locked=locked)
        return record_id

    def update(
        self,
        src: RecordSource,
        sobject: SObjectDef,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        user_id: str,
        locked: bool = False,
    ) -> None:
        existing = self._existing(src, sobject, record_id)
        changes = {k: v for k, v in fields.items() if k != "Id"}
        self._check_writable(sobject, changes, creating=False)
        record = dict(existing)
        record.update(self._checked(src, sobject, changes))
        now = self._clock()
        record.update(LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
        self._require(sobject, record, changes.keys())
        if "OwnerId" in changes:
            _check_owner(src, sobject, record["OwnerId"])
        self._derive(src, sobject, record, creating=False)
        self._finish(src, sobject, record, locked=locked)

    def upsert(
        self,
        src: RecordSource,
        sobject: SObjectDef,
        key_field: FieldDef,
        key: Any,
        fields: Mapping[str, Any],
        *,
        user_id: str,
        locked: bool = False,
    ) -> tuple[str, bool]:
        """Create or update by ``key_field``; returns ``(id, created)``."""
        if key_field.type == "id":
            if key is None or key == "":
                body = {k: v for k, v in fields.items() if k != "Id"}
                return self.create(src, sobject, body, user_id=user_id, locked=locked), True
            if not (isinstance(key, str) and ids.is_valid_id(key)):
                raise RejectedRecordError("MALFORMED_ID", f"malformed id {key}", ["Id"])
            record_id = ids.to_18(key)
            self.update(src, sobject, record_id, fields, user_id=user_id, locked=locked)
            return record_id, False
        if key is None or key == "":
            raise RejectedRecordError("MISSING_ARGUMENT", f"{key_field.name} not specified", [])
        matches = src.find_by(sobject, key_field.name, key)
        if len(matches) > 1:
            raise AmbiguousKeyError(key_field.name, matches)
        body = dict(fields)
        if matches:
            body.pop(key_field.name, None)
            self.update(src, sobject, matches[0], body, user_id=user_id, locked=locked)
            return matches[0], False
        body[key_field.name] = key
        return self.create(src, sobject, body, user_id=user_id, locked=locked), True

    def delete(
        self,
        src: RecordSource,
        sobject: SObjectDef,
        record_id: str,
        *,
        user_id: str,
        locked: bool = False,
    ) -> None:
        record = dict(self._existing(src, sobject, record_id))
        if locked:
            raise _lock_failure(record_id)
        now = self._clock()
        record.update(
            IsDeleted=True, LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now
        )
        src.put(sobject, record)

    # -- checks --------------------------------------------------------------------------------
    def _existing(self, src: RecordSource, sobject: SObjectDef, record_id: str) -> Record:
        record = src.get(sobject, record_id)
        if record is None:
            raise RejectedRecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
            )
        if record.get("IsDeleted"):
            raise RejectedRecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def _check_writable(
        self, sobject: SObjectDef, fields: Mapping[str, Any], *, creating: bool
    ) -> None:
        blocked = []
        for name in fields:
            definition = sobject.field(name)
            if definition is None:
                continue
            allowed = definition.createable if creating else definition.updateable
            if not allowed:
                blocked.append(definition.name)
        if blocked:
            raise RejectedRecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(blocked)}. {_READ_ONLY_HINT}",
                blocked,
            )

    def _checked(
        self, src: RecordSource, sobject: SObjectDef, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for name, value in fields.items():
            definition = sobject.field(name)
            if definition is None:
                continue
            checked[definition.name] = self._check_value(src, definition, value)
        return checked

    def _check_value(self, src: RecordSource, definition: FieldDef, value: Any) -> Any:
        label, name = definition.label, definition.name
        if value is None:
            return False if definition.type == "boolean" else None
        if definition.is_text and isinstance(value, str):
            if definition.length and len(value) > definition.length:
                raise RejectedRecordError(
                    "STRING_TOO_LONG",
                    f"{label}: data value too large: {value[:60]} (max length={definition.length})",
                    [name],
                )
            if definition.type == "email" and not _EMAIL.match(value):
                raise RejectedRecordError(
                    "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [name]
                )
            if definition.restricted_picklist and value not in definition.picklist_values:
                raise RejectedRecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{label}: bad value for restricted picklist field: {value}",
                    [name],
                )
            return value
        if definition.type == "reference":
            return self._check_reference(src, definition, str(value))
        if definition.is_number and isinstance(value, float):
            return self._check_number(definition, value)
        return value

    def _check_reference(self, src: RecordSource, definition: FieldDef, value: str) -> str:
        label, name = definition.label, definition.name
        if not ids.is_valid_id(value):
            raise RejectedRecordError(
                "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [name]
            )
        target = src.schema.by_prefix(value[:3])
        if target is None or target.name not in definition.reference_to:
            if value.startswith("00G") and "Group" in definition.reference_to:
                return ids.to_18(value)
            raise RejectedRecordError(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [name]
            )
        record = src.get(target, ids.to_18(value))
        if record is None:
            raise RejectedRecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]
            )
        if record.get("IsDeleted"):  # in the recycle bin: Salesforce says so on the field
            raise RejectedRecordError("ENTITY_IS_DELETED", "entity is deleted", [name])
        return ids.to_18(value)

    def _check_number(self, definition: FieldDef, value: float) -> float:
        if definition.precision:
            whole_digits = len(str(int(abs(value)))) if abs(value) >= 1 else 0
            if whole_digits > definition.precision - definition.scale:
                raise RejectedRecordError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{definition.label}: value outside of valid range on numeric field: {value}",
                    [definition.name],
                )
            return round(value, definition.scale)
        return value

    def _require(self, sobject: SObjectDef, record: Record, touched: Any) -> None:
        touched_lower = {str(name).lower() for name in touched}
        missing = [
            definition.name
            for definition in sobject
            if not definition.nillable
            and definition.createable
            and not definition.derived
            and definition.name.lower() in touched_lower
            and record.get(definition.name) is None
        ]
        if missing:
            raise RejectedRecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    @staticmethod
    def _defaults(sobject: SObjectDef) -> dict[str, Any]:
        return {
            definition.name: definition.default_value
            for definition in sobject
            if definition.default_value is not None
        }

    def _derive(
        self, src: RecordSource, sobject: SObjectDef, record: Record, *, creating: bool
    ) -> None:
        """Fill derived fields: full names, auto numbers, Task.IsClosed, Task.CompletedDateTime
        (when it was first closed, cleared on reopening), Task.AccountId and the Opportunity
        fields that follow its stage."""
        name_field = sobject.field("Name")
        if name_field is not None and name_field.derived:
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(str(p) for p in parts if p) or None
        if name_field is not None and name_field.auto_number and creating:
            number = self._auto_numbers.get(sobject.name, 0) + 1
            self._auto_numbers[sobject.name] = number
            record["Name"] = f"{sobject.key_prefix.upper()}-{number:06d}"
        if sobject.name == "Task":
            who, what = record.get("WhoId"), record.get("WhatId")
            if isinstance(who, str) and who.startswith("00Q") and what:
                raise RejectedRecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Related To ID: id value of incorrect type: {what}",
                    ["WhatId"],
                )
            closed = record.get("Status") == "Completed"
            record["IsClosed"] = closed
            if not closed:
                record["CompletedDateTime"] = None
            elif record.get("CompletedDateTime") is None:
                record["CompletedDateTime"] = record["LastModifiedDate"]
            record["AccountId"] = _task_account(src, record)
        if sobject.name == "Opportunity":
            derive_opportunity(record)

    def _finish(
        self, src: RecordSource, sobject: SObjectDef, record: Record, *, locked: bool
    ) -> None:
        if locked:
            raise _lock_failure(record["Id"])
        rules = [rule for rule in self._rules if rule.sobject.lower() == sobject.name.lower()]
        rendered = {d.name: values.to_json(d, record.get(d.name)) for d in sobject} if rules else {}
        for rule in rules:
            if rule.predicate(rendered):
                raise RejectedRecordError(
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    rule.message,
                    [rule.field] if rule.field else [],
                )
        for definition in sobject:
            value = record.get(definition.name)
            if not definition.unique or value is None:
                continue
            others = [i for i in src.find_by(sobject, definition.name, value) if i != record["Id"]]
            if others:
                raise RejectedRecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {definition.name} duplicates value on record with "
                    f"id: {others[0]}",
                    [],
                )
        src.put(sobject, record)


def _check_owner(src: RecordSource, sobject: SObjectDef, owner_id: Any) -> None:
    """An owner is an active user, or a queue set up for this object (its reference has been
    checked already: it exists)."""
    if not isinstance(owner_id, str):
        return
    if owner_id.startswith("005"):
        user_type = src.schema.get("User")
        user = src.get(user_type, owner_id) if user_type else None
        if user is not None and user.get("IsActive") is False:
            raise RejectedRecordError(
                "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{owner_id}] as owner of "
                f"{sobject.name.lower()}",
                ["OwnerId"],
            )
        return
    group_type, queues_type = src.schema.get("Group"), src.schema.get("QueueSobject")
    if not owner_id.startswith("00G") or group_type is None or queues_type is None:
        return
    group = src.get(group_type, owner_id)
    allowed = {
        str((src.get(queues_type, row_id) or {}).get("SobjectType", "")).lower()
        for row_id in src.find_by(queues_type, "QueueId", owner_id)
    }
    if group is None or group.get("Type") != "Queue" or sobject.name.lower() not in allowed:
        raise RejectedRecordError(
            "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"]
        )


def _lock_failure(record_id: str) -> RejectedRecordError:
    return RejectedRecordError(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {record_id}",
        [],
    )


def _task_account(src: RecordSource, record: Record) -> str | None:
    what = record.get("WhatId")
    if isinstance(what, str) and what.startswith("001"):
        return what
    who = record.get("WhoId")
    if isinstance(who, str) and who.startswith("003"):
        contact_type = src.schema.get("Contact")
        contact = src.get(contact_type, who) if contact_type else None
        if contact is not None:
            account_id = contact.get("AccountId")
            return account_id if isinstance(account_id, str) else None
    return None


def derive_opportunity(record: Record) -> None:
    """``IsClosed`` and ``IsWon`` from the stage; a closed stage's probability (100 or 0), and
    the stage's default probability when none was given."""
    stage = OPPORTUNITY_STAGES.get(str(record.get("StageName")))
    if stage is None:
        return
    closed, won, probability = stage
    record["IsClosed"] = closed
    record["IsWon"] = won
    if closed or record.get("Probability") is None:
        record["Probability"] = float(probability)
