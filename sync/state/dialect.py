"""The few statements whose SQL differs between SQLite and PostgreSQL, and IN-list chunking.

Every repository of the store builds its inserts-or-updates here, so the two backends are told
apart in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from more_itertools import chunked
from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")

#: Values per ``IN (...)`` list: well under the host-parameter limit of older SQLite builds (999).
CHUNK = 500


class HasDialect(Protocol):
    """Anything that knows its backend by name (the state store and its database)."""

    @property
    def dialect(self) -> str: ...


Backend = str | Connection | Engine | HasDialect


def backend_name(on: Backend) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend of a connection, engine or store."""
    if isinstance(on, str):
        return on
    if isinstance(on, Connection | Engine):
        return on.dialect.name
    return on.dialect


def insert_for(on: Backend, table: sa.Table) -> Any:
    """The backend's own ``INSERT`` (with ``on_conflict_do_nothing``/``_do_update``).

    Each dialect's module is imported when its backend first needs it: PostgreSQL's, with its
    drivers' modules, took a store on SQLite a few hundredths of a second at every start."""
    if backend_name(on) == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_ignore(on: Backend, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for this backend."""
    return insert_for(on, table).on_conflict_do_nothing()


def upsert(
    on: Backend,
    table: sa.Table,
    keys: Sequence[str],
    set_: Mapping[str, Any] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` for this backend.

    Without ``set_`` every column outside ``keys`` takes the value of the row being inserted.
    """
    stmt = insert_for(on, table)
    if set_ is None:
        set_ = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(set_))


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, for ``IN`` lists and batched statements."""
    return chunked(items, size)
