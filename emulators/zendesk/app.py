"""``ZendeskEmulator``: the Zendesk Support API subset nps-sync uses, in memory.

Serve it with :class:`emulators.base.EmulatorServer` and point the unmodified zenpy
client at it through :func:`connectors.transport.make_session`. Every request is charged
against the per-minute budget (incremental exports also against their own), whether or not it
authenticates, then authenticated and handled under the app lock, so the state is consistent
across the server's threads. A path no route serves answers 404 ``InvalidEndpoint``; a route
asked for a record that does not exist answers 404 ``RecordNotFound``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulators.base import EmulatorApp, Handler, Request, Response
from emulators.seed_model import Seed

from . import fields, render, routes, seeding
from .auth import Credentials
from .clock import Clock
from .context import Call, Context
from .errors import ApiError, invalid_endpoint, rate_limited, unauthenticated
from .idempotency import DEFAULT_WINDOW_SECONDS, IdempotencyCache
from .jobs import REALISTIC_POLLS, JobApply, JobBoard, PollsToComplete
from .ratelimit import MinuteBudget
from .records import Comment, CustomField, Ticket
from .store import Store

DEFAULT_AGENT_EMAIL = "agent@acme.example"
#: Per-endpoint budgets answer in their own header (``zendesk-ratelimit-tickets-index`` in recorded
#: traffic); the incremental exports' one, with ``total=10; remaining=9; resets=41``.
EXPORT_LIMIT_HEADER = "zendesk-ratelimit-incremental-exports"
DEFAULT_TOKEN = "TOKEN"

_FAULT_BODIES: dict[int, dict[str, Any]] = {
    401: {"error": "Couldn't authenticate you"},
    404: {"error": "RecordNotFound", "description": "Not found"},
    422: {"error": "RecordInvalid", "description": "Record validation errors", "details": {}},
    429: {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    },
    500: {"error": "InternalServerError", "description": "Something went wrong"},
    503: {"error": "ServiceUnavailable", "description": "Zendesk is temporarily unavailable"},
}


@dataclass(frozen=True)
class _Settings:
    seed: int
    rate_limit_per_minute: int
    rate_limit_window_seconds: int
    job_polls_to_complete: PollsToComplete
    job_apply: JobApply
    job_seconds_to_complete: float
    incremental_rate_limit_per_minute: int
    idempotency_window_seconds: float
    search_index_delay_seconds: float


class ZendeskEmulator(EmulatorApp):
    """In-memory Zendesk Support account (see the package docstring for the API covered)."""

    system = "zendesk"

    def __init__(
        self,
        *,
        seed: int = 0,
        subdomain: str = "acme",
        rate_limit_per_minute: int = 700,
        rate_limit_window_seconds: int = 60,
        job_polls_to_complete: PollsToComplete = REALISTIC_POLLS,
        job_apply: JobApply = "on_submit",
        job_seconds_to_complete: float = 2.0,
        incremental_rate_limit_per_minute: int = 10,
        idempotency_window_seconds: float = DEFAULT_WINDOW_SECONDS,
        search_index_delay_seconds: float = 0.0,
    ) -> None:
        super().__init__(seed=seed)
        self.subdomain = subdomain
        self._settings = _Settings(
            seed,
            rate_limit_per_minute,
            rate_limit_window_seconds,
            job_polls_to_complete,
            job_apply,
            job_seconds_to_complete,
            incremental_rate_limit_per_minute,
            idempotency_window_seconds,
            search_index_delay_seconds,
        )
        self._fresh_account()
        for method, path, name, handler in routes.ROUTES:
            self.route(method, routes.pattern(path), name, self._guarded(name, handler))

    def _fresh_account(self) -> None:
        settings = self._settings
        self.clock = Clock()
        self._store = Store(self.clock)
        self._ctx = Context(
            store=self._store,
            jobs=JobBoard(
                settings.job_polls_to_complete,
                random.Random(settings.seed),
                apply=settings.job_apply,
                seconds_to_complete=settings.job_seconds_to_complete,
            ),
            idempotency=IdempotencyCache(settings.idempotency_window_seconds),
            search_index_delay_seconds=settings.search_index_delay_seconds,
        )
        self._budget = MinuteBudget(
            settings.rate_limit_per_minute, settings.rate_limit_window_seconds
        )
        self._export_budget = MinuteBudget(settings.incremental_rate_limit_per_minute)
        self._credentials = Credentials()
        seeding.install_defaults(self._store)
        self.agent_id = seeding.add_staff(self._store, DEFAULT_AGENT_EMAIL, "Acme Agent").id
        self.add_api_token(DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN)

    def reject_search(self, email: str) -> None:
        """Answer the ``email:`` search for ``email`` with a 400 from now on (until reset)."""
        with self.lock:
            self._ctx.rejected_searches.add(email.lower())

    def reset(self) -> None:
        """A fresh account with the constructor's settings; counters and faults cleared.

        Lets one running server serve many tests (stopping a server takes half a second).
        """
        with self.lock:
            self._fresh_account()
            self.forget_traffic()
            self.latency = 0.0

    # -- request pipeline ---------------------------------------------------------------------
    def _guarded(self, name: str, handler: routes.Handler) -> Handler:
        def serve(request: Request) -> Response:
            with self.lock:
                try:
                    # Zendesk counts every request to the account, signed in or not.
                    self._charge(name)
                    self._ctx.jobs.settle(self.clock.now())  # jobs run whether polled or not
                    actor_id = self._authenticate(request)
                    response = handler(self._ctx, Call(request, actor_id))
                except ApiError as error:
                    response = Response.json(error.body, error.status, error.headers)
                if name in routes.INCREMENTAL_EXPORTS:
                    response.headers[EXPORT_LIMIT_HEADER] = self._export_limit(self.clock.now())
                return response

        return serve

    def _export_limit(self, now: float) -> str:
        """The incremental exports' own budget, in Zendesk's per-endpoint header format."""
        budget = self._export_budget
        return (
            f"total={budget.limit}; remaining={budget.remaining(now)}; "
            f"resets={budget.reset_in(now)}"
        )

    def _authenticate(self, request: Request) -> int:
        email = self._credentials.identify(request)
        user = self._store.user_by_email(email) if email else None
        if user is None or not user.active:
            raise unauthenticated()
        return user.id

    def _charge(self, name: str) -> None:
        now = self.clock.now()
        if self._budget.remaining(now) == 0:
            raise rate_limited(self._budget.reset_in(now))
        if name in routes.INCREMENTAL_EXPORTS:
            if self._export_budget.remaining(now) == 0:
                raise rate_limited(self._export_budget.reset_in(now))
            self._export_budget.take(now)
        self._budget.take(now)

    def decorate(self, request: Request, response: Response) -> None:
        """Rate-limit headers on every answer, as Zendesk sends them."""
        with self.lock:
            now = self.clock.now()
            limit = str(self._budget.limit)
            remaining = str(self._budget.remaining(now))
            reset = str(self._budget.reset_in(now))
        response.headers.update(
            {
                "X-Rate-Limit": limit,
                "X-Rate-Limit-Remaining": remaining,
                "rate-limit": limit,
                "rate-limit-remaining": remaining,
                "rate-limit-reset": reset,
                "ratelimit-limit": limit,
                "ratelimit-remaining": remaining,
                "ratelimit-reset": reset,
                "X-Zendesk-API-Version": "v2",
            }
        )

    def error_response(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        body = _FAULT_BODIES.get(status, {"error": f"HTTP {status}"})
        return Response.json(body, status, headers)

    def not_found(self, request: Request) -> Response:
        error = invalid_endpoint()
        return Response.json(error.body, error.status)

    # -- configuration ------------------------------------------------------------------------
    @property
    def rate_limit_per_minute(self) -> int:
        """The account-wide request budget per minute."""
        return self._settings.rate_limit_per_minute

    @property
    def search_index_delay_seconds(self) -> float:
        """How long a new user stays out of search results."""
        return self._settings.search_index_delay_seconds

    @property
    def public_url(self) -> str:
        """The origin clients use: ``https://<subdomain>.zendesk.com``."""
        return f"https://{self.subdomain}.zendesk.com"

    def add_api_token(self, email: str, token: str) -> None:
        """Accept ``email/token:token``; creates an admin user for an unknown email."""
        with self.lock:
            if self._store.user_by_email(email) is None:
                seeding.add_staff(self._store, email, email.split("@", 1)[0])
            self._credentials.add_api_token(email, token)

    def add_oauth_token(self, token: str, email: str = DEFAULT_AGENT_EMAIL) -> None:
        """Accept ``Authorization: Bearer <token>`` acting as ``email``'s user."""
        with self.lock:
            if self._store.user_by_email(email) is None:
                seeding.add_staff(self._store, email, email.split("@", 1)[0])
            self._credentials.add_oauth_token(token, email)

    def load_seed(self, seed: Seed) -> None:
        """Groups, organizations, Zendesk users and tickets from the seed book of business."""
        with self.lock:
            seeding.load(self._store, seed)

    def add_ticket_field(
        self, title: str, field_type: str = "text", options: Sequence[str] = ()
    ) -> int:
        spec = fields.FieldSpec(title, field_type, options=tuple(options))
        return self._add_field(self._store.ticket_fields, spec)

    def add_user_field(self, key: str, field_type: str = "text", title: str = "") -> int:
        spec = fields.FieldSpec(title or key, field_type, key=key)
        return self._add_field(self._store.user_fields, spec)

    def add_organization_field(self, key: str, field_type: str = "text", title: str = "") -> int:
        spec = fields.FieldSpec(title or key, field_type, key=key)
        return self._add_field(self._store.organization_fields, spec)

    def add_metric_fields(self) -> None:
        """Add the user and organization fields of every NPS metric beyond the defaults."""
        for key, kind in fields.METRIC_USER_FIELDS.items():
            self.add_user_field(key, kind)
        for key, kind in fields.METRIC_ORGANIZATION_FIELDS.items():
            self.add_organization_field(key, kind)

    def remove_ticket_field(self, title: str) -> None:
        """Delete a custom ticket field (simulates a misconfigured account)."""
        with self.lock:
            field_id = self._ticket_field(title).id
            del self._store.ticket_fields[field_id]
            for ticket in self._store.tickets.values():
                ticket.custom_fields.pop(field_id, None)

    def remove_user_field(self, key: str) -> None:
        """Delete a user field; its values vanish and writes to the key are ignored."""
        with self.lock:
            self._remove_keyed(self._store.user_fields, key)
            for user in self._store.users.values():
                user.user_fields.pop(key, None)

    def remove_organization_field(self, key: str) -> None:
        with self.lock:
            self._remove_keyed(self._store.organization_fields, key)
            for organization in self._store.organizations.values():
                organization.organization_fields.pop(key, None)

    def ticket_field_id(self, title: str) -> int:
        with self.lock:
            return self._ticket_field(title).id

    # -- clock and agents ---------------------------------------------------------------------
    def now(self) -> float:
        """The emulator's current time (epoch seconds), including ``advance_clock`` moves."""
        with self.lock:
            return self.clock.now()

    def use_clock(self, clock: Clock) -> None:
        """Take time from ``clock`` from now on (a simulation's :class:`ManualClock`)."""
        with self.lock:
            self.clock = clock
            self._store.clock = clock

    def advance_clock(self, seconds: float) -> None:
        """Move time forward: rate-limit windows, idempotency window, search-index lag."""
        with self.lock:
            self.clock.advance(seconds)

    def solve_ticket(self, ticket_id: int) -> None:
        self._agent_sets_status(ticket_id, "solved")

    def reopen_ticket(self, ticket_id: int) -> None:
        self._agent_sets_status(ticket_id, "open")

    def close_ticket(self, ticket_id: int) -> None:
        self._agent_sets_status(ticket_id, "closed")

    def agent_replies(self, ticket_id: int, body: str, *, public: bool = True) -> None:
        """An agent comments on the ticket, in public (a reply) unless ``public`` is False."""
        with self.lock:
            ticket = self._existing_ticket(ticket_id)
            now = self.clock.now()
            audit_id = self._store.new_id()
            comment = Comment(self._store.new_id(), self.agent_id, body, public, now, audit_id)
            ticket.comments.append(comment)
            event = render.comment_event(comment)
            ticket.audits.append(render.audit(ticket.id, audit_id, self.agent_id, now, [event]))
            self._store.touch(ticket)

    def set_ticket_field(self, ticket_id: int, title: str, value: str | None) -> None:
        """An agent sets a custom field of the ticket (a dropdown's tag, a text)."""
        with self.lock:
            ticket = self._existing_ticket(ticket_id)
            ticket.custom_fields[self._ticket_field(title).id] = value
            self._store.touch(ticket)

    def _agent_sets_status(self, ticket_id: int, status: str) -> None:
        with self.lock:
            ticket = self._existing_ticket(ticket_id)
            if ticket.status == "closed":
                raise ValueError(f"ticket {ticket_id} is closed and cannot change")
            previous, ticket.status = ticket.status, status
            event = {
                "id": self._store.new_id(),
                "type": "Change",
                "field_name": "status",
                "value": status,
                "previous_value": previous,
            }
            now = self.clock.now()
            audit = render.audit(ticket.id, self._store.new_id(), self.agent_id, now, [event])
            ticket.audits.append(audit)
            self._store.touch(ticket)

    # -- snapshots for tests ------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        """How many users, organizations, tickets, comments and submitted jobs the account holds
        (cheap: nothing is rendered), for the benchmark's count of the work done."""
        with self.lock:
            store = self._store
            return {
                "users": len(store.users),
                "organizations": len(store.organizations),
                "tickets": len(store.tickets),
                "comments": sum(len(t.comments) for t in store.tickets.values()),
                "jobs": len(self._ctx.jobs.all()),
            }

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket as the API shows it, by id."""
        with self.lock:
            return [
                render.ticket(t, self.public_url, self._store)
                for t in sorted(self._store.tickets.values(), key=lambda t: t.id)
            ]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.lock:
            return render.ticket(self._existing_ticket(ticket_id), self.public_url, self._store)

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [render.comment(c) for c in self._existing_ticket(ticket_id).comments]

    def users(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                render.user(u, self.public_url, self._store)
                for u in sorted(self._store.users.values(), key=lambda u: u.id)
            ]

    def organizations(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                render.organization(o, self.public_url, self._store)
                for o in sorted(self._store.organizations.values(), key=lambda o: o.id)
            ]

    def groups(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                render.group(g, self.public_url)
                for g in sorted(self._store.groups.values(), key=lambda g: g.id)
            ]

    # -- helpers ------------------------------------------------------------------------------
    def _existing_ticket(self, ticket_id: int) -> Ticket:
        ticket = self._store.tickets.get(ticket_id)
        if ticket is None:
            raise KeyError(f"no ticket {ticket_id}")
        return ticket

    def _ticket_field(self, title: str) -> CustomField:
        for definition in self._store.ticket_fields.values():
            if definition.title == title and not definition.system:
                return definition
        raise KeyError(f"no custom ticket field titled {title!r}")

    def _add_field(self, catalogue: dict[int, CustomField], spec: fields.FieldSpec) -> int:
        with self.lock:
            (definition,) = fields.build([spec], self._store.new_id, self.clock.now())
            catalogue[definition.id] = definition
            return definition.id

    @staticmethod
    def _remove_keyed(catalogue: dict[int, CustomField], key: str) -> None:
        matches = [d.id for d in catalogue.values() if d.key == key]
        if not matches:
            raise KeyError(f"no field with key {key!r}")
        for field_id in matches:
            del catalogue[field_id]
