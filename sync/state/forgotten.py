"""Forgetting respondents: their answers and everything derived from them leave the store.

A respondent who asks to be forgotten (a GDPR erasure request, an answer given by mistake) is
found by email. Every stored answer of theirs is deleted with what hangs off it: its versions,
the comment's sentiment and themes, its actions (payloads carry the comment and the name), skips,
cooldown claims, escalations, loop states, tracked ticket and Task statuses. The "no Zendesk
user" memory of the address goes too, and so do the values we wrote to the person's records
(they held their score and comment). The mirror of Zendesk's users stays as Zendesk has it:
routing takes it as the whole user list, and a user erased in Zendesk leaves it through the
export.

What stays is a tombstone per answer, ``(source, response id)`` and when it was forgotten, in
``nps_forgotten``: a source that delivers the answer again (a poll, a webhook, a file read
again, a backfill) finds it there and stores nothing, so it is never acted on again. An answer
the person gives later has a new id and is new.

The caller adds the intents that clear the person's fields in Salesforce and Zendesk and queues
their accounts for a write-back, in the same transaction (:meth:`Forgetting.erase`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as t
from sync.state.database import Database
from sync.state.dialect import chunks
from sync.state.outbox import ActionIntent, Outbox
from sync.state.write_backs import WriteBackQueue

#: Tables whose rows belong to one response, by (source, response id).
_PER_RESPONSE = (
    t.response_versions,
    t.comment_text,
    t.skipped_actions,
    t.cooldowns,
    t.escalations,
    t.loops,
    t.loop_events,
)
#: Tables whose rows belong to one action, by its key.
_PER_ACTION = (t.ticket_status, t.task_status)


class ForgetBusyError(Exception):
    """A follow-up of the person is being made right now (its action is leased): forgetting
    now could leave it made with nothing to say so. Try again once the lease has ended."""


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A Task or ticket made for a forgotten answer: it still holds their words. One whose
    create was sent and never answered may exist without its id: ``external_id`` is then
    empty, and it carries its action's key as its marker (the Task's key field, the ticket's
    external id)."""

    kind: str
    external_id: str
    marker: str = ""


@dataclass
class Person:
    """What the store holds of the people with these addresses."""

    emails: tuple[str, ...]
    #: Answers asked for by (source, response id), besides every answer of ``emails``.
    responses: tuple[tuple[str, str], ...] = ()
    #: (source, response id) of each stored answer found.
    answers: list[tuple[str, str]] = field(default_factory=list)
    contact_ids: set[str] = field(default_factory=set)
    account_ids: set[str] = field(default_factory=set)
    zendesk_user_ids: set[int] = field(default_factory=set)
    action_keys: list[str] = field(default_factory=list)
    #: Leased actions (a worker is carrying them out now), by key.
    leased: list[str] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    #: Contacts that keep other answers (under another address): recomputed, not cleared.
    contacts_kept: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Erased:
    answers: int
    rows: int


