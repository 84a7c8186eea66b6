"""Following one of Zendesk's cursor-based incremental exports into a mirror in the state store.

The user mirror and the open-ticket mirror read their export the same way: on from the stored
cursor (from the very beginning on the first run), at most ``max_pages`` requests a pass, each
page stored with the cursor after it in one transaction, and none while the exports were told
to wait (:mod:`sync.loop.export_pause`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Generic, Protocol, TypeVar

from sync.loop.export_pause import exports_paused, reading_exports
from sync.state import StateStore

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One export page, whatever its records."""

    records: Sequence[R]
    after_cursor: str | None
    end_of_stream: bool


class Mirror(Protocol[R_contra]):
    """Where a mirror keeps its cursor and stores its pages."""

    def cursor(self) -> str | None: ...

    def save_page(
        self,
        records: Sequence[R_contra],
        after_cursor: str | None,
        now: datetime,
        /,
        *,
        caught_up: bool,
    ) -> None: ...


@dataclass
class MirrorStats:
    pages: int = 0
    #: Records in the pages read (new, changed and deleted ones).
    seen: int = 0
    #: True when the export had nothing more to give this pass.
    caught_up: bool = False


def follow_export(
    store: StateStore,
    mirror: Mirror[R],
    read: Callable[[str | None], Page[R]],
    now: datetime,
    *,
    max_pages: int,
) -> MirrorStats:
    """Read pages with ``read(cursor)`` (``None``: from the first record there is) into
    ``mirror`` until the export's end or ``max_pages`` requests."""
    stats = MirrorStats()
    cursor = mirror.cursor()
    while stats.pages < max_pages and not exports_paused(store, now):
        page = reading_exports(store, now, partial(read, cursor))
        stats.pages += 1
        stats.seen += len(page.records)
        done = page.end_of_stream or not page.after_cursor
        mirror.save_page(page.records, page.after_cursor, now, caught_up=done)
        cursor = page.after_cursor or cursor
        if done:
            stats.caught_up = True
            break
    return stats
