"""The survey-source port: what the pull stage needs from any place responses come from.

Cursor contract
---------------
A cursor is an opaque string owned by the source; the engine only stores and hands it back.

- The engine stores a page's ``cursor`` in the same transaction as that page's responses, so a
  stored cursor never points past data that is not durably in the inbox.
- ``cursor=None`` on a page means "no new safe point yet": keep the cursor stored before.
- A source reads from the stored cursor *inclusive*. Responses at the boundary are delivered
  again; the engine de-duplicates by (source, response id, version = ``updated_at``).
- A cursor never exceeds ``until`` (the run's start time), so data that arrives while a run is
  under way is picked up by the next run.
- ``pages`` may yield no page at all when there is nothing new. A page may hold problems only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from connectors.errors import ConfigError
from connectors.models import SourceProblem, SourceWarning, SurveyResponse


@dataclass(frozen=True)
class SourcePage:
    """One batch of parsed responses, the records that could not be parsed, and the safe cursor
    after this batch (see the module docstring)."""

    responses: list[SurveyResponse]
    problems: list[SourceProblem]
    cursor: str | None
    #: What the admin should hear of that skipped nothing (a response id repeated in a file).
    warnings: list[SourceWarning] = field(default_factory=list)


class SurveySource(Protocol):
    """A place survey responses come from (an API, a file)."""

    name: str

    def pages(self, cursor: str | None, *, until: datetime) -> Iterator[SourcePage]:
        """Responses changed since ``cursor`` (inclusive) and up to ``until``, page by page.

        Raises :mod:`connectors.errors` tiers only; one bad record becomes a problem, not an
        exception. After a :class:`~connectors.errors.RetryableError` the iterator stays usable:
        the next ``next()`` repeats the failed request, so the engine can retry in place.
        A walk that reads ahead has a ``close()``: :func:`close_pages` stops it.
        """
        ...


def close_pages(pages: Iterator[SourcePage] | None) -> None:
    """Stop a walk that reads pages ahead (threads of time slices) when its reader stops early;
    a walk without ``close()`` holds nothing to stop."""
    close = getattr(pages, "close", None)
    if close is not None:
        close()


def unix_cursor(cursor: str | None, system: str) -> int | None:
    """A stored cursor of the sources that resume from a Unix time (None: start afresh)."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise ConfigError(
            f"stored cursor {cursor!r} is not a Unix time; reset the source's cursor",
            system=system,
        ) from None