class Forgetting:
    """The ``nps_forgotten`` tombstones, and erasing a person (see the module docstring)."""

    def __init__(self, db: Database, outbox: Outbox, write_backs: WriteBackQueue) -> None:
        self._db = db
        self._outbox = outbox
        self._write_backs = write_backs

    def count(self) -> int:
        with self._db.reading() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(t.forgotten)).scalar()
        return int(count or 0)

    def find(
        self,
        emails: Sequence[str],
        now: datetime,
        conn: Connection | None = None,
        *,
        responses: Sequence[tuple[str, str]] = (),
    ) -> Person:
        """Everything the store holds of the people with these addresses (any case), and of
        these answers ((source, response id): one answer given by mistake, the person kept)."""
        wanted = tuple(sorted({e.strip().lower() for e in emails if e.strip()}))
        person = Person(wanted, tuple(sorted(set(responses))))
        r, a = t.responses, t.actions
        chosen = [sa.func.lower(r.c.email).in_(chunk) for chunk in chunks(wanted)]
        chosen += [
            sa.tuple_(r.c.source, r.c.response_id).in_(chunk) for chunk in chunks(person.responses)
        ]
        with self._db.reading(conn) as db:
            rows = sorted(
                {
                    row
                    for where in chosen
                    for row in db.execute(
                        sa.select(
                            r.c.created_at,
                            r.c.source,
                            r.c.response_id,
                            r.c.contact_id,
                            r.c.account_id,
                            r.c.zendesk_user_id,
                        ).where(where)
                    ).all()
                }
            )
            for row in rows:
                person.answers.append((row.source, row.response_id))
                if row.contact_id:
                    person.contact_ids.add(row.contact_id)
                if row.account_id:
                    person.account_ids.add(row.account_id)
                if row.zendesk_user_id is not None:
                    person.zendesk_user_ids.add(int(row.zendesk_user_id))
            answers = set(person.answers)
            for chunk in chunks(sorted({rid for _, rid in answers})):
                actions = db.execute(
                    sa.select(
                        a.c.key,
                        a.c.source,
                        a.c.response_id,
                        a.c.kind,
                        a.c.status,
                        a.c.external_id,
                        a.c.lease_until,
                        a.c.attempts,
                    )
                    .where(a.c.response_id.in_(chunk))
                    .order_by(a.c.created_at, a.c.key)
                ).all()
                for action in actions:
                    if (action.source, action.response_id) not in answers:
                        continue
                    person.action_keys.append(action.key)
                    lease = action.lease_until
                    if action.status == "claimed" and lease is not None and lease > now:
                        person.leased.append(action.key)
                    if action.kind not in FOLLOW_UP_KINDS:
                        continue
                    if action.external_id:
                        person.follow_ups.append(FollowUp(action.kind, action.external_id))
                    elif action.attempts:  # tried, outcome unknown: it may have been made
                        person.follow_ups.append(FollowUp(action.kind, "", action.key))
            for chunk in chunks(sorted(person.contact_ids)):
                kin = db.execute(
                    sa.select(r.c.source, r.c.response_id, r.c.contact_id).where(
                        r.c.contact_id.in_(chunk)
                    )
                ).all()
                person.contacts_kept.update(
                    row.contact_id for row in kin if (row.source, row.response_id) not in answers
                )
        return person

    def erase(
        self,
        person: Person,
        intents: Sequence[ActionIntent],
        written: Sequence[tuple[str, str, str]],
        now: datetime,
    ) -> Erased:
        """Delete what ``person`` lists, leave a tombstone per answer, queue ``intents`` (the
        clears of their fields), drop the ``written`` values ((system, object, record id)) and
        queue their accounts, and contacts that keep other answers, for a write-back; all in
        one transaction. Raises :class:`ForgetBusyError` if one of their actions is leased."""
        removed = 0
        with self._db.writing() as conn:
            # Read again inside the transaction: a pass may have routed an answer meanwhile.
            current = self.find(person.emails, now, conn, responses=person.responses)
            if current.leased:
                raise ForgetBusyError(
                    f"{len(current.leased)} follow-up(s) of this person are being made right now"
                )
            removed += self._delete_answers(conn, current)
            w = t.written_values
            for system, obj, record_id in written:
                removed += _deleted(
                    conn,
                    w.delete().where(
                        w.c.system == system, w.c.object == obj, w.c.record_id == record_id
                    ),
                )
            misses = t.zendesk_user_misses
            for chunk in chunks(current.emails):
                removed += _deleted(conn, misses.delete().where(misses.c.email.in_(chunk)))
            if current.answers:
                conn.execute(
                    t.forgotten.insert(),
                    [
                        {"source": source, "response_id": rid, "forgotten_at": now}
                        for source, rid in sorted(set(current.answers))
                    ],
                )
            self._outbox.add(intents, now, conn)
            records = [("account", a) for a in current.account_ids]
            records += [("contact", c) for c in current.contacts_kept]
            self._write_backs.queue_records(records, now, conn)
        return Erased(len(current.answers), removed)

    @staticmethod
    def _delete_answers(conn: Connection, person: Person) -> int:
        removed = 0
        for chunk in chunks(person.action_keys):
            for table in _PER_ACTION:
                removed += _deleted(conn, table.delete().where(table.c.action_key.in_(chunk)))
            removed += _deleted(conn, t.actions.delete().where(t.actions.c.key.in_(chunk)))
        by_source: dict[str, list[str]] = {}
        for source, rid in person.answers:
            by_source.setdefault(source, []).append(rid)
        for source, ids in sorted(by_source.items()):
            for table in (*_PER_RESPONSE, t.responses):
                for chunk in chunks(sorted(ids)):
                    removed += _deleted(
                        conn,
                        table.delete().where(
                            table.c.source == source, table.c.response_id.in_(chunk)
                        ),
                    )
        return removed


def _deleted(conn: Connection, statement: sa.Delete) -> int:
    return conn.execute(statement).rowcount or 0


#: The kinds of action that make a Task or a ticket holding the answer's words.
FOLLOW_UP_KINDS = frozenset({"salesforce_task", "zendesk_ticket"})
