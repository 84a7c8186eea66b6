"""Skipped actions: what a routing decision asked for and could not do, and why.

Each decision on a response replaces that response's skips (in the routing transaction), so a
response routed again (an edited comment) neither doubles a skip nor keeps one its new decision
resolved. An action that is in the outbox is never also recorded as skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.batched import BatchStatement
from sync.state.database import Database
from sync.state.dialect import chunks, insert_ignore


@dataclass(frozen=True, slots=True)
class SkippedAction:
    """An action of a decision that could not be taken; ``key`` is its outbox key."""

    key: str
    source: str
    response_id: str
    rule: str
    action: str
    kind: str
    #: A stable code of :mod:`rules.skips` (``no_requester``, ``owner_not_found``, ...).
    reason: str
    detail: str
    #: The rules said this skip may happen (``expect_skip``, or a cooldown).
    expected: bool
    ruleset_hash: str


@dataclass(frozen=True, slots=True)
class SkipRow:
    """A stored skip, with when it was first and last decided."""

    skip: SkippedAction
    first_skipped_at: datetime
    skipped_at: datetime


class Skips:
    """The ``nps_skipped_actions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(
        self,
        responses: Iterable[tuple[str, str]],
        skips: Sequence[SkippedAction],
        now: datetime,
        conn: Connection,
    ) -> list[SkippedAction]:
        """Make ``skips`` the skips of these (source, response id) pairs, in the caller's
        transaction; returns those that are news: not recorded before, or for another reason."""
        s = t.skipped_actions
        wanted = set(responses)
        new_by_key = {skip.key: skip for skip in skips}
        stored: dict[str, Any] = {}
        for chunk in chunks(sorted({rid for _, rid in wanted})):
            rows = conn.execute(sa.select(s).where(s.c.response_id.in_(chunk))).all()
            stored.update({row.key: row for row in rows if (row.source, row.response_id) in wanted})
        stale = sorted(key for key in stored if key not in new_by_key)
        for chunk in chunks(stale):
            conn.execute(s.delete().where(s.c.key.in_(chunk)))
        news: list[SkippedAction] = []
        inserts: list[dict[str, Any]] = []
        for key, skip in new_by_key.items():
            row = stored.get(key)
            if row is None:
                inserts.append(_row(skip, now))
                news.append(skip)
                continue
            if row.reason != skip.reason:
                news.append(skip)
            conn.execute(
                s.update()
                .where(s.c.key == key)
                .values(
                    rule=skip.rule,
                    action=skip.action,
                    kind=skip.kind,
                    reason=skip.reason,
                    detail=skip.detail[:2000],
                    expected=skip.expected,
                    ruleset_hash=skip.ruleset_hash,
                    first_skipped_at=row.first_skipped_at if row.reason == skip.reason else now,
                    skipped_at=now,
                )
            )
        _INSERT_SKIPS.execute(conn, inserts)
        return news

    def rows(
        self,
        *,
        reason: str | None = None,
        rule: str | None = None,
        unexpected_only: bool = False,
    ) -> list[SkipRow]:
        """Stored skips, oldest decision first (a response's together, in rule and action
        order), optionally of one reason or rule only."""
        s = t.skipped_actions
        query = sa.select(s).order_by(
            s.c.skipped_at, s.c.source, s.c.response_id, s.c.rule, s.c.action
        )
        if reason is not None:
            query = query.where(s.c.reason == reason)
        if rule is not None:
            query = query.where(s.c.rule == rule)
        if unexpected_only:
            query = query.where(s.c.expected == sa.false())
        with self._db.reading() as conn:
            found = conn.execute(query).all()
        return [
            SkipRow(
                SkippedAction(
                    key=row.key,
                    source=row.source,
                    response_id=row.response_id,
                    rule=row.rule,
                    action=row.action,
                    kind=row.kind,
                    reason=row.reason,
                    detail=row.detail,
                    expected=bool(row.expected),
                    ruleset_hash=row.ruleset_hash,
                ),
                first_skipped_at=row.first_skipped_at,
                skipped_at=row.skipped_at,
            )
            for row in found
        ]

    def counts(self) -> dict[tuple[str, bool], int]:
        """Stored skips per (reason, expected)."""
        s = t.skipped_actions
        query = sa.select(s.c.reason, s.c.expected, sa.func.count()).group_by(
            s.c.reason, s.c.expected
        )
        with self._db.reading() as conn:
            found = conn.execute(query).all()
        return {(reason, bool(expected)): int(count) for reason, expected, count in found}


def _row(skip: SkippedAction, now: datetime) -> dict[str, Any]:
    return {
        "key": skip.key,
        "source": skip.source,
        "response_id": skip.response_id,
        "rule": skip.rule,
        "action": skip.action,
        "kind": skip.kind,
        "reason": skip.reason,
        "detail": skip.detail[:2000],
        "expected": skip.expected,
        "ruleset_hash": skip.ruleset_hash,
        "first_skipped_at": now,
        "skipped_at": now,
    }


_INSERT_SKIPS = BatchStatement(lambda backend: insert_ignore(backend, t.skipped_actions))
