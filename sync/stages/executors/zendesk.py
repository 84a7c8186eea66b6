"""Executor of ``zendesk_ticket`` intents: NPS tickets, created once, or attached to an open one.

For one claimed batch (up to 100 intents), in this order:

0. **The Task first.** A response that also asked for a Salesforce Task waits for it to be made
   (or to fail for good), at most ``task_wait``, so that the ticket names it and its owner.
   Before the ticket is made, a link intent is queued (:mod:`.task_links`) that puts the
   ticket's link on that Task once the ticket exists: queued first, it survives a crash between
   the two creates.
1. **Attach, don't duplicate.** An intent with ``attach_to_open`` looks for an unsolved NPS
   ticket of ours for the same requester (or organization, ``zendesk.tickets.attach_scope``)
   created within the window: candidates come from the state store, their current status from
   one ``tickets/show_many``. The response becomes an internal comment on that ticket; the action
   is done with the existing ticket's id. Two such intents of one requester in the same batch
   open one ticket, the second's answer joined to its first comment under its own marker line.
2. **Requesters** the rule may create (``create_requester``) are created in one ``create_many``
   job, with their organization from the configured sources. One Zendesk will not create (a
   user has the email already, one the matching search did not show yet) is named on the
   ticket by email instead: Zendesk makes that user the requester, unchanged.
3. **Context.** Each body gets the customer-context block; the requesters' unsolved tickets
   come from one ``users/show_many`` with a sideload per 100 requesters, then one
   ``tickets/requested`` per requester who has some.
4. **Create** the remaining tickets: ``create_many`` jobs of up to 100, a lone ticket directly
   with an ``Idempotency-Key``. Every ticket carries its action key as ``external_id``, so an
   intent that may have run before is looked up by that key first (:func:`create_missing`).
5. **Comment.** Each comment ends with a marker naming its action key; a comment that may have
   been added before is looked for by that marker on the ticket first, so it is never doubled.
   The comments on tickets that exist already are sent before the new tickets, and the bulk jobs
   of both are polled together: a batch waits for its jobs once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from connectors.errors import ConfigError, ConnectorError
from connectors.models import TicketSpec
from connectors.salesforce.records import QUEUE_PREFIX, USER_PREFIX
from connectors.zendesk.client import COMMENT_SEPARATOR, MAX_JOINED_CHARS
from connectors.zendesk.records import CommentSpec, RequesterSpec, TicketState
from sync.core.config import OrganizationSource, ZendeskConfig, ZendeskFields
from sync.core.ports import FieldReader, OpenTickets, TicketDesk
from sync.core.retry import RetryPolicy
from sync.loop.export_pause import exports_paused, reading_exports
from sync.stages.act import (
    Outcome,
    create_missing,
    guarded,
    look_up_each,
    unresolved_outcome,
)
from sync.stages.executors.bulk_jobs import JobWatch
from sync.stages.executors.customer_context import (
    context_seconds,
    fetch_open_tickets,
    task_url,
    timeline,
)
from sync.stages.executors.task_links import link_intent
from sync.stages.executors.zendesk_comments import marker, started_comments
from sync.stages.executors.zendesk_context import (
    ContextFacts,
    TaskRef,
    compile_context,
    render_context,
)
from sync.stages.match_zendesk import (
    OrganizationResolver,
    Requester,
    ZendeskNames,
    field_titles,
    resolve_names,
)
from sync.stages.settle import SettleWindow
from sync.state import ActionIntent, ActionRow, ClaimedAction, StateStore, TicketCandidate

log = logging.getLogger(__name__)

KIND = "zendesk_ticket"
TASK_KIND = "salesforce_task"
#: Keys per marker lookup: Zendesk finds tickets by one ``external_id`` per request, so each
#: request is retried on its own and one failure leaves only its own action unresolved.
LOOKUP_CHUNK = 1
#: Actions claimed before checked per batch. Each costs a request (see :data:`LOOKUP_CHUNK`), so
#: a backlog a crash or a deferral left behind, larger than the minute's request budget, would
#: spend all of it on checks at every pass and never get to create: the others are given back,
#: due at once, and the drain records what each batch did before the next one asks more.
LOOKUPS_PER_BATCH = 50
#: How long a ticket action waits for an earlier one of its requester before it looks again.
SERIAL_WAIT_MIN = timedelta(seconds=1)
SERIAL_WAIT_MAX = timedelta(seconds=60)
#: Export pages a recheck of held tickets reads at most (1,000 tickets each): from three held
#: tickets on, the export asks fewer requests than a lookup per ticket would.
RECHECK_PAGES = 2
#: How long before the earliest unanswered submit the export is read from: Zendesk's clock and
#: ours may differ, and a ticket changed since it was made is exported at its latest change.
CLOCK_SLACK = timedelta(minutes=5)
#: Zendesk gives no bound on how long a bulk job may wait in its queue; jobs usually run within
#: seconds, and their statuses were kept for an hour. A job not run within it is taken as lost.
DEFAULT_WINDOW = timedelta(hours=1)


_K = TypeVar("_K")
_V = TypeVar("_V")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TicketSettings:
    """The ``zendesk`` settings the executor uses (defaults as in the config)."""

    attach_scope: Literal["requester", "organization"] = "requester"
    attach_window: timedelta = timedelta(days=30)
    context_template: str | None = None
    history_limit: int = 5
    public_comments: bool = False
    #: Added to every new ticket's own tags (``zendesk.tickets.tags``).
    tags: tuple[str, ...] = ("nps",)
    organization_from: tuple[OrganizationSource, ...] = ("user", "external_id", "domain")
    field_titles: Mapping[str, str] = field(default_factory=lambda: field_titles(ZendeskFields()))
    domains: Mapping[str, str] = field(default_factory=dict)
    #: The org's instance URL: the ticket links to the Task of the same response ("": no link).
    task_instance_url: str = ""
    #: How long a ticket waits for the Task of its response (from when both were queued) before
    #: it is made without naming it: Salesforce down for long does not hold tickets back.
    task_wait: timedelta = timedelta(hours=1)
    #: About how long a batch may spend listing the requesters' open tickets (a share of the
    #: lease, see :func:`~sync.stages.executors.customer_context.fetch_open_tickets`).
    context_seconds: float = 10.0
    #: A batch of at most this many new tickets is created one request each, not in a bulk job
    #: (whose completion takes polls seconds apart): what a real-time pass wants.
    direct_up_to: int = 1
    #: How long after a bulk submit that got no answer its job may still run
    #: (``zendesk.tickets.settle_seconds``): nothing it carried is sent again before.
    settle_window: timedelta = DEFAULT_WINDOW
    #: Failures that end an action in the dead letters (``max_attempts``): a write that got no
    #: answer and had not taken effect once the window passed is one.
    max_attempts: int = 8

    @classmethod
    def from_config(
        cls,
        zd: ZendeskConfig,
        instance_url: str = "",
        lease_seconds: float = 300.0,
        max_attempts: int = 8,
    ) -> TicketSettings:
        return cls(
            max_attempts=max_attempts,
            context_seconds=context_seconds(lease_seconds),
            task_instance_url=instance_url,
            attach_scope=zd.tickets.attach_scope,
            attach_window=timedelta(days=zd.tickets.attach_window_days),
            context_template=zd.tickets.context_template,
            history_limit=zd.tickets.history_limit,
            public_comments=zd.tickets.public_comments,
            tags=zd.tickets.tags,
            organization_from=zd.matching.organization_from,
            field_titles=field_titles(zd),
            domains=dict(zd.matching.organization_domains),
            settle_window=timedelta(seconds=zd.tickets.settle_seconds),
        )


@dataclass
class _Plan:
    """One intent, parsed, and what the batch learned for it."""

    action: ClaimedAction
    requester_id: int | None
    organization_id: int | None
    email: str
    attach: bool
    target: int | None = None  # ticket to comment on, when attaching
    #: Set the ticket to this status with the comment (``open``: reopen the named ticket).
    status: str | None = None
    #: The comment is an internal note whatever ``zendesk.tickets.public_comments`` says.
    internal: bool = False
    leader: str | None = None  # key of the intent in this batch whose new ticket we comment on
    context: str = ""
    tasks: list[ActionRow] = field(default_factory=list)  # the response's Tasks, made

    @property
    def key(self) -> str:
        return self.action.key

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.action.payload

    def scope(self, by: str) -> str:
        if by == "organization" and self.organization_id:
            return f"org:{self.organization_id}"
        return f"email:{self.email}"


@dataclass
class ZendeskTicketExecutor:
    helpdesk: TicketDesk
    retry: RetryPolicy
    #: Needed to attach to open tickets and for the score history; without it, neither.
    store: StateStore | None = None
    settings: TicketSettings = field(default_factory=TicketSettings)
    #: Names resolved at start-up (:func:`sync.stages.match_zendesk.resolve_names`); else
    #: resolved here.
    names: ZendeskNames | None = None
    clock: Callable[[], datetime] = utcnow
    kind: str = KIND
    batch_size: int = 100
    #: Reads the Task owners' names; without it, a ticket names its Task without the owner.
    crm: FieldReader | None = None
    #: Where the context finds the requesters' unsolved tickets; None: ``helpdesk``.
    open_tickets: OpenTickets | None = None

    def __post_init__(self) -> None:
        self._template = compile_context(self.settings.context_template)
        self._agents: dict[str, int] = dict(self.names.agents) if self.names else {}
        self._owner_names: dict[str, str] = {}
        #: Tickets this executor made in the current pass (:meth:`begin_pass`): unsolved as far
        #: as the pass knows, so the later batches of a backlog attach to them without asking.
        self._made: dict[int, TicketState] = {}
        #: Zendesk refused these credentials the export: held tickets are looked up one each.
        self._export_refused = False

    def begin_pass(self) -> None:
        """Forget the tickets made in earlier passes: their state is asked of Zendesk again."""
        self._made.clear()

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return guarded(actions, lambda: self._execute(actions))

    # -- the batch -----------------------------------------------------------------------------
    def _execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        names = self._resolved_names()
        watch = JobWatch.of(actions, self.helpdesk, self.retry, self.store, self.clock)
        outcomes: dict[str, Outcome] = watch.hold(actions)
        outcomes.update(_beyond_lookups(actions, outcomes, self.clock()))
        # In the order the customers answered, so that a requester's first answer in the batch
        # opens the ticket and later ones join it, as they would have arriving one by one.
        plans = sorted((_plan(a) for a in actions if a.key not in outcomes), key=_answer_order)
        plans = self._after_tasks(plans, outcomes)
        self._aim_named(plans, outcomes)
        plans = [p for p in plans if p.key not in outcomes]

        attaching = [p for p in plans if p.attach]
        # Read before the ledger's open tickets: an action recorded done in between is then seen
        # by the one query or the other.
        waits = self._earlier_unresolved(attaching)
        looked_up = [p.key for p in attaching if p.action.attempts > 1]
        found, unresolved = look_up_each(
            looked_up, self.helpdesk.find_tickets_by_key, self.retry, LOOKUP_CHUNK
        )
        for key, error in unresolved.items():
            outcomes[key] = unresolved_outcome(key, error)
        scope = self.settings.attach_scope
        made: dict[str, int] = {}  # scope -> a ticket an earlier attempt of this batch opened
        for plan in attaching:
            if plan.key in found:
                ticket_id = found[plan.key]
                made.setdefault(plan.scope(scope), ticket_id)
                outcomes[plan.key] = Outcome(
                    plan.key, "done", external_id=str(ticket_id), found_existing=True
                )
        uncertain = {p.scope(scope) for p in attaching if p.key in unresolved}
        now = self.clock()
        for plan in attaching:
            if plan.key not in outcomes and plan.scope(scope) in uncertain:
                waits.setdefault(plan.key, now + SERIAL_WAIT_MIN)
        plans = [p for p in plans if p.key not in outcomes]
        self._choose_targets([p for p in plans if p.attach], made, waits, outcomes)
        plans = [p for p in plans if p.key not in outcomes]

        self._create_requesters(plans, names)
        # A ticket held while its submit may still run is not sent in this attempt: it needs no
        # context (asking for it would cost requests at every recheck).
        settle = self._settle(queued_from=self.settings.direct_up_to + 1)
        self._add_context([p for p in plans if not settle.holding(p.action)])

        creating = [p for p in plans if p.target is None and p.leader is None]
        specs: dict[str, TicketSpec] = {}
        for plan in creating:
            spec = self._spec(plan, names)
            if isinstance(spec, Outcome):
                outcomes[plan.key] = spec
            else:
                specs[plan.key] = spec

        joined = self._join_followers(plans, specs)

        def settled_lookup(keys: list[str]) -> dict[str, int]:
            watch.settle(keys)  # a job still running may be about to create them
            return self.helpdesk.find_tickets_by_key(keys)

        def recheck(keys: list[str], since: datetime) -> dict[str, int]:
            watch.settle(keys)
            return self._recheck(keys, since)

        def note(keys: Sequence[str], job_id: str) -> None:
            # A joined answer is held with its ticket's job, like the ticket itself.
            watch.note([*keys, *(f.key for k in keys for f in joined.get(k, ()))], job_id)

        # The comments on tickets that exist already go first, and their jobs are polled with
        # those of the new tickets: one wait for both.
        targeted = self._start_comments([p for p in plans if p.target is not None], {}, watch)
        try:
            created = create_missing(
                [p.action for p in creating if p.key in specs],
                lookup=settled_lookup,
                create=lambda todo: self.helpdesk.create_tickets(
                    [specs[a.key] for a in todo],
                    direct_up_to=self.settings.direct_up_to,
                    on_job=note,
                ),
                retry=self.retry,
                lookup_chunk=LOOKUP_CHUNK,
                settle=settle,
                recheck=recheck,
                checked=[k for k in looked_up if k not in found and k not in unresolved],
            )
        finally:
            outcomes.update(targeted())
        outcomes.update({o.key: o for o in created})
        for outcome in created:
            if outcome.result == "done" and outcome.external_id.isdigit():
                ticket_id = int(outcome.external_id)
                self._made[ticket_id] = TicketState(ticket_id, "new")
        for leader, followers in joined.items():
            outcomes.update(
                (f.key, _joined_outcome(f.key, outcomes.get(leader))) for f in followers
            )

        following = [p for p in plans if p.leader is not None and p.key not in outcomes]
        outcomes.update(self._start_comments(following, outcomes, watch)())
        return [outcomes[a.key] for a in actions]

    def _join_followers(
        self, plans: list[_Plan], specs: dict[str, TicketSpec]
    ) -> dict[str, list[_Plan]]:
        """Put the answers that would comment on a ticket this batch opens into that ticket's
        first comment, each under its marker line, as comments on one ticket are joined: no
        second bulk job waited for after the first. Only for tickets no earlier attempt may
        have made (else the ticket may exist without them) and answers no earlier attempt may
        have added elsewhere; the others are commented once the ticket exists. Returns the
        joined plans per leader key, and changes the leaders' specs."""
        joined: dict[str, list[_Plan]] = {}
        by_key = {p.key: p for p in plans}
        for plan in plans:
            leader = by_key.get(plan.leader) if plan.leader is not None else None
            if (
                leader is None
                or leader.key not in specs
                or leader.action.attempts > 1
                or plan.action.attempts > 1
                or plan.internal
                or plan.status is not None
            ):
                continue
            spec = specs[leader.key]
            body = f"{spec.body}{COMMENT_SEPARATOR}{self._body(plan)}\n\n{marker(plan.key)}"
            if len(body) > MAX_JOINED_CHARS:
                continue
            # The ticket's fields show the last answer on it, as if it had been commented on.
            fields = ticket_fields(plan.payload, self._resolved_names().ticket_fields, later=True)
            specs[leader.key] = replace(
                spec, body=body, custom_fields={**spec.custom_fields, **fields}
            )
            joined.setdefault(leader.key, []).append(plan)
        return joined

    # -- 0. the Task of the same response ------------------------------------------------------
    def _after_tasks(self, plans: list[_Plan], outcomes: dict[str, Outcome]) -> list[_Plan]:
        """The plans that may go ahead now, each with the Task of its response when it has one.

        A plan whose response's Task is still to be made waits for it (a deferral, not a
        failure), at most ``task_wait`` after they were queued, and not at all for a Task put off
        beyond that. For a plan whose Task exists,
        the intent that links the Task back to the ticket is queued before the ticket is made.
        """
        if self.store is None or not plans:
            return plans
        rows = self.store.outbox.of_responses(
            [(p.action.source, p.action.response_id) for p in plans], [TASK_KIND, KIND]
        )
        now = self.clock()
        wait = self.settings.task_wait
        ready: list[_Plan] = []
        links: list[ActionIntent] = []
        held: dict[str, datetime] = {}  # scope -> until when an earlier answer of it waits
        for plan in plans:  # in answer order: a later answer never overtakes an earlier one
            found = rows.get((plan.action.source, plan.action.response_id), [])
            tasks = _tasks_of(plan.key, found)
            # Only for a Task due within the wait: one Salesforce put off for longer (a spent
            # API allowance) would only hold the ticket back.
            waiting = [
                t
                for t in tasks
                if t.unresolved
                and t.created_at
                and now < t.created_at + wait
                and t.next_attempt_at < t.created_at + wait
            ]
            scope = plan.scope(self.settings.attach_scope)
            if waiting or (plan.attach and scope in held):
                until = held.get(scope, now + SERIAL_WAIT_MAX)
                for task in waiting:
                    assert task.created_at is not None
                    until = min(until, max(task.next_attempt_at, now), task.created_at + wait)
                until = min(max(until, now + SERIAL_WAIT_MIN), now + SERIAL_WAIT_MAX)
                held.setdefault(scope, until)
                error = (
                    "waiting for the Salesforce Task of the same response"
                    if waiting
                    else "waiting for an earlier ticket action of the same requester"
                )
                outcomes[plan.key] = Outcome(plan.key, "defer", error=error, not_before=until)
                continue
            plan.tasks = [t for t in tasks if t.status == "done" and t.external_id]
            links.extend(link_intent(plan.action, t) for t in plan.tasks)
            ready.append(plan)
        if links and self.store.outbox.enqueue(links, now) < len({k.key for k in links}):
            # A link that exists already was closed without a ticket to name when this ticket
            # reached the failed list (or still waits for it): ``failed retry`` put the ticket
            # back, so its link runs again; it reads the Task first, so it never writes twice.
            self.store.outbox.reopen_done([k.key for k in links], now)
        return ready

    def _task_owners(self, plans: list[_Plan]) -> dict[str, str]:
        """The names of the Tasks' owners, by owner id.

        Routing names the account owner already; the others (a contact's owner, a ``user:``
        owner, the fallback) are read from Salesforce once per executor. {} for those when
        Salesforce cannot say now: the ticket names the Task without its owner.
        """
        names = dict(self._owner_names)
        for plan in plans:
            for task in plan.tasks:
                owner, name = task.payload.get("owner_id"), task.payload.get("owner_name")
                if owner and name:
                    names[str(owner)] = str(name)
        owners = {str(t.payload.get("owner_id") or "") for p in plans for t in p.tasks}
        missing = owners - names.keys() - {""}
        if self.crm is None or not missing:
            return names
        crm = self.crm
        for object_type, prefix in (("User", USER_PREFIX), ("Group", QUEUE_PREFIX)):
            ids = sorted(o for o in missing if o.startswith(prefix))
            if not ids:
                continue
            try:
                found = self.retry.call(partial(crm.read_fields, object_type, ids, ["Name"]))
            except ConnectorError as exc:
                log.warning("Task owners left out of the ticket context: %s", exc)
                continue
            read = {i: str(v.get("Name")) for i, v in found.items() if v.get("Name")}
            self._owner_names.update(read)
            names.update(read)
        return names

    # -- 1. the ticket a transactional survey names -------------------------------------------
    def _aim_named(self, plans: list[_Plan], outcomes: dict[str, Outcome]) -> None:
        """Point each plan whose response names its ticket at that ticket, as an internal note.

        The ticket must be an integer id of a ticket that exists and is not closed (Zendesk
        refuses updates to closed tickets), and it must be the respondent's: requested by their
        Zendesk user or email, or belonging to their organization. The id comes from the
        survey link, which whoever answers can edit: a note (and a reopening) must not land on
        another customer's ticket. One that is not is reported by response, and the plan goes
        on as if it named none (``if_named_missing: new_ticket``) or ends without a ticket
        (``skip``). All the named tickets of the batch are read in one ``show_many``, their
        requesters sideloaded.
        """
        named = [p for p in plans if p.payload.get("named_ticket") is not None]
        if not named:
            return
        ids: dict[str, int] = {}
        for plan in named:
            text = str(plan.payload["named_ticket"])
            if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
                ids[plan.key] = int(text)
        states = (
            self.retry.call(
                partial(self.helpdesk.tickets_by_id, sorted(set(ids.values())), requesters=True)
            )
            if ids
            else {}
        )
        for plan in named:
            ticket_id = ids.get(plan.key)
            state = states.get(ticket_id) if ticket_id is not None else None
            usable = state is not None and state.status != "closed" and _respondents(plan, state)
            if ticket_id is not None and state is not None and usable:
                plan.target, plan.attach, plan.internal = ticket_id, False, True
                if plan.payload.get("reopen_named") and state.status == "solved":
                    plan.status = "open"
                continue
            problem = _named_problem(plan, ticket_id, state)
            if plan.payload.get("if_named_missing") == "skip":
                outcomes[plan.key] = Outcome(plan.key, "dead", error=f"{problem}; no ticket made")
            else:
                log.warning("%s; a new ticket is made instead", problem)

    # -- 1b. attach to an open ticket ----------------------------------------------------------
    def _earlier_unresolved(self, plans: list[_Plan]) -> dict[str, datetime]:
        """Plans that must wait for an earlier ticket action of their scope, with until when.

        An earlier action of the same requester (or organization) that is not recorded yet,
        whether waiting, retrying or running under another worker's lease, may have opened the
        ticket this plan should join. Until it is resolved, this plan would open a second one;
        so it waits for it. Only later actions wait for earlier ones (by when the customer
        answered, then when they were routed, then by key), so two actions never wait for each
        other, whichever workers claim them.
        """
        if self.store is None or not plans:
            return {}
        by_org = self.settings.attach_scope == "organization"
        ours = {p.key for p in plans}
        rows = self.store.tickets.unresolved(
            emails=[p.email for p in plans],
            organization_ids=[p.organization_id for p in plans if by_org and p.organization_id],
            keys=ours,
        )
        order = {u.key: (u.answered_at, u.created_at, u.key) for u in rows}
        earlier: dict[str, list[tuple[tuple[datetime, datetime, str], datetime]]] = {}
        for u in rows:
            if u.key in ours:
                continue
            scopes = {f"email:{u.email}"}
            if by_org and u.organization_id:
                scopes.add(f"org:{u.organization_id}")
            for scope_key in scopes:
                earlier.setdefault(scope_key, []).append((order[u.key], u.due_at))
        now = self.clock()
        waits: dict[str, datetime] = {}
        for plan in plans:
            mine = order.get(plan.key)
            blockers = [
                due
                for at, due in earlier.get(plan.scope(self.settings.attach_scope), [])
                if mine is None or at < mine
            ]
            if blockers:
                until = min(blockers)
                waits[plan.key] = min(max(until, now + SERIAL_WAIT_MIN), now + SERIAL_WAIT_MAX)
        return waits

    def _choose_targets(
        self,
        plans: list[_Plan],
        made: Mapping[str, int],
        waits: Mapping[str, datetime],
        outcomes: dict[str, Outcome],
    ) -> None:
        """Set each plan's target (an open ticket of its scope) or leader (a plan of this batch).

        ``made`` holds the tickets that plans of this batch opened in an attempt cut short (found
        by their key, not yet in the ledger): the other plans of their scope join them. A plan
        that would open a ticket while an earlier action of its scope is unresolved (``waits``)
        is deferred instead: it joins that action's ticket once it is recorded.
        """
        if not plans:
            return
        scope = self.settings.attach_scope
        open_by_scope = {**self._open_tickets(plans), **made}
        leaders: dict[str, str] = {}
        for plan in plans:
            plan_scope = plan.scope(scope)
            target = open_by_scope.get(plan_scope)
            if target is not None:
                plan.target = target
            elif plan.key in waits:
                error = "waiting for an earlier ticket action of the same requester"
                outcomes[plan.key] = Outcome(
                    plan.key, "defer", error=error, not_before=waits[plan.key]
                )
            elif plan_scope in leaders:
                plan.leader = leaders[plan_scope]
            else:
                leaders[plan_scope] = plan.key

    def _open_tickets(self, plans: list[_Plan]) -> dict[str, int]:
        """Newest unsolved ticket of ours per scope key, confirmed with Zendesk."""
        if self.store is None:
            return {}
        by_org = self.settings.attach_scope == "organization"
        candidates = self.store.tickets.ticket_candidates(
            emails=[p.email for p in plans],
            organization_ids=[p.organization_id for p in plans if by_org and p.organization_id],
            since=self.clock() - self.settings.attach_window,
        )
        candidates = [c for c in candidates if c.status is None or c.status not in _SOLVED]
        if not candidates:
            return {}
        asked = sorted({c.ticket_id for c in candidates} - self._made.keys())
        states = self.retry.call(lambda: self.helpdesk.tickets_by_id(asked)) if asked else {}
        states = {**self._made, **states}
        newest: dict[str, tuple[datetime, int]] = {}
        for candidate in candidates:
            state = states.get(candidate.ticket_id)
            if state is None or not state.unsolved:
                continue
            for scope_key in _scope_keys(candidate, state, by_org):
                known = newest.get(scope_key)
                if known is None or candidate.created_at > known[0]:
                    newest[scope_key] = (candidate.created_at, candidate.ticket_id)
        return {scope_key: ticket_id for scope_key, (_, ticket_id) in newest.items()}

    # -- 2. requesters -------------------------------------------------------------------------
    def _create_requesters(self, plans: list[_Plan], names: ZendeskNames) -> None:
        """Create the requesters that are not in Zendesk yet, with their organization.

        A person Zendesk does not create keeps no requester id: the ticket names them by email
        (``requester_email``), and Zendesk makes the user who has it the requester, unchanged,
        or creates one.
        """
        new = [p for p in plans if p.requester_id is None and p.target is None and p.leader is None]
        if not new:
            return
        resolver = OrganizationResolver(
            self.helpdesk,
            self.settings.organization_from,
            names.domain_organizations,
            self.retry,
        )
        requesters = [Requester(p.email, None, p.payload.get("account_id")) for p in new]
        organizations = resolver.resolve(requesters)
        specs = [
            RequesterSpec(p.email, str(p.payload.get("requester_name") or ""), org)
            for p, org in zip(new, organizations, strict=True)
        ]
        ids = self.retry.call(lambda: self.helpdesk.create_users(specs))
        if ids and self.store is not None:
            # They exist now: an email search remembered as a miss would hide them.
            self.store.user_misses.forget(ids)
        for plan, org in zip(new, organizations, strict=True):
            user_id = ids.get(plan.email)
            if user_id is not None:
                plan.requester_id = user_id
                plan.organization_id = plan.organization_id or org

    # -- 3. context ----------------------------------------------------------------------------
    def _add_context(self, plans: list[_Plan]) -> None:
        if self._template is None or not plans:
            return
        requester_ids = [p.requester_id for p in plans if p.requester_id]
        open_tickets = fetch_open_tickets(
            self.open_tickets or self.helpdesk, requester_ids, self.settings.context_seconds
        )
        answers = (
            self.store.tickets.answers_around(
                [(p.action.source, p.action.response_id, p.email) for p in plans],
                self.settings.history_limit,
            )
            if self.store is not None
            else {}
        )
        owners = self._task_owners(plans)
        for plan in plans:
            task = None
            if plan.tasks and self.settings.task_instance_url:
                first = plan.tasks[0]
                url = task_url(self.settings.task_instance_url, str(first.external_id))
                task = TaskRef(url, owners.get(str(first.payload.get("owner_id") or "")))
            listed = open_tickets.get(plan.requester_id) if plan.requester_id else None
            if listed is not None and plan.target is not None:  # not the ticket it goes on
                listed = [t for t in listed if t.id != plan.target]
            facts = ContextFacts(
                open_tickets=listed,
                history=timeline(
                    answers.get(plan.email, []),
                    plan.action.source,
                    plan.action.response_id,
                    plan.payload,
                    self.settings.history_limit,
                ),
                task=task,
            )
            plan.context = render_context(self._template, plan.payload, facts)

    # -- 4. tickets ----------------------------------------------------------------------------
    def _spec(self, plan: _Plan, names: ZendeskNames) -> TicketSpec | Outcome:
        payload = plan.payload
        assignee_id = None
        assignee = payload.get("assignee_email")
        if assignee:
            assignee_id = self._agent_id(str(assignee))
            if assignee_id is None:
                return Outcome(plan.key, "dead", error=f"assignee {assignee!r} is not an agent")
        return TicketSpec(
            key=plan.key,
            subject=str(payload["subject"]),
            body=self._body(plan),
            requester_id=plan.requester_id,
            requester_email=str(payload.get("requester_email") or ""),
            requester_name=str(payload.get("requester_name") or ""),
            organization_id=plan.organization_id,
            group_id=payload.get("group_id"),
            priority=str(payload.get("priority") or "normal"),
            tags=tuple(dict.fromkeys((*self.settings.tags, *(payload.get("tags") or ())))),
            custom_fields=ticket_fields(payload, names.ticket_fields),
            ticket_type=payload.get("ticket_type"),
            assignee_id=assignee_id,
            public=self.settings.public_comments,
        )

    def _body(self, plan: _Plan) -> str:
        body = str(plan.payload["body"]).rstrip()
        return f"{body}\n\n{plan.context}" if plan.context else body

    def _agent_id(self, email: str) -> int | None:
        email = email.lower()
        if email not in self._agents:
            agents = self.retry.call(lambda: self.helpdesk.agents_by_email([email]))
            if email in agents:
                self._agents[email] = agents[email].id
        return self._agents.get(email)

    # -- 5. comments ---------------------------------------------------------------------------
    def _start_comments(
        self, plans: list[_Plan], outcomes: Mapping[str, Outcome], watch: JobWatch
    ) -> Callable[[], dict[str, Outcome]]:
        """Send each plan's comment once (:func:`started_comments`); the returned function
        waits for them. A leader that failed fails its followers too."""
        result: dict[str, Outcome] = {}
        comments: list[CommentSpec] = []
        overtaken = (
            self.store.tickets.told_after(
                (p.key, p.target) for p in plans if p.leader is None and p.target is not None
            )
            if self.store is not None
            else set()
        )
        for plan in plans:
            ticket_id = plan.target
            if plan.leader is not None:
                leader = outcomes.get(plan.leader)
                if leader is None or leader.result != "done" or not leader.external_id:
                    result[plan.key] = _joined_outcome(plan.key, leader)
                    continue
                ticket_id = int(leader.external_id)
            assert ticket_id is not None
            body = f"{self._body(plan)}\n\n{marker(plan.key)}"
            public = self.settings.public_comments and not plan.internal
            # The ticket's fields show the answer it was told of last (answer order): not this
            # one's when a later answer is on it already.
            field_ids = self._resolved_names().ticket_fields
            fields = ticket_fields(plan.payload, field_ids, later=True)
            if plan.key in overtaken:
                for name in ANSWER_FIELDS:
                    fields.pop(field_ids.get(name, -1), None)
            comments.append(CommentSpec(plan.key, ticket_id, body, public, plan.status, fields))
        if not comments:
            return lambda: result
        keys = {c.key for c in comments}
        actions = [p.action for p in plans if p.key in keys]
        finish = started_comments(
            comments,
            actions,
            self.helpdesk,
            self.retry,
            watch,
            self._settle(queued_from=2),
            recheck=self._recent_comments,
        )
        return lambda: {**result, **finish()}

    def _recheck(self, keys: list[str], since: datetime) -> dict[str, int]:
        """Held tickets, sent unanswered at ``since`` or later, looked for again.

        Zendesk finds a ticket by ``external_id`` one request each, and search cannot be
        trusted to show a new one for minutes; so the tickets of a larger hold are looked for
        in the incremental export from just before the send, a page of 1,000 changed tickets a
        request (:data:`RECHECK_PAGES` at most). Whatever that misses stays held: the lookup
        that lets a ticket be created again, after the window, is made one by one as ever.
        While the exports are told to wait (:mod:`sync.loop.export_pause`) nothing is asked.
        """
        if len(keys) > RECHECK_PAGES and not self._export_refused:
            found = self._from_export(
                partial(
                    self.helpdesk.find_recent_tickets_by_key,
                    keys,
                    since - CLOCK_SLACK,
                    max_pages=RECHECK_PAGES,
                )
            )
            if found is not None:
                return found
        return self.helpdesk.find_tickets_by_key(keys)

    def _recent_comments(
        self, ticket_ids: list[int], since: datetime
    ) -> dict[int, list[str]] | None:
        """The comments on the tickets of held comments (sent unanswered at ``since`` or
        later), to look for them again; None when reading each ticket's comments is cheaper.

        A ticket's comments are read one request each, so held comments on more tickets than
        :data:`RECHECK_PAGES` are looked for in the incremental ticket event export from just
        before the send, a page of 1,000 ticket updates a request, as held tickets are
        (:meth:`_recheck`): a comment that misses stays held, and after the window each
        ticket's own comments decide whether it is sent again.
        """
        if len(ticket_ids) <= RECHECK_PAGES or self._export_refused:
            return None
        return self._from_export(
            partial(
                self.helpdesk.recent_comment_bodies,
                ticket_ids,
                since - CLOCK_SLACK,
                max_pages=RECHECK_PAGES,
            )
        )

    def _from_export(self, read: Callable[[], dict[_K, _V]]) -> dict[_K, _V] | None:
        """``read()`` of an incremental export; nothing while the exports are told to wait
        (:mod:`sync.loop.export_pause`), None when these credentials may not read them (then
        held records are looked up one by one from now on)."""
        now = self.clock()
        try:
            if self.store is None:
                return read()
            if exports_paused(self.store, now):
                return {}
            return reading_exports(self.store, now, read)
        except ConfigError as exc:  # an agent may not read the export: one lookup each then
            log.warning("held tickets and comments are looked up one by one: %s", exc)
            self._export_refused = True
            return None

    def _settle(self, queued_from: int) -> SettleWindow:
        """How long a bulk write sent without an answer may still take effect. Sends of at
        least ``queued_from`` actions (a bulk job) are noted in the store before they leave."""
        note = self.store.outbox.note_sent if self.store is not None else None
        return SettleWindow(
            self.clock,
            self.settings.settle_window,
            note,
            queued_from,
            system="Zendesk",
            max_failures=self.settings.max_attempts,
        )

    def _resolved_names(self) -> ZendeskNames:
        if self.names is None:
            self.names = resolve_names(
                self.helpdesk,
                field_titles=self.settings.field_titles,
                domains=self.settings.domains,
                retry=self.retry,
            )
        return self.names


