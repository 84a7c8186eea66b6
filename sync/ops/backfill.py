"""``nps-sync backfill``: import past responses as history and compute every field from them.

History is not news. Imported responses are matched and stored as routed **without running the
rules**, so a year-old detractor gets no Task and no ticket today. Responses the store already
holds (routed, or waiting for the daemon) are left exactly as they are, and no source cursor
moves, so the daemon carries on where it was. The per-response history object is written while
the import goes on (:mod:`sync.ops.backfill_history`), batch by batch as responses are recorded,
through Bulk API 2.0 above ``salesforce.api.bulk_threshold`` records; then every contact and
account the import touched gets its fields computed and written, in chunks (bounded memory), each
batch sent while the next is planned.

A backfill can be killed anywhere and run again. Each page is stored as history in one
transaction (never pending, so routing never acts on it), and matched and recorded in batches;
until every source has been read, the range is marked unfinished in the store, and the daemon's
routing takes the answers given in it as history too (it may pull them first);
a re-run first matches what an interrupted one stored, then writes out everything the write-back
queue still holds, which the interrupted one's records queued and only a finished write-out
clears.

Zendesk users are linked only for responses matched to a Salesforce contact (through the
contact's id, then its email): an unmatched old response has no field to write, and looking each
stranger up would spend the helpdesk's rate limit on nothing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Protocol

from more_itertools import chunked

from connectors.errors import ConnectorError, DeferError, RetryableError
from connectors.models import Contact, SurveyResponse, ZendeskUser
from connectors.surveys import (
    DelightedSource,
    SourcePage,
    SurveySource,
    TypeformSource,
    close_pages,
)
from sync.app.runtime import Connections
from sync.core.config import Config
from sync.core.ports import MatchingHelpdesk
from sync.core.retry import RetryPolicy
from sync.ops.backfill_history import EarlyHistory
from sync.stages.match import LookupCache, MatchOptions, match_responses
from sync.stages.match_record import Match
from sync.stages.pull import LISTED_PROBLEMS
from sync.stages.writeback import WriteBackStats, write_back
from sync.state import QueuedWriteBacks, RoutingOutcome, StateStore, StoredResponse

#: The decision stored for an imported response: no rule ran, nothing was done.
BACKFILL_DECISION = {
    "backfill": True,
    "rules": [],
    "actions": [],
    "notes": ["imported by backfill: rules not run"],
}


class BackfillProgress(Protocol):
    """Where the command's progress bar learns how far the backfill is."""

    def read(self, count: int) -> None: ...

    def writing(self, total: int) -> None: ...

    def wrote(self, count: int) -> None: ...


class _Silent:
    def read(self, count: int) -> None:
        pass

    def writing(self, total: int) -> None:
        pass

    def wrote(self, count: int) -> None:
        pass


@dataclass
class BackfillStats:
    read: int = 0
    imported: int = 0
    #: Responses in the range that the store already held: left alone.
    known: int = 0
    #: Responses an interrupted backfill had stored, matched and recorded by this one.
    resumed: int = 0
    matched: int = 0
    unmatched: int = 0
    contacts: int = 0
    accounts: int = 0
    #: The first :data:`~sync.stages.pull.LISTED_PROBLEMS` records skipped; ``problem_count``
    #: counts them all.
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    errors: list[str] = field(default_factory=list)
    #: A system was unreachable, rate-limited or out of quota: a later run finishes the work.
    unavailable: bool = False
    write: WriteBackStats = field(default_factory=WriteBackStats)
    seconds: float = 0.0

    def failed(self, where: str, error: ConnectorError) -> None:
        self.errors.append(f"{where}: {error}")
        self.unavailable |= isinstance(error, RetryableError | DeferError)


def start_cursor(source: SurveySource, since: datetime) -> str | None:
    """Where to start reading: Delighted's and Typeform's cursors are a Unix time; other sources
    read it all."""
    if isinstance(source, DelightedSource | TypeformSource):
        return str(int(since.timestamp()))
    return None


def _latest(responses: Sequence[SurveyResponse]) -> list[SurveyResponse]:
    latest: dict[str, SurveyResponse] = {}
    for r in responses:
        seen = latest.get(r.response_id)
        if seen is None or r.updated_at >= seen.updated_at:
            latest[r.response_id] = r
    return list(latest.values())


def import_page(
    store: StateStore, source: str, responses: Sequence[SurveyResponse], now: datetime
) -> list[tuple[SurveyResponse, str]]:
    """Store a page (no cursor); the responses that were new to the store, with their version."""
    page = _latest(responses)
    ids = [r.response_id for r in page]
    known = store.inbox.versions(source, ids)
    store.inbox.ingest_history(source, page, now)
    fresh = [r for r in page if r.response_id not in known]
    versions = store.inbox.versions(source, [r.response_id for r in fresh])
    return [(r, versions[r.response_id]) for r in fresh if r.response_id in versions]


