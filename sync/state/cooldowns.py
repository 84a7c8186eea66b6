"""Cooldown claims: which response acted under a rule's cooldown for one key value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import chunks, insert_ignore


@dataclass(frozen=True, slots=True)
class CooldownClaim:
    """A response that acted under ``rule``'s cooldown for the key value ``value``."""

    rule: str
    value: str
    source: str
    response_id: str
    at: datetime


class Cooldowns:
    """The ``nps_cooldowns`` table. A claim, once stored, is never replaced."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claims(
        self,
        pairs: Iterable[tuple[str, str]],
        conn: Connection | None = None,
        *,
        between: tuple[datetime, datetime] | None = None,
    ) -> list[CooldownClaim]:
        """Stored claims of these (rule, key value) pairs; with ``between``, only those of
        responses answered strictly inside that span (a routing window needs no other: a key
        claimed for years holds hundreds of claims, and each window read them all)."""
        wanted = set(pairs)
        if not wanted:
            return []
        c = t.cooldowns
        rules = sorted({rule for rule, _ in wanted})
        values = sorted({value for _, value in wanted})
        found: list[CooldownClaim] = []
        span = () if between is None else (c.c.at > between[0], c.c.at < between[1])
        with self._db.reading(conn) as db:
            for chunk in chunks(values):
                rows = db.execute(
                    sa.select(c).where(c.c.rule.in_(rules), c.c.key_value.in_(chunk), *span)
                ).all()
                found.extend(
                    CooldownClaim(row.rule, row.key_value, row.source, row.response_id, row.at)
                    for row in rows
                    if (row.rule, row.key_value) in wanted
                )
        return found

    def add(
        self, claims: Sequence[CooldownClaim], now: datetime, conn: Connection | None = None
    ) -> None:
        """Store new claims; one already stored for the same response is left as it is."""
        if not claims:
            return
        rows = [
            {
                "rule": claim.rule,
                "key_value": claim.value,
                "source": claim.source,
                "response_id": claim.response_id,
                "at": claim.at,
                "recorded_at": now,
            }
            for claim in claims
        ]
        with self._db.writing(conn) as db:
            _INSERT_CLAIMS.execute(db, rows)


_INSERT_CLAIMS = BatchStatement(lambda backend: insert_ignore(backend, t.cooldowns))