_SOLVED = frozenset({"solved", "closed"})


#: The named ticket fields that describe the answer itself, not its account.
ANSWER_FIELDS = frozenset({"score", "category", "response_link"})


def ticket_fields(
    payload: Mapping[str, Any], field_ids: Mapping[str, int], *, later: bool = False
) -> dict[int, object]:
    """The custom ticket fields an intent sets, by field id: its ``custom_fields`` and its
    named ``fields`` (score, category, ...) whose field exists and that have a value.

    ``later``: for an answer put on a ticket that showed an earlier one, whose fields about
    the answer are emptied where this one has no value (no link to another answer's page)."""
    custom: dict[int, object] = {int(k): v for k, v in (payload.get("custom_fields") or {}).items()}
    for name, value in (payload.get("fields") or {}).items():
        field_id = field_ids.get(name)
        if field_id is not None and (value is not None or (later and name in ANSWER_FIELDS)):
            custom[field_id] = value
    return custom


def _joined_outcome(key: str, leader: Outcome | None) -> Outcome:
    """The outcome of an answer that joins the ticket its batch's leader opens: the leader's
    ticket when it was made, else waiting or failing as the leader does."""
    if leader is not None and leader.result == "done" and leader.external_id:
        return Outcome(key, "done", external_id=leader.external_id, attached=True)
    error = "the ticket this response joins was not created yet"
    if leader is not None and leader.result == "defer":
        # Waiting on the system, like its leader: no failure counted.
        return Outcome(key, "defer", error=error, not_before=leader.not_before)
    return Outcome(key, "retry", error=error)


