"""Zendesk's incremental exports share a limit of their own (10 requests a minute), and the
user mirror, the open-ticket mirror and ticket tracking all read them. When one of them is
told to wait (a 429 whose ``Retry-After`` exceeds the wait budget), none of them asks again
before that time, in this pass or the next: the time is kept in the state store (the
``nps_cursors`` row ``zendesk:exports:not-before``), so a daemon's next pass and another daemon
on the same store respect it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from connectors.errors import DeferError
from sync.state import StateStore

log = logging.getLogger(__name__)

SOURCE = "zendesk:exports:not-before"
#: How long the exports rest when Zendesk said "later" without saying when.
DEFAULT_PAUSE = timedelta(minutes=1)
T = TypeVar("T")


def exports_paused(store: StateStore, now: datetime) -> bool:
    """Whether an export was told to wait until a time still ahead."""
    value = store.cursors.get(SOURCE)
    return bool(value) and now < datetime.fromisoformat(str(value))


def reading_exports(store: StateStore, now: datetime, read: Callable[[], T]) -> T:
    """``read()``, remembering the time of a deferral it meets before raising it again."""
    try:
        return read()
    except DeferError as exc:
        until = exc.not_before or datetime.now(UTC) + DEFAULT_PAUSE
        store.cursors.set(SOURCE, until.isoformat(), now)
        raise
