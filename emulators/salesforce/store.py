"""In-memory records with lookup indexes, and write transactions layered over them.

A record is a dict from canonical field name to a typed value (see :mod:`values`). Deleted
records stay with ``IsDeleted = True`` (the recycle bin) so ``queryAll`` still sees them.
:class:`Txn` stages writes over a store (or over another transaction) and applies them only on
:meth:`Txn.commit`, which is how ``allOrNone`` and per-record failures stay all-or-nothing.
Callers hold the emulator's lock; nothing here locks on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from emulators.salesforce.schema import Schema, SObjectDef

Record = dict[str, Any]


def index_key(value: Any) -> Any:
    """Indexed text matches case-insensitively, as external ids and emails do."""
    return value.casefold() if isinstance(value, str) else value


class RecordSource(Protocol):
    """What the write path needs from a store or a transaction."""

    schema: Schema

    def get(self, sobject: SObjectDef, record_id: str) -> Record | None: ...

    def find_by(self, sobject: SObjectDef, field: str, value: Any) -> list[str]: ...

    def put(self, sobject: SObjectDef, record: Record) -> None: ...


class Store:
    """All records of the org, by object, in insertion order."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._tables: dict[str, dict[str, Record]] = {}
        self._indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}

    def table(self, sobject: SObjectDef) -> dict[str, Record]:
        return self._tables.setdefault(sobject.name, {})

    def get(self, sobject: SObjectDef, record_id: str) -> Record | None:
        """A record by its canonical 18-character id (deleted ones included)."""
        return self.table(sobject).get(record_id)

    def rows(self, sobject: SObjectDef, *, include_deleted: bool = False) -> Iterator[Record]:
        for record in self.table(sobject).values():
            if include_deleted or not record.get("IsDeleted"):
                yield record

    def find_by(self, sobject: SObjectDef, field: str, value: Any) -> list[str]:
        """Ids of live records whose ``field`` equals ``value`` (text case-insensitively)."""
        definition = sobject.field(field)
        if definition is None:
            return []
        table = self.table(sobject)
        if definition.type == "id":
            found = table.get(value) if isinstance(value, str) else None
            return [value] if found is not None and not found.get("IsDeleted") else []
        key = index_key(value)
        if definition.is_indexed:
            ids = self._index(sobject, definition.name).get(key, set())
            candidates = [i for i in ids if i in table]
        else:
            candidates = [i for i, r in table.items() if index_key(r.get(definition.name)) == key]
        return sorted(i for i in candidates if not table[i].get("IsDeleted"))

    def put(self, sobject: SObjectDef, record: Record) -> None:
        """Insert or replace a record, keeping the indexes current."""
        table = self.table(sobject)
        record_id = record["Id"]
        previous = table.get(record_id)
        for definition in sobject:
            if not definition.is_indexed:
                continue
            index = self._index(sobject, definition.name)
            if previous is not None:
                index.get(index_key(previous.get(definition.name)), set()).discard(record_id)
            value = record.get(definition.name)
            if value is not None:
                index.setdefault(index_key(value), set()).add(record_id)
        table[record_id] = record

    def _index(self, sobject: SObjectDef, field: str) -> dict[Any, set[str]]:
        key = (sobject.name, field)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for record_id, record in self.table(sobject).items():
                value = record.get(field)
                if value is not None:
                    index.setdefault(index_key(value), set()).add(record_id)
            self._indexes[key] = index
        return index

    def forget_indexes(self) -> None:
        """Drop the indexes (after the schema changed); they rebuild on next use."""
        self._indexes.clear()


class Txn:
    """Staged writes over a :class:`RecordSource`; reads see the staged state first."""

    def __init__(self, parent: RecordSource) -> None:
        self.parent = parent
        self.schema = parent.schema
        self._staged: dict[str, tuple[SObjectDef, Record]] = {}

    def get(self, sobject: SObjectDef, record_id: str) -> Record | None:
        staged = self._staged.get(record_id)
        if staged is not None:
            return staged[1]
        return self.parent.get(sobject, record_id)

    def find_by(self, sobject: SObjectDef, field: str, value: Any) -> list[str]:
        ids = set(self.parent.find_by(sobject, field, value))
        key = index_key(value)
        definition = sobject.field(field)
        name = definition.name if definition else field
        for record_id, (staged_type, record) in self._staged.items():
            if staged_type.name != sobject.name:
                continue
            matches = not record.get("IsDeleted") and index_key(record.get(name)) == key
            if matches:
                ids.add(record_id)
            else:
                ids.discard(record_id)
        return sorted(ids)

    def put(self, sobject: SObjectDef, record: Record) -> None:
        self._staged[record["Id"]] = (sobject, record)

    def commit(self) -> None:
        for sobject, record in self._staged.values():
            self.parent.put(sobject, record)
        self._staged.clear()