def _plan(action: ClaimedAction) -> _Plan:
    payload = action.payload
    email = str(payload.get("email") or payload.get("requester_email") or "").lower()
    return _Plan(
        action=action,
        requester_id=payload.get("requester_id"),
        organization_id=payload.get("organization_id"),
        email=email,
        attach=bool(payload.get("attach_to_open")),
    )


def _beyond_lookups(
    actions: Sequence[ClaimedAction], outcomes: Mapping[str, Outcome], now: datetime
) -> dict[str, Outcome]:
    """The actions claimed before past the :data:`LOOKUPS_PER_BATCH` earliest answers, given back
    due at once (still in doubt if they were), for the drain's next batch."""
    claimed_before = sorted(
        (_plan(a) for a in actions if a.key not in outcomes and a.attempts > 1), key=_answer_order
    )
    why = "checked in a later batch: each costs a Zendesk request"
    return {
        p.key: Outcome(
            p.key, "defer", error=why, not_before=now, in_doubt_since=p.action.in_doubt_since
        )
        for p in claimed_before[LOOKUPS_PER_BATCH:]
    }


def _named_problem(plan: _Plan, ticket_id: int | None, state: TicketState | None) -> str:
    """Why the ticket a response names cannot take its note, naming the response."""
    action = plan.action
    named = str(plan.payload.get("named_ticket"))[:40]
    prop = plan.payload.get("named_ticket_property") or "the named ticket property"
    where = f"response {action.source}:{action.response_id} names Zendesk ticket {named!r}"
    if ticket_id is None:
        return f"{where} in {prop!r}, which is not a ticket id"
    if state is None:
        return f"{where}, which does not exist"
    if state.status == "closed":
        return f"{where}, which is closed"
    return f"{where}, which another customer requested"