class ZendeskLinks:
    """Zendesk users of matched contacts, looked up once per contact for the whole backfill."""

    def __init__(self, helpdesk: MatchingHelpdesk | None, retry: RetryPolicy) -> None:
        self.helpdesk = helpdesk
        self.retry = retry
        self.users: dict[str, ZendeskUser | None] = {}

    def lookup(self, contacts: Mapping[str, Contact]) -> None:
        helpdesk = self.helpdesk
        todo = sorted(c for c in contacts if c not in self.users)
        if helpdesk is None or not todo:
            return
        found = self.retry.call(partial(helpdesk.find_users_by_external_id, todo))
        for contact_id in todo:
            user = found.get(contact_id.lower())
            email = contacts[contact_id].email
            if user is None and email:
                user = self.retry.call(partial(helpdesk.find_user_by_email, email))
            self.users[contact_id] = user

    def user_of(self, match: Match) -> ZendeskUser | None:
        return self.users.get(match.contact.id) if match.contact is not None else None


def _outcome(response: SurveyResponse, version: str, match: Match) -> RoutingOutcome:
    user = match.zendesk_user
    return RoutingOutcome(
        source=response.source,
        response_id=response.response_id,
        version=version,
        match_status=match.status,
        contact_id=match.contact.id if match.contact else None,
        account_id=match.account.id if match.account else None,
        zendesk_user_id=user.id if user else None,
        zendesk_org_id=user.organization_id if user else None,
        match=match.to_json(),
        decision=BACKFILL_DECISION,
        intents=(),
    )


def _recorded(response: SurveyResponse, outcome: RoutingOutcome) -> StoredResponse:
    """The response as :meth:`~sync.state.StateStore.record_routing` has just stored it: what its
    history record is planned from, without reading it back (the import's busiest loop)."""
    return StoredResponse(
        response=response,
        version=outcome.version,
        routed_version=outcome.version,
        contact_id=outcome.contact_id,
        account_id=outcome.account_id,
        zendesk_user_id=outcome.zendesk_user_id,
        zendesk_org_id=outcome.zendesk_org_id,
    )


