"""The sentiment and themes of each analysed response version.

A comment is analysed once per version of its response (and again only when the taxonomy or the
model changes: ``analysis`` is a fingerprint of both). The weekly counts that emerging themes are
tested on are read back from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks, upsert

#: (source, response id, version)
VersionKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class CommentText:
    """What one response version's comment says."""

    source: str
    response_id: str
    version: str
    analysis: str
    sentiment: float
    themes: tuple[str, ...]
    submitted_at: datetime
    score: int

    @property
    def key(self) -> VersionKey:
        return (self.source, self.response_id, self.version)


class CommentTexts:
    """The ``nps_comment_text`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(
        self, keys: Iterable[VersionKey], analysis: str | None, conn: Connection | None = None
    ) -> dict[VersionKey, CommentText]:
        """The stored results for these versions made by ``analysis`` (others are stale); with
        None, the latest result of each version whatever made it."""
        wanted = sorted(set(keys))
        c = t.comment_text
        found: dict[VersionKey, CommentText] = {}
        with self._db.reading(conn) as db:
            for chunk in map(set, chunks(wanted)):
                ids = sorted({k[1] for k in chunk})
                query = sa.select(c).where(c.c.response_id.in_(ids))
                if analysis is not None:
                    query = query.where(c.c.analysis == analysis)
                for row in db.execute(query.order_by(c.c.analysed_at)).all():
                    result = _result(row)
                    if result.key in chunk:
                        found[result.key] = result
        return found

    def save(
        self, results: Sequence[CommentText], now: datetime, conn: Connection | None = None
    ) -> None:
        """Store (or replace) these results."""
        rows = [
            {
                "source": r.source,
                "response_id": r.response_id,
                "version": r.version,
                "analysis": r.analysis,
                "sentiment": r.sentiment,
                "themes": list(r.themes),
                "submitted_at": r.submitted_at,
                "score": r.score,
                "analysed_at": now,
            }
            for r in results
        ]
        if not rows:
            return
        with self._db.writing(conn) as db:
            for chunk in chunks(rows):
                db.execute(upsert(db, t.comment_text, ["source", "response_id", "version"]), chunk)

    def since(
        self, start: datetime, analysis: str | None = None, conn: Connection | None = None
    ) -> list[CommentText]:
        """The latest analysed version of each response submitted at ``start`` or later."""
        c = t.comment_text
        query = sa.select(c).where(c.c.submitted_at >= start)
        if analysis is not None:
            query = query.where(c.c.analysis == analysis)
        latest: dict[tuple[str, str], tuple[datetime, CommentText]] = {}
        with self._db.reading(conn) as db:
            for row in db.execute(query.order_by(c.c.submitted_at)).all():
                result = _result(row)
                seen = latest.get((result.source, result.response_id))
                if seen is None or row.analysed_at >= seen[0]:
                    latest[(result.source, result.response_id)] = (row.analysed_at, result)
        return [result for _, result in latest.values()]


def _result(row: sa.Row[tuple[object, ...]]) -> CommentText:
    themes = row.themes if isinstance(row.themes, list) else []
    return CommentText(
        row.source,
        row.response_id,
        row.version,
        row.analysis,
        float(row.sentiment),
        tuple(str(x) for x in themes),
        row.submitted_at,
        int(row.score),
    )