def _respondents(plan: _Plan, state: TicketState) -> bool:
    """Whether the ticket is the respondent's: requested by their user or their email, or of
    their organization."""
    if plan.requester_id is not None and state.requester_id == plan.requester_id:
        return True
    if plan.organization_id is not None and state.organization_id == plan.organization_id:
        return True
    return bool(plan.email) and state.requester_email == plan.email


def _answer_order(plan: _Plan) -> tuple[datetime, str]:
    """When the customer answered (payloads routed before it was recorded sort first)."""
    response = plan.payload.get("response") or {}
    try:
        answered = datetime.fromisoformat(str(response.get("submitted_at")))
    except ValueError:
        answered = datetime.min.replace(tzinfo=UTC)
    if answered.tzinfo is None:
        answered = answered.replace(tzinfo=UTC)
    return answered, plan.key


def _tasks_of(ticket_key: str, rows: Sequence[ActionRow]) -> list[ActionRow]:
    """The Tasks routing asked for with this ticket: queued no later than it (an escalation's
    Task comes later, and is not the one the ticket names)."""
    mine = next((r for r in rows if r.key == ticket_key), None)
    queued = mine.created_at if mine is not None else None
    return [
        r
        for r in rows
        if r.kind == TASK_KIND
        and (queued is None or r.created_at is None or r.created_at <= queued)
    ]


def _scope_keys(candidate: TicketCandidate, state: TicketState, by_org: bool) -> list[str]:
    keys = [f"email:{candidate.email}"]
    organization = state.organization_id or candidate.organization_id
    if by_org and organization:
        keys.append(f"org:{organization}")
    return keys