def read_ahead(
    source: SurveySource,
    cursor: str | None,
    until: datetime,
    retry: RetryPolicy,
    *,
    depth: int = 4,
) -> Iterator[SourcePage]:
    """The source's pages, fetched by a background thread up to ``depth`` pages ahead.

    Storing and matching a page then overlaps with waiting for the next one. An error of the
    source is raised here, in the consumer, where the page would have been.
    """
    pages: queue.Queue[tuple[SourcePage | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def reader() -> None:
        walker: Iterator[SourcePage] | None = None
        try:
            walker = source.pages(cursor, until=until)
            while not stop.is_set():
                page = retry.call(partial(next, walker, None))
                pages.put((page, None))
                if page is None:
                    return
        except BaseException as exc:  # handed over to the consumer, which raises it
            pages.put((None, exc))
        finally:
            close_pages(walker)

    thread = threading.Thread(target=reader, name=f"read-{source.name}", daemon=True)
    thread.start()
    try:
        while True:
            page, error = pages.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.1)


def read_ahead_pages(batch_size: int) -> int:
    """Pages to read ahead: two batches' worth (of 100-response pages), so that the source is
    read on while a batch is matched and recorded (seconds of Salesforce queries) instead of
    stopping a few pages in; a few thousand responses in memory."""
    return max(4, 2 * batch_size // 100)


@dataclass
class _Importer:
    """Matches and records imported responses in batches; remembers what it touched."""

    config: Config
    store: StateStore
    conn: Connections
    retry: RetryPolicy
    now: datetime
    stats: BackfillStats
    links: ZendeskLinks
    history: EarlyHistory
    contacts: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    waiting: list[tuple[SurveyResponse, str]] = field(default_factory=list)
    #: Every Salesforce answer of the backfill, as a pass keeps them: a person who answered
    #: often is looked up once, not once per batch (bounded by the distinct people and domains).
    lookups: LookupCache = field(default_factory=LookupCache)

    def add(self, items: Sequence[tuple[SurveyResponse, str]], batch_size: int) -> None:
        self.waiting.extend(items)
        if len(self.waiting) >= batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self.waiting = self.waiting, []
        if not batch:
            return
        options = MatchOptions.from_config(self.config.salesforce)
        matches = match_responses(
            [r for r, _ in batch], self.conn.crm, None, self.retry, options, self.lookups
        )
        self.links.lookup({m.contact.id: m.contact for m in matches.values() if m.contact})
        outcomes = []
        for response, version in batch:
            match = matches[(response.source, response.response_id)]
            match = replace(match, zendesk_user=self.links.user_of(match))
            outcomes.append(_outcome(response, version, match))
            if match.contact is not None:
                self.contacts.add(match.contact.id)
            if match.account is not None:
                self.accounts.add(match.account.id)
            if match.status == "matched":
                self.stats.matched += 1
            else:
                self.stats.unmatched += 1
        self.store.record_routing(outcomes, self.now)
        self.stats.imported += len(outcomes)
        self.history.add(
            [
                _recorded(response, outcome)
                for (response, _), outcome in zip(batch, outcomes, strict=True)
                if outcome.contact_id
            ]
        )


def backfill(
    config: Config,
    store: StateStore,
    conn: Connections,
    retry: RetryPolicy,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    progress: BackfillProgress | None = None,
    batch_size: int = 2000,
    chunk_size: int = 1000,
) -> BackfillStats:
    """Import responses created in ``[since, until)`` from every source, then write all fields."""
    started = time.perf_counter()
    progress = progress or _Silent()
    stats = BackfillStats()
    links = ZendeskLinks(conn.helpdesk, retry)
    history = EarlyHistory(store, config, conn.crm, retry, now)
    importer = _Importer(config, store, conn, retry, now, stats, links, history)
    # Until every source is read, the daemon takes the range's answers as history too.
    store.backfills.begin(since, until, now)
    try:
        if _import(importer, conn.sources, since, until, progress, batch_size):
            store.backfills.finish(since, until)
        # Failures are not counted here: the write-out plans those records again and reports.
        stats.write.add(WriteBackStats(updated=history.finish().updated))
    finally:
        history.close()
    # What an earlier backfill (or routing) queued and did not write is written too: a backfill
    # killed during its write-out finishes it on the next run.
    queued = store.write_backs.queued()
    contacts = sorted(importer.contacts | set(queued.contacts))
    accounts = sorted(importer.accounts | set(queued.accounts))
    stats.contacts, stats.accounts = len(contacts), len(accounts)
    progress.writing(len(contacts) + len(accounts))
    none: Sequence[str] = ()
    for contact_chunk, account_chunk in [
        *((c, none) for c in chunked(contacts, chunk_size)),
        *((none, a) for a in chunked(accounts, chunk_size)),
    ]:
        try:
            part = write_back(
                store,
                config,
                conn.crm,
                conn.helpdesk,
                retry,
                contact_ids=contact_chunk,
                account_ids=account_chunk,
                now=now,
                landed=history.landed,
            )
        except ConnectorError as exc:
            part = WriteBackStats(errors=[f"write-back: {exc}"])
            stats.unavailable |= isinstance(exc, RetryableError | DeferError)
        stats.write.add(part)
        progress.wrote(len(contact_chunk) + len(account_chunk))
    if not stats.write.errors:
        _clear_queue(store, queued, set(contacts), set(accounts))
    stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _import(
    importer: _Importer,
    sources: Sequence[SurveySource],
    since: datetime,
    until: datetime,
    progress: BackfillProgress,
    batch_size: int,
) -> bool:
    """Resume what an interrupted backfill left, then import every source's range; True when
    every source was read to its end."""
    store, stats, now, retry = importer.store, importer.stats, importer.now, importer.retry
    try:
        stats.resumed = _resume(store, importer, batch_size)
    except ConnectorError as exc:
        stats.failed("matching", exc)
    read_all = True
    for source in sources:
        try:
            cursor = start_cursor(source, since)
            # Read up to now, not to ``until``: a response answered before ``until`` may have
            # been updated since, and one after it is no error (only a future one is); the
            # range is the answer's date, applied to each page.
            for page in read_ahead(source, cursor, now, retry, depth=read_ahead_pages(batch_size)):
                wanted = [r for r in page.responses if since <= r.created_at < until]
                room = max(LISTED_PROBLEMS - len(stats.problems), 0)
                stats.problems.extend(str(p) for p in page.problems[:room])
                stats.problem_count += len(page.problems)
                fresh = import_page(store, source.name, wanted, now)
                stats.read += len(wanted)
                stats.known += len(_latest(wanted)) - len(fresh)
                importer.add(fresh, batch_size)
                progress.read(len(wanted))
            importer.flush()
        except ConnectorError as exc:
            stats.failed(source.name, exc)
            read_all = False
    try:
        importer.flush()
    except ConnectorError as exc:
        stats.failed("matching", exc)
    return read_all


def _resume(store: StateStore, importer: _Importer, batch_size: int) -> int:
    """Match and record what an earlier, interrupted backfill stored but did not record."""
    seen: set[tuple[str, str]] = set()
    while True:
        rows = store.inbox.history_to_match(batch_size)
        keys = {(row.response.source, row.response.response_id) for row in rows}
        if not keys - seen:  # done (or what is left cannot be recorded: do not spin)
            return len(seen)
        seen |= keys
        importer.add([(row.response, row.version) for row in rows], batch_size)
        importer.flush()


def _clear_queue(
    store: StateStore, before: QueuedWriteBacks, contacts: set[str], accounts: set[str]
) -> None:
    """Drop the write-backs queued before the write-out for what it has just written (an
    entry queued again since stays: the queue compares generations)."""
    store.write_backs.clear(
        QueuedWriteBacks(
            {c: g for c, g in before.contacts.items() if c in contacts},
            {a: g for a, g in before.accounts.items() if a in accounts},
        )
    )
