"""The Zendesk connector: a thin, typed wrapper around zenpy.

Lookups are exact (users by external id in batches of 100, by email through ``email:`` queries of
validated addresses, never free text from a survey). Tickets are created in ``create_many`` jobs of
up to 100, each ticket carrying its idempotency key as ``external_id`` so an uncertain outcome is
resolved by looking the key up instead of creating again; a single create (a real-time alert)
also sends the key as ``Idempotency-Key``, so a retry after a lost answer returns the first
ticket. Everything that can be asked for many records at once is: ticket states, open-ticket
counts (a sideload), organizations by external id, and the statuses of the bulk jobs a call has
in flight (:mod:`connectors.zendesk.jobs`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import requests
from more_itertools import chunked
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, CustomField, Organization, Ticket, User

from connectors.addresses import is_plain_email
from connectors.backoff import DEFAULT_CAP, Backoff
from connectors.errors import (
    ConfigError,
    ConnectorError,
    RecordError,
    first_to_heed,
    stopped_part_way,
)
from connectors.models import FieldUpdate, TicketSpec, WriteResult, ZendeskUser
from connectors.transport import make_session
from connectors.zendesk import errors
from connectors.zendesk.jobs import JobNoted, JobRunner, OnSubmit, Submit, job_results
from connectors.zendesk.records import (
    UNSOLVED,
    Agent,
    CommentSpec,
    ExportedUser,
    ExportPage,
    FieldInfo,
    OpenTicket,
    RequesterSpec,
    TicketState,
    UserExportPage,
)
from connectors.zendesk.rest import RestClient
from connectors.zendesk.session import RateLimitGovernor, WaitBudget, guard, request_headers

BATCH_SIZE = 100
#: Rows per incremental export page (Zendesk allows up to 1,000).
EXPORT_PAGE_SIZE = 1000
#: How old an incremental export's ``start_time`` must be at least.
EXPORT_MIN_AGE_SECONDS = 60
T = TypeVar("T")

#: Addresses we are willing to put into an ``email:`` query: no spaces, quotes or search syntax.
_STAFF_ROLES = frozenset({"agent", "admin"})


@dataclass(frozen=True, slots=True)
class ZendeskCredentials:
    subdomain: str
    domain: str = "zendesk.com"
    email: str | None = None
    token: str | None = None
    oauth_token: str | None = None

    def __repr__(self) -> str:
        return f"ZendeskCredentials(subdomain={self.subdomain!r}, email={self.email!r})"

    @property
    def base_url(self) -> str:
        return f"https://{self.subdomain}.{self.domain}"


def connect(
    credentials: ZendeskCredentials,
    *,
    session: requests.Session | None = None,
    wait_budget_seconds: float = 10.0,
    reserve_requests: int = 0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Zenpy:
    """A zenpy client on ``session``, guarded by a rate-limit governor.

    Rate-limit waits (``Retry-After``, an exhausted ``X-Rate-Limit-Remaining``) are slept only
    while they fit in ``wait_budget_seconds`` per minute; a longer wait raises ``DeferError``.
    """
    session = session if session is not None else make_session(timeout=timeout)
    budget = WaitBudget(wait_budget_seconds)
    guard(session, RateLimitGovernor(budget, reserve=reserve_requests, sleep=sleep))
    kwargs: dict[str, Any] = {
        "subdomain": credentials.subdomain,
        "domain": credentials.domain,
        "session": session,
        "timeout": timeout,
        "disable_cache": True,
        # The governor answers every 429 first; should one reach zenpy, it must not sleep.
        "ratelimit_budget": 0,
    }
    if credentials.oauth_token:
        kwargs["oauth_token"] = credentials.oauth_token
    elif credentials.email and credentials.token:
        kwargs["email"] = credentials.email
        kwargs["token"] = credentials.token
    else:
        raise ConfigError("give either email + API token or an OAuth token", system="zendesk")
    try:
        return Zenpy(**kwargs)
    except errors.CLIENT_ERRORS as exc:
        raise errors.translate(exc) from exc


class ZendeskConnector:
    """Lookups and writes the engine needs, batched and translated."""

    def __init__(
        self,
        client: Zenpy,
        *,
        job_timeout: float = 120.0,
        poll_interval: float = 0.5,
        rest: RestClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        context_headroom: float = 0.5,
        context_lists_per_minute: int = 30,
    ) -> None:
        """Bulk jobs are first polled ``poll_interval`` seconds after they are submitted, then
        less and less often (:class:`~connectors.backoff.Backoff`), for ``job_timeout`` at most.

        Lists of a requester's open tickets (context for Tasks and tickets, a courtesy) are
        asked for only while at least ``context_headroom`` of the minute's request budget is
        left, and ``context_lists_per_minute`` at most, so a backlog spends the budget on the
        work itself."""
        self.client = client
        self.context_headroom = context_headroom
        self._context_lists = MinuteAllowance(context_lists_per_minute)
        api = client.users
        self.rest = rest or RestClient(
            api.session, f"https://{api.subdomain}.{api.domain}", float(api.timeout)
        )
        backoff = Backoff(first=poll_interval, cap=max(DEFAULT_CAP, poll_interval))
        self.jobs = JobRunner(self.rest, timeout=job_timeout, backoff=backoff, sleep=sleep)

    def _call(self, fn: Callable[..., T], *args: Any, record_id: str | None = None) -> T:
        try:
            return fn(*args)
        except errors.CLIENT_ERRORS as exc:
            raise errors.translate(exc, record_id=record_id) from exc

    def _submit_job(self, fn: Callable[..., T], *args: Any) -> T:
        """Submit a bulk job whose work must not be sent twice: a failure after the request
        left is a :class:`~connectors.errors.WriteInDoubtError` (a job may be queued whose id
        never came back)."""
        try:
            return fn(*args)
        except errors.CLIENT_ERRORS as exc:
            raise errors.translate_write(exc) from exc

    # -- people and organizations --------------------------------------------------------------
    def me(self) -> Agent:
        """The user the credentials act as."""
        user = self._call(self.client.users.me)
        return Agent(int(user.id), (user.email or "").lower(), str(user.role or ""))

    def find_users_by_external_id(self, external_ids: Iterable[str]) -> dict[str, ZendeskUser]:
        """Users whose ``external_id`` is one of these (case-insensitive), 100 per request."""
        ids = sorted({x for x in external_ids if x})
        found: dict[str, ZendeskUser] = {}
        for chunk in chunked(ids, BATCH_SIZE):
            users = self._call(lambda ids: list(self.client.users(external_ids=ids)), chunk)
            for user in users:
                if user.external_id:
                    found[str(user.external_id).lower()] = _user(user)
        return found

    def find_user_by_email(self, email: str) -> ZendeskUser | None:
        """The user with exactly this email, or None. An address that is not plain
        (:mod:`connectors.addresses`: no wildcard or search syntax) is never queried."""
        user = self._user_by_email(email)
        return _user(user) if user is not None else None

    def agents_by_email(self, emails: Iterable[str]) -> dict[str, Agent]:
        """Staff (agents and admins) by email; end users and unknown addresses are left out."""
        found: dict[str, Agent] = {}
        for email in sorted({e.lower() for e in emails if e}):
            user = self._user_by_email(email)
            if user is not None and user.role in _STAFF_ROLES:
                found[email] = Agent(int(user.id), email, str(user.role))
        return found

    def _user_by_email(self, email: str) -> Any:
        if not is_plain_email(email.lower()):
            # Never searched: a wildcard or search syntax could match many users or fail the call.
            return None
        users = self._call(lambda: list(self.client.users.search(query=f'email:"{email}"')))
        for user in users:
            if (user.email or "").lower() == email.lower():
                return user
        return None

    def create_users(self, specs: Sequence[RequesterSpec]) -> dict[str, int]:
        """User id per (lower-case) email of the end users this call created, 100 per job.

        An email Zendesk refuses to create is left out: most often a user has it already (one
        the email search did not show yet), whom a ticket naming its requester by email then
        joins, unchanged. Creating never edits an existing user (``create_or_update`` would
        rename them), and running it twice for one person leaves them out the second time.
        """
        unique = list({s.email.lower(): s for s in specs if s.email}.values())
        chunks = list(chunked(unique, BATCH_SIZE))
        jobs = [c for c in chunks if len(c) > 1]
        statuses = self.jobs.run(
            [self._submit(self.client.users.create, [_requester(s) for s in c]) for c in jobs]
        )
        found: dict[str, int] = {}
        for chunk, status in zip(jobs, statuses, strict=True):
            for result in job_results(status, [spec.email.lower() for spec in chunk]):
                if result.ok and result.external_id:
                    found[result.record_id] = int(result.external_id)
        for (spec,) in (c for c in chunks if len(c) == 1):
            email = spec.email.lower()
            try:
                user = self._call(self.client.users.create, _requester(spec), record_id=email)
            except RecordError:
                continue
            found[email] = int(user.id)
        return found

    def _submit(
        self, create: Callable[[Any], Any], records: list[Any], *, once: bool = False
    ) -> Submit:
        """A bulk write of ``records`` to hand to :class:`JobRunner`, errors translated.

        ``once``: its records must not be written twice (tickets, comments), so a submit that
        got no answer raises :class:`~connectors.errors.WriteInDoubtError`.
        """
        return partial(self._submit_job if once else self._call, create, records)

    def organizations_by_external_id(self, external_ids: Iterable[str]) -> dict[str, int]:
        """Organization id per (lower-case) external id, 100 per request."""
        ids = sorted({x.lower() for x in external_ids if x})
        found: dict[str, int] = {}
        for chunk in chunked(ids, BATCH_SIZE):
            orgs = self._call(lambda ids: list(self.client.organizations(external_ids=ids)), chunk)
            for org in orgs:
                if org.external_id:
                    found[str(org.external_id).lower()] = int(org.id)
        return found

    def user_field_values(self, user_ids: Iterable[int]) -> dict[int, dict[str, object]]:
        """The ``user_fields`` each user holds now, 100 users per ``show_many``.

        Users that no longer exist are absent; a field that does not exist on the account is
        absent from a user's values, while an unset one is ``None``.
        """
        return self._field_values(user_ids, "users", "user_fields")

    def organization_field_values(self, org_ids: Iterable[int]) -> dict[int, dict[str, object]]:
        """The ``organization_fields`` each organization holds now, 100 per ``show_many``."""
        return self._field_values(org_ids, "organizations", "organization_fields")

    def _field_values(
        self, record_ids: Iterable[int], api: str, attribute: str
    ) -> dict[int, dict[str, object]]:
        endpoint = getattr(self.client, api)
        found: dict[int, dict[str, object]] = {}
        for chunk in chunked(sorted({int(i) for i in record_ids}), BATCH_SIZE):
            records = self._call(lambda ids: list(endpoint(ids=ids)), chunk)
            for record in records:
                found[int(record.id)] = dict(getattr(record, attribute, None) or {})
        return found

    def organization_ids_by_name(self, names: Iterable[str]) -> dict[str, int]:
        """Organization id per name (exact, case-insensitive); unknown names are left out."""
        found: dict[str, int] = {}
        for name in sorted(set(names)):
            body = self.rest.get("organizations/search.json", {"name": name})
            for org in body.get("organizations") or []:
                if str(org.get("name", "")).lower() == name.lower():
                    found[name] = int(org["id"])
        return found

    # -- catalogue -----------------------------------------------------------------------------
    def group_ids(self) -> dict[str, int]:
        """Group name -> id."""
        return self._call(lambda: {g.name: int(g.id) for g in self.client.groups()})

    def ticket_field_ids(self) -> dict[str, int]:
        """Custom ticket field title -> id."""
        return {f.title: f.id for f in self.ticket_fields()}

    def ticket_fields(self) -> list[FieldInfo]:
        return self._call(lambda: [_field(f) for f in self.client.ticket_fields()])

    def user_fields(self) -> list[FieldInfo]:
        return self._call(lambda: [_field(f) for f in self.client.user_fields()])

    def organization_fields(self) -> list[FieldInfo]:
        return self._call(lambda: [_field(f) for f in self.client.organization_fields()])

    # -- tickets: reads ------------------------------------------------------------------------
    def find_tickets_by_key(self, keys: Iterable[str]) -> dict[str, int]:
        """Ticket id per idempotency key (``external_id``), for tickets we already created."""
        found: dict[str, int] = {}
        for key in keys:
            tickets = self._call(
                lambda k: list(self.client.tickets(external_id=k)), key, record_id=key
            )
            if tickets:
                found[key] = min(int(t.id) for t in tickets)
        return found

    def find_recent_tickets_by_key(
        self, keys: Iterable[str], since: datetime, *, max_pages: int = 2
    ) -> dict[str, int]:
        """Ticket id per key (``external_id``) among the tickets changed since ``since``, read
        from the incremental ticket export: one request per 1,000 tickets changed, however many
        keys, at most ``max_pages``, fewer once every key is found.

        Unlike search, the export is not an index that lags; but it leaves out the most recent
        minute, and a busy account may change more tickets than ``max_pages`` hold. A key not
        found may therefore still exist: only :meth:`find_tickets_by_key` can tell it does not.
        """
        wanted = set(keys)
        found: dict[str, int] = {}
        page = self.export_tickets(start_time=int(since.timestamp()))
        for pages in range(1, max_pages + 1):
            for ticket in page.tickets:
                key = ticket.external_id
                if key in wanted and ticket.status != "deleted":
                    found[key] = min(found.get(key, ticket.id), ticket.id)
            done = page.end_of_stream or page.after_cursor is None or found.keys() >= wanted
            if done or pages == max_pages:
                break
            page = self.export_tickets(cursor=page.after_cursor)
        return found

    def recent_comment_bodies(
        self, ticket_ids: Iterable[int], since: datetime, *, max_pages: int = 2
    ) -> dict[int, list[str]]:
        """Plain-text bodies of the comments added to these tickets since ``since`` (at least a
        minute ago), read from the incremental ticket event export with its comment events:
        one request per 1,000 ticket updates of the account, however many tickets, at most
        ``max_pages``.

        As with :meth:`find_recent_tickets_by_key`, the export leaves out the most recent
        minute and a busy account may update more tickets than ``max_pages`` hold: a comment
        not among these may still exist, and only :meth:`comment_bodies` can tell it does not.
        """
        wanted = set(ticket_ids)
        found: dict[int, list[str]] = {}
        start = int(since.timestamp())
        for _ in range(max_pages):
            body = self.rest.get(
                "incremental/ticket_events.json",
                {"start_time": str(start), "include": "comment_events"},
            )
            for event in body.get("ticket_events") or []:
                ticket_id = event.get("ticket_id")
                if ticket_id not in wanted:
                    continue
                for child in event.get("child_events") or []:
                    if child.get("event_type") == "Comment" and "body" in child:
                        found.setdefault(ticket_id, []).append(str(child.get("body") or ""))
            end = body.get("end_time")
            # A next page must start at least a minute ago, and past this one.
            if body.get("end_of_stream") or not isinstance(end, int) or end <= start:
                break
            if end > time.time() - EXPORT_MIN_AGE_SECONDS:
                break
            start = end
        return found

    def tickets_by_id(
        self, ticket_ids: Iterable[int], *, requesters: bool = False
    ) -> dict[int, TicketState]:
        """The current state of these tickets, 100 per ``show_many``; deleted ones are absent.
        ``requesters`` sideloads the tickets' users in the same requests, for each requester's
        email."""
        ids = sorted(set(ticket_ids))
        found: dict[int, TicketState] = {}
        for chunk in chunked(ids, BATCH_SIZE):
            params = {"ids": ",".join(map(str, chunk))}
            if requesters:
                params["include"] = "users"
            body = self.rest.get("tickets/show_many.json", params)
            emails = {
                user.get("id"): str(user.get("email") or "").lower()
                for user in body.get("users") or []
                if isinstance(user, Mapping)
            }
            for raw in body.get("tickets") or []:
                state = ticket_state(raw)
                email = emails.get(raw.get("requester_id"), "")
                found[state.id] = replace(state, requester_email=email) if email else state
        return found

    def open_ticket_counts(self, user_ids: Iterable[int]) -> dict[int, int]:
        """Unsolved tickets each user has requested: one ``show_many`` + sideload per 100 users."""
        ids = sorted({int(i) for i in user_ids})
        counts: dict[int, int] = {}
        for chunk in chunked(ids, BATCH_SIZE):
            body = self.rest.get(
                "users/show_many.json",
                {"ids": ",".join(map(str, chunk)), "include": "open_ticket_count"},
            )
            for user_id, count in (body.get("open_ticket_count") or {}).items():
                counts[int(user_id)] = int(count)
        return counts

    def open_tickets(
        self, user_ids: Iterable[int], *, until: float | None = None
    ) -> dict[int, list[OpenTicket]]:
        """Unsolved tickets each user has requested, oldest first (at most 100 each).

        The counts come first (one ``show_many`` per 100 users); only users with unsolved
        tickets cost a ``tickets/requested`` call each, so a batch of first-time requesters
        costs what the counts alone did. Past ``until`` (``time.monotonic()``), once less than
        ``context_headroom`` of the minute's request budget is left, or once this minute's
        ``context_lists_per_minute`` are spent, no more lists are asked for: the users left are
        absent from the answer. When no list could be asked for, the counts are not asked for
        either: every user is absent, and a backlog spends nothing on context.
        """
        if not self._context_room():
            return {}
        counts = self.open_ticket_counts(user_ids)
        found: dict[int, list[OpenTicket]] = {u: [] for u, count in counts.items() if not count}
        for user_id in sorted(u for u, count in counts.items() if count > 0):
            if until is not None and time.monotonic() > until:
                break
            if not self._context_room() or not self._context_lists.take():
                break
            body = self.rest.get(f"users/{user_id}/tickets/requested.json", {"per_page": "100"})
            found[user_id] = [
                OpenTicket(int(raw["id"]), str(raw.get("subject") or ""))
                for raw in sorted(body.get("tickets") or [], key=lambda raw: int(raw["id"]))
                if raw.get("status") in UNSOLVED
            ]
        return found

    def _context_room(self) -> bool:
        """Whether the minute's budget and the context allowance leave room for a list."""
        spare = self.rest.headroom
        if spare is not None and spare < self.context_headroom:
            return False
        return self._context_lists.has_room()

    def comment_bodies(self, ticket_id: int) -> list[str]:
        """Plain-text bodies of the newest 100 comments of a ticket, newest first."""
        body = self.rest.get(f"tickets/{ticket_id}/comments.json", {"sort_order": "desc"})
        return [str(c.get("body") or "") for c in body.get("comments") or []]

    def export_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None, metrics: bool = False
    ) -> ExportPage:
        """One page of the cursor-based incremental ticket export.

        Start with ``start_time`` (Unix seconds, at least a minute ago) once, then resume with the
        ``after_cursor`` of the previous page, which may be stored and used at any later time.
        With ``metrics`` the page sideloads each ticket's metric set (``include=metric_sets``),
        which tells when an agent first replied in public, at no extra request.
        """
        if (cursor is None) == (start_time is None):
            raise ValueError("give either a cursor or a start_time")
        params = {"per_page": str(EXPORT_PAGE_SIZE)}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["start_time"] = str(start_time)
        if metrics:
            params["include"] = "metric_sets"
        body = self.rest.get("incremental/tickets/cursor.json", params)
        metric_sets = {
            int(raw["ticket_id"]): raw
            for raw in body.get("metric_sets") or []
            if isinstance(raw, Mapping) and raw.get("ticket_id") is not None
        }
        return ExportPage(
            tickets=tuple(
                ticket_state(raw, metric_sets.get(int(raw["id"])))
                for raw in body.get("tickets") or []
            ),
            after_cursor=body.get("after_cursor"),
            end_of_stream=bool(body.get("end_of_stream")),
        )

    def export_users(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> UserExportPage:
        """One page (up to 1,000 users) of the cursor-based incremental user export.

        As :meth:`export_tickets`: ``start_time`` once (0 for every user), then the
        ``after_cursor`` of the previous page. The export needs an admin's credentials and
        shares the incremental exports' own limit of 10 requests a minute.
        """
        if (cursor is None) == (start_time is None):
            raise ValueError("give either a cursor or a start_time")
        params = {"per_page": str(EXPORT_PAGE_SIZE)}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["start_time"] = str(start_time)
        body = self.rest.get("incremental/users/cursor.json", params)
        return UserExportPage(
            users=tuple(_exported_user(raw) for raw in body.get("users") or []),
            after_cursor=body.get("after_cursor"),
            end_of_stream=bool(body.get("end_of_stream")),
        )

    # -- tickets: writes -----------------------------------------------------------------------
    def create_tickets(
        self,
        specs: Sequence[TicketSpec],
        *,
        direct_up_to: int = 1,
        on_job: JobNoted | None = None,
    ) -> list[WriteResult]:
        """Create tickets with ``create_many`` jobs of up to 100; one result per spec, in order.

        A lone ticket, and each of a batch of at most ``direct_up_to``, is created directly
        with its key as ``Idempotency-Key``: a few requests instead of a job to wait for.
        ``on_job`` learns each job's id with the keys it carries, as Zendesk accepts it. A job
        submit that got no answer raises :class:`~connectors.errors.WriteInDoubtError`: the job
        may be queued and create its tickets later, so callers look them up by key only once it
        can no longer run before they create them again.
        """
        specs = list(specs)
        if len(specs) <= direct_up_to:
            chunks = [[spec] for spec in specs]
        else:
            chunks = list(chunked(specs, BATCH_SIZE))
        jobs = [c for c in chunks if len(c) > 1]
        statuses = iter(
            self.jobs.run(
                [
                    self._submit(self.client.tickets.create, [_ticket(s) for s in c], once=True)
                    for c in jobs
                ],
                _noting(on_job, [[spec.key for spec in c] for c in jobs]),
            )
        )
        results: list[WriteResult] = []
        for chunk in chunks:
            if len(chunk) > 1:
                results.extend(job_results(next(statuses), [spec.key for spec in chunk]))
                continue
            key = chunk[0].key
            try:
                with request_headers({"Idempotency-Key": key}):
                    created = self._call(
                        self.client.tickets.create, _ticket(chunk[0]), record_id=key
                    )
            except RecordError as exc:  # this ticket refused; those made before it stand
                results.append(WriteResult(key, False, error=str(exc), tier=exc.tier))
                continue
            ticket = getattr(created, "ticket", created)
            results.append(WriteResult(key, True, external_id=str(ticket.id)))
        return results

    def add_comments(
        self, comments: Sequence[CommentSpec], *, on_job: JobNoted | None = None
    ) -> list[WriteResult]:
        """Add comments to existing tickets; one result per comment, keyed by its ``key``.

        Comments for one ticket with the same visibility are joined into one (:func:`merged`):
        a bulk job updates a ticket once, and one note naming several answers reads better than
        a burst of notes. Several comments are sent as ``update_many`` jobs, one per ticket per
        wave (a wave only for what could not be joined); the jobs of a wave are in flight
        together, and a wave starts when the one before it ended. ``on_job`` learns each job's
        id with the keys it carries, as Zendesk accepts it. A job submit that got no answer
        raises :class:`~connectors.errors.WriteInDoubtError`, as in :meth:`create_tickets`.
        """
        return self.start_comments(comments, on_job=on_job)()

    def start_comments(
        self, comments: Sequence[CommentSpec], *, on_job: JobNoted | None = None
    ) -> Callable[[], list[WriteResult]]:
        """:meth:`add_comments` in two steps: the first wave is sent now and its jobs are polled
        with those of the calls made before the returned function is called; that call waits
        for them, sends the other waves and returns the results. Calling it is not optional:
        until then the jobs stay among those polled."""
        waves = _waves(merged(comments))
        if not waves:
            return lambda: []
        first = self._start_wave(waves[0], on_job)

        def finish() -> list[WriteResult]:
            results = first()
            for wave in waves[1:]:
                results.extend(self._start_wave(wave, on_job)())
            return results

        return finish

    def _start_wave(
        self, wave: Sequence[_Joined], on_job: JobNoted | None
    ) -> Callable[[], list[WriteResult]]:
        """Send one wave (jobs for two or more tickets, a lone comment directly); the returned
        function waits for its jobs and gives one result per comment."""
        chunks = list(chunked(wave, BATCH_SIZE))
        jobs = [c for c in chunks if len(c) > 1]
        group = self.jobs.start(
            [
                self._submit(self.client.tickets.update, [_commented(c) for c in chunk], once=True)
                for chunk in jobs
            ],
            _noting(on_job, [[k for c in chunk for k in c.keys] for chunk in jobs]),
        )
        direct: dict[int, list[WriteResult]] = {}
        try:
            for position, chunk in enumerate(chunks):
                if len(chunk) == 1:
                    (one,) = chunk
                    self._call(self.client.tickets.update, _commented(one), record_id=one.key)
                    direct[position] = [
                        WriteResult(key, True, str(one.ticket_id)) for key in one.keys
                    ]
        except BaseException:
            group.abandon()
            raise

        def finish() -> list[WriteResult]:
            statuses = iter(group.wait())
            results: list[WriteResult] = []
            for position, chunk in enumerate(chunks):
                if position in direct:
                    results.extend(direct[position])
                    continue
                by_id = job_results(next(statuses), [str(c.ticket_id) for c in chunk], by_id=True)
                for comment, result in zip(chunk, by_id, strict=True):
                    results.extend(
                        WriteResult(
                            key,
                            result.ok,
                            external_id=str(comment.ticket_id) if result.ok else "",
                            error=result.error,
                            code=result.code,
                            tier=result.tier,
                        )
                        for key in comment.keys
                    )
            return results

        return finish

    def wait_for_jobs(self, job_ids: Iterable[str]) -> set[str]:
        """Wait for these bulk jobs to end, as long as for a job just submitted; returns those
        Zendesk still has queued or working then (100 ids a poll)."""
        ids = list(dict.fromkeys(job_ids))
        return self.jobs.wait(ids) if ids else set()

    def update_users(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Set ``user_fields`` on users, 100 per ``update_many`` job."""
        return self.update_fields([replace(u, object_type="user") for u in updates])

    def update_organizations(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Set ``organization_fields`` on organizations, 100 per ``update_many`` job."""
        return self.update_fields([replace(u, object_type="organization") for u in updates])

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Set the fields of users and organizations (by ``object_type``); one result per
        update, in order. 100 per ``update_many`` job, the jobs of both kinds in flight and
        polled together: the waits of one write-back are those of one set of jobs.

        Each job stands alone (:meth:`JobRunner.run_each`): a job whose request Zendesk refuses
        fails its own records (``skip``), and one that fails otherwise (a 5xx, a reset, a
        ``Retry-After``, a job lost or still running) raises the error to heed, retry or defer,
        once the other jobs have ended, its :attr:`~connectors.errors.ConnectorError.results`
        holding the results of the jobs that did: only the rest needs sending again.
        """
        chunks: list[tuple[str, list[FieldUpdate]]] = []
        for kind in _FIELD_WRITES:
            mine = [u for u in updates if u.object_type == kind]
            chunks.extend((kind, list(chunk)) for chunk in chunked(mine, BATCH_SIZE))
        unknown = {u.object_type for u in updates} - _FIELD_WRITES.keys()
        if unknown:
            raise ValueError(f"Zendesk has no fields of {sorted(unknown)} to write")
        outcomes = self.jobs.run_each(
            [
                self._submit(
                    getattr(self.client, _FIELD_WRITES[kind][0]).update,
                    [_field_record(kind, u) for u in chunk],
                )
                for kind, chunk in chunks
            ]
        )
        found: dict[tuple[str, str], WriteResult] = {}
        stopped: list[ConnectorError] = []
        for (kind, chunk), outcome in zip(chunks, outcomes, strict=True):
            keys = [u.record_id for u in chunk]
            if isinstance(outcome.error, RecordError):
                results = _refused(keys, outcome.error)
            elif outcome.error is not None:
                stopped.append(outcome.error)
                continue
            else:
                results = job_results(outcome.status, keys, by_id=True)
            found.update(((kind, r.record_id), r) for r in results)
        answers = [found.get((u.object_type, u.record_id)) for u in updates]
        if stopped:
            raise stopped_part_way(first_to_heed(stopped), answers)
        return [a for a in answers if a is not None]


def _refused(keys: Sequence[str], error: RecordError) -> list[WriteResult]:
    """The results of records whose whole request Zendesk refused (a 4xx)."""
    code = error.code or "refused"
    return [WriteResult(k, False, error=error.message, code=code, tier=error.tier) for k in keys]


#: Zendesk's API and fields attribute per kind of record whose fields write-back sets.
_FIELD_WRITES: Mapping[str, tuple[str, str]] = {
    "organization": ("organizations", "organization_fields"),
    "user": ("users", "user_fields"),
}


def _field_record(kind: str, update: FieldUpdate) -> Any:
    record = Organization if kind == "organization" else User
    return record(id=int(update.record_id), **{_FIELD_WRITES[kind][1]: dict(update.values)})


def _noting(on_job: JobNoted | None, keys: list[list[str]]) -> OnSubmit | None:
    """``on_job`` told the keys of each job, from the runner's job indexes."""
    if on_job is None:
        return None
    return lambda index, job_id: on_job(keys[index], job_id)


#: Between the answers of a comment that joins several (each part keeps its own marker line).
COMMENT_SEPARATOR = "\n\n---\n\n"
#: Longest comment made by joining several (Zendesk takes up to 64 KB a comment).
MAX_JOINED_CHARS = 30_000


@dataclass(frozen=True, slots=True)
class _Joined:
    """One comment on one ticket carrying the comments of ``keys``, in their order."""

    keys: tuple[str, ...]
    ticket_id: int
    body: str
    public: bool
    status: str | None
    fields: Mapping[int, object]

    @property
    def key(self) -> str:
        return self.keys[0]


def merged(comments: Sequence[CommentSpec], *, max_chars: int = MAX_JOINED_CHARS) -> list[_Joined]:
    """The comments joined per (ticket, visibility), in the order of each group's first.

    The bodies are joined with :data:`COMMENT_SEPARATOR` up to ``max_chars`` (a longer run
    starts another comment); the status of a group is the last one any of them sets (a reopen
    is not lost because a later comment keeps the status), and so is each custom field's value.
    """
    groups: dict[tuple[int, bool, int], list[CommentSpec]] = {}
    part: dict[tuple[int, bool], tuple[int, int]] = {}  # -> (group number, its length)
    for comment in comments:
        scope = (comment.ticket_id, comment.public)
        number, length = part.get(scope, (0, 0))
        if length and length + len(COMMENT_SEPARATOR) + len(comment.body) > max_chars:
            number, length = number + 1, 0
        part[scope] = (number, length + len(COMMENT_SEPARATOR) + len(comment.body))
        groups.setdefault((*scope, number), []).append(comment)
    joined = []
    for (ticket_id, public, _), group in groups.items():
        statuses = [c.status for c in group if c.status is not None]
        fields = {k: v for c in group for k, v in c.fields.items()}
        joined.append(
            _Joined(
                tuple(c.key for c in group),
                ticket_id,
                COMMENT_SEPARATOR.join(c.body for c in group),
                public,
                statuses[-1] if statuses else None,
                fields,
            )
        )
    return joined


def _waves(comments: Sequence[_Joined]) -> list[list[_Joined]]:
    """Split so that no wave holds two comments for one ticket (bulk jobs update a ticket once)."""
    waves: list[list[_Joined]] = []
    seen: list[set[int]] = []
    for comment in comments:
        for wave, tickets in zip(waves, seen, strict=True):
            if comment.ticket_id not in tickets:
                wave.append(comment)
                tickets.add(comment.ticket_id)
                break
        else:
            waves.append([comment])
            seen.append({comment.ticket_id})
    return waves


def _user(user: Any) -> ZendeskUser:
    org = user.organization_id
    return ZendeskUser(
        id=int(user.id),
        email=(user.email or "").lower(),
        name=user.name or "",
        organization_id=int(org) if org else None,
    )


def _exported_user(raw: Mapping[str, Any]) -> ExportedUser:
    org = raw.get("organization_id")
    return ExportedUser(
        id=int(raw["id"]),
        email=str(raw.get("email") or "").lower(),
        external_id=str(raw.get("external_id") or "").lower(),
        organization_id=int(org) if org else None,
        name=str(raw.get("name") or ""),
        active=bool(raw.get("active", True)),
    )


def _requester(spec: RequesterSpec) -> User:
    # No role: a new user is an end user anyway, and an existing agent must stay one.
    user = User(email=spec.email, name=spec.name or spec.email.split("@", 1)[0])
    if spec.organization_id:
        user.organization_id = spec.organization_id
    return user


def _field(field: Any) -> FieldInfo:
    options = getattr(field, "custom_field_options", None) or []
    return FieldInfo(
        id=int(field.id),
        title=str(field.title or ""),
        type=str(field.type or ""),
        key=str(getattr(field, "key", "") or ""),
        active=bool(getattr(field, "active", True)),
        options=tuple(str(_attr(o, "value")) for o in options),
    )


def _attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def ticket_state(
    raw: Mapping[str, Any], metric_set: Mapping[str, Any] | None = None
) -> TicketState:
    """A :class:`TicketState` from a ticket's JSON (and its metric set, when sideloaded)."""
    created_at = _timestamp(raw.get("created_at"))
    first_reply_at = solved_at = None
    if metric_set is not None:
        reply = metric_set.get("reply_time_in_minutes")
        minutes = reply.get("calendar") if isinstance(reply, Mapping) else None
        if (
            created_at is not None
            and isinstance(minutes, int)
            and int(metric_set.get("replies") or 0)
        ):
            first_reply_at = created_at + timedelta(minutes=minutes)
        solved_at = _timestamp(metric_set.get("solved_at"))
    return TicketState(
        id=int(raw["id"]),
        status=str(raw.get("status") or ""),
        requester_id=_int_or_none(raw.get("requester_id")),
        organization_id=_int_or_none(raw.get("organization_id")),
        external_id=raw.get("external_id") or None,
        updated_at=_timestamp(raw.get("updated_at")),
        created_at=created_at,
        first_reply_at=first_reply_at,
        solved_at=solved_at,
        text_fields=tuple(
            (int(f["id"]), f["value"])
            for f in raw.get("custom_fields") or []
            if isinstance(f, Mapping) and isinstance(f.get("value"), str) and f.get("id")
        ),
        subject=str(raw.get("subject") or ""),
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _ticket(spec: TicketSpec) -> Ticket:
    ticket = Ticket(
        subject=spec.subject[:250],
        comment=Comment(body=spec.body, public=spec.public),
        priority=spec.priority,
        tags=list(spec.tags),
        external_id=spec.key,
    )
    if spec.requester_id:
        ticket.requester_id = spec.requester_id
    elif spec.requester_email:
        ticket.requester = User(email=spec.requester_email, name=spec.requester_name or None)
    if spec.organization_id:
        ticket.organization_id = spec.organization_id
    if spec.group_id:
        ticket.group_id = spec.group_id
    if spec.assignee_id:
        ticket.assignee_id = spec.assignee_id
    if spec.ticket_type:
        ticket.type = spec.ticket_type
    if spec.custom_fields:
        ticket.custom_fields = [CustomField(id=k, value=v) for k, v in spec.custom_fields.items()]
    return ticket


def _commented(comment: _Joined) -> Ticket:
    ticket = Ticket(id=comment.ticket_id, comment=Comment(body=comment.body, public=comment.public))
    if comment.status is not None:
        ticket.status = comment.status
    if comment.fields:
        ticket.custom_fields = [CustomField(id=k, value=v) for k, v in comment.fields.items()]
    return ticket


class MinuteAllowance:
    """At most ``per_minute`` uses in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._uses: deque[float] = deque()

    def has_room(self) -> bool:
        """Whether one more use fits in the last minute."""
        now = self._clock()
        while self._uses and now - self._uses[0] >= 60.0:
            self._uses.popleft()
        return len(self._uses) < self.per_minute

    def take(self) -> bool:
        """Use one if the last minute has room; False (nothing used) otherwise."""
        if not self.has_room():
            return False
        self._uses.append(self._clock())
        return True
