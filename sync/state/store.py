"""The durable state store: one engine, its schema, and a repository per aggregate.

SQLAlchemy Core over SQLite (default, WAL) or PostgreSQL (several daemons at once). Each
repository method is one transaction, so what it records is either all there or not there at
all; work that spans aggregates joins one transaction (``record_routing``, or
``with store.transaction() as tx:`` and repository methods given ``tx``).

- ``store.inbox``: responses, their versions, source problems, settle deferrals, unmatched;
- ``store.outbox``: action intents, leases, results and the dead-letter list;
- ``store.write_backs``: contacts and accounts waiting for a write-back;
- ``store.written``: the values last written to each external field;
- ``store.cursors`` and ``store.runs``: source positions and run history;
- ``store.cooldowns``: cooldown claims of routing rules;
- ``store.escalations``: the escalation steps of tasks and tickets;
- ``store.tickets``: our Zendesk ticket actions and their tracked statuses;
- ``store.loops``: the loop state of each response, its transitions, our Tasks' statuses;
- ``store.skips``: actions routing could not take, and why;
- ``store.user_misses``: emails Zendesk had no user for, and when that was seen;
- ``store.zendesk_users``: the mirror of Zendesk's users kept from the incremental export;
- ``store.open_tickets``: the mirror of Zendesk's tickets (unsolved ones, and when each was
  open), likewise;
- ``store.comment_text``: the sentiment and themes of each analysed response version;
- ``store.hub_corrections``: how far the daemon's hub correction of themes is measured;
- ``store.forgotten``: the tombstones of forgotten answers, and erasing a person;
- ``store.zendesk_names``: the ids of the Zendesk names the rules use, as last resolved;
- ``store.locks``: cluster-wide named locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import errors, files
from sync.state import schema as t
from sync.state.backfills import UNFINISHED_KEY, UnfinishedBackfill, parse_range
from sync.state.comment_text import CommentTexts
from sync.state.cooldowns import Cooldowns
from sync.state.database import Database, create_engine, lock_key
from sync.state.escalations import Escalations
from sync.state.forgotten import Forgetting
from sync.state.hub_correction import HubCorrections
from sync.state.inbox import Inbox, RoutingOutcome
from sync.state.locks import Locks
from sync.state.loops import Loops
from sync.state.open_tickets import OpenTicketMirror
from sync.state.outbox import Outbox
from sync.state.restored import VERIFY_KEY, RestoredState
from sync.state.runs import Cursors, Runs
from sync.state.skips import SkippedAction, Skips
from sync.state.tickets import TicketLedger
from sync.state.user_misses import UserMisses
from sync.state.write_backs import WriteBackQueue
from sync.state.written import WrittenValues
from sync.state.zendesk_names import ResolvedNames
from sync.state.zendesk_users import ZendeskUsers


@dataclass(frozen=True, slots=True)
class Routed:
    """What recording a batch of decisions changed: new intents, and skips that are news."""

    intents: int = 0
    skips: Sequence[SkippedAction] = ()


class StateStore:
    """All durable state of nps-sync. Thread-safe; one instance per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._file: tuple[Path, int, int] | None = None
        #: Set when an existing SQLite file is readable by others (logged once, shown by status).
        self.file_warning = files.prepare(url)
        if self.file_warning:
            files.log.warning(self.file_warning)
        self.db = Database(create_engine(url))
        self.engine = self.db.engine
        self.dialect = self.db.dialect
        self.cursors = Cursors(self.db)
        self.runs = Runs(self.db)
        self.backfills = UnfinishedBackfill(self.cursors)
        self.restored = RestoredState(self.cursors)
        self.inbox = Inbox(self.db, self.cursors)
        self.outbox = Outbox(self.db)
        self.write_backs = WriteBackQueue(self.db)
        self.written = WrittenValues(self.db)
        self.cooldowns = Cooldowns(self.db)
        self.escalations = Escalations(self.db)
        self.tickets = TicketLedger(self.db)
        self.loops = Loops(self.db)
        self.skips = Skips(self.db)
        self.user_misses = UserMisses(self.db)
        self.zendesk_users = ZendeskUsers(self.db, self.cursors)
        self.open_tickets = OpenTicketMirror(self.db, self.cursors)
        self.comment_text = CommentTexts(self.db)
        self.hub_corrections = HubCorrections(self.db)
        self.forgotten = Forgetting(self.db, self.outbox, self.write_backs)
        self.zendesk_names = ResolvedNames(self.db)
        self.locks = Locks(self.db)

    # -- lifecycle -----------------------------------------------------------------------------
    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version the database is at.

        Each step runs in one transaction with its version bump, under a lock that concurrent
        starters wait on (PostgreSQL: a transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``),
        so N replicas starting at once upgrade the database exactly once.
        """
        while True:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key("migrate"))))
                if not sa.inspect(conn).has_table(t.schema_version.name):
                    t.metadata.create_all(conn)
                    t.create_person_order(conn)
                    conn.execute(t.schema_version.insert().values(id=1, version=t.LATEST_VERSION))
                    return t.LATEST_VERSION
                current = int(conn.execute(sa.select(t.schema_version.c.version)).scalar_one())
                if current > t.LATEST_VERSION:
                    raise errors.StateFileError(
                        f"state database is at schema version {current}, newer than this "
                        f"nps-sync ({t.LATEST_VERSION}); upgrade nps-sync"
                    )
                if current == t.LATEST_VERSION:
                    return current
                t.MIGRATIONS[current](conn)
                conn.execute(t.schema_version.update().values(version=current + 1))

    def close(self) -> None:
        self.locks.close()
        self.engine.dispose()

    def remember_file(self) -> None:
        """Note which file a SQLite store opened, for :meth:`check_file`."""
        path = files.sqlite_path(self.url)
        if path is not None:
            info = path.stat()
            self._file = (path, info.st_dev, info.st_ino)

    def check_file(self) -> None:
        """Raise :class:`~sync.state.errors.StateFileReplacedError` when the SQLite file this
        store opened was removed or replaced since (deleted under a running daemon, a backup
        copied over it): what the process recorded would go where nothing reads it, or into a
        file it no longer knows."""
        if self._file is None:
            return
        path, device, inode = self._file
        try:
            info = path.stat()
        except FileNotFoundError:
            what = "removed"
        else:
            if (info.st_dev, info.st_ino) == (device, inode):
                return
            what = "replaced by another file"
        raise errors.StateFileReplacedError(
            f"the state database {path} was {what} while nps-sync had it open; nps-sync stopped "
            "rather than go on recording into a file it no longer reads. Put the right file "
            "back (after restoring a backup, run nps-sync state restored) and start it again."
        )

    def ping(self) -> None:
        """Check that the database answers now (readiness); raises
        :class:`~sync.state.errors.StateUnavailableError` naming why if it does not."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError as exc:
            raise errors.connection_error(self.url, exc) from None

    def routing_marks(self, now: datetime, act_window: timedelta | None) -> RoutingMarks:
        """What routing reads of the state each pass, in one statement: the range of an
        unfinished backfill (:mod:`~sync.state.backfills`), the restore mark in force
        (:mod:`~sync.state.restored`) and whether any action was ever queued."""
        c, a = t.cursors, t.actions
        marks = sa.select(c.c.source, c.c.value).where(c.c.source.in_([UNFINISHED_KEY, VERIFY_KEY]))
        acted = sa.select(sa.literal(_ACTED), sa.literal(None, sa.String)).where(
            sa.exists(sa.select(a.c.key))
        )
        with self.db.reading() as conn:
            values = {row[0]: row[1] for row in conn.execute(marks.union_all(acted))}
        return RoutingMarks(
            backfilling=parse_range(values.get(UNFINISHED_KEY)),
            verify_before=self.restored.in_force(now, act_window, values.get(VERIFY_KEY)),
            acted=_ACTED in values,
        )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction that repository methods given it as ``conn`` join."""
        with self.db.writing() as conn:
            yield conn

    # -- across aggregates ---------------------------------------------------------------------
    def record_routing(self, outcomes: Sequence[RoutingOutcome], now: datetime) -> Routed:
        """Store decisions, enqueue their intents, record their skips and queue write-backs.

        All in one transaction. An intent whose key exists already (the same response, rule and
        action from an earlier version) is not enqueued again. The skips of each response are
        replaced by its new decision's, less those of actions already in the outbox (done or
        under way: that is their state). A response that got a newer version meanwhile stays
        pending for it. The matched contact and account are queued for write-back here, so a
        crash before the write-back stage cannot lose their field update.
        """
        if not outcomes:
            return Routed()
        queued = {("contact", o.contact_id) for o in outcomes if o.contact_id}
        queued |= {("account", o.account_id) for o in outcomes if o.account_id}
        skips = [skip for out in outcomes for skip in out.skips]
        with self.transaction() as conn:
            self.inbox.record_decisions(outcomes, conn)
            fresh = self.outbox.add((i for out in outcomes for i in out.intents), now, conn)
            taken = self.outbox.existing((skip.key for skip in skips), conn)
            news = self.skips.replace(
                ((out.source, out.response_id) for out in outcomes),
                [skip for skip in skips if skip.key not in taken],
                now,
                conn,
            )
            self.write_backs.queue_records(sorted(queued), now, conn)
        return Routed(fresh, news)


#: The row :meth:`StateStore.routing_marks` adds when the outbox holds any action.
_ACTED = "outbox:any"


@dataclass(frozen=True, slots=True)
class RoutingMarks:
    backfilling: tuple[datetime, datetime] | None
    verify_before: datetime | None
    #: Whether any action was ever queued in this state database.
    acted: bool


def open_store(url: str) -> StateStore:
    """A store on ``url`` with its schema created or upgraded.

    A database that cannot be reached or opened raises the error of its tier
    (:mod:`sync.state.errors`), naming the file or the host and what to do.
    """
    store = StateStore(url)
    try:
        store.migrate()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        store.close()
        raise errors.connection_error(url, exc) from None
    store.remember_file()
    return store
