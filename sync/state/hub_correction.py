"""How far the daemon's measurement of the zero-shot themes' hub correction has got, per analysis.

The correction is measured on the first comments the daemon analyses (see
:mod:`insights.text.hubness`); kept here, a restart carries on from where the last process
stopped, or uses the finished measurement, instead of starting over with no correction. A
changed taxonomy or model has another ``analysis`` fingerprint and is measured afresh.

Several daemons may measure at once: a write replaces a stored measurement only when it has seen
more comments, so a complete one (the most there can be) stays as it was first stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import insert_for


@dataclass(frozen=True, slots=True)
class StoredHubSample:
    """A measurement as stored: comments seen, each theme's highest cosines (rows of columns)."""

    analysis: str
    seen: int
    top: tuple[tuple[float, ...], ...]


class HubCorrections:
    """The ``nps_hub_correction`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, analysis: str, conn: Connection | None = None) -> StoredHubSample | None:
        """The measurement stored for ``analysis``, if any."""
        h = t.hub_correction
        with self._db.reading(conn) as db:
            row = db.execute(sa.select(h).where(h.c.analysis == analysis)).first()
        if row is None:
            return None
        top = row.top if isinstance(row.top, list) else []
        return StoredHubSample(
            row.analysis, int(row.seen), tuple(tuple(float(x) for x in r) for r in top)
        )

    def save(self, sample: StoredHubSample, now: datetime, conn: Connection | None = None) -> bool:
        """Store this measurement unless the one stored has seen as many comments or more;
        whether it was stored."""
        h = t.hub_correction
        with self._db.writing(conn) as db:
            stmt = insert_for(db, h).values(
                analysis=sample.analysis,
                seen=sample.seen,
                top=[list(r) for r in sample.top],
                measured_at=now,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["analysis"],
                set_={"seen": stmt.excluded.seen, "top": stmt.excluded.top, "measured_at": now},
                where=h.c.seen < stmt.excluded.seen,
            )
            # the row written comes back; none when the stored one was kept (rowcount says 1
            # either way on some drivers)
            return db.execute(stmt.returning(h.c.analysis)).first() is not None
