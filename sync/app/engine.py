"""The engine: one pass of pull → match → route → act → write back.

Each stage lives in its own module; this one only orders them and keeps the run record. A pass is
safe to interrupt anywhere: the inbox, the outbox and the cursors are in the state store, and the
next pass picks up exactly where this one stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from more_itertools import chunked

from connectors.errors import ConfigError, ConnectorError, DeferError, RetryableError
from connectors.notify import SlackSender
from connectors.transport import make_session
from rules import Ruleset
from sync.app.budget import budget_report
from sync.app.jobs import interrupt_dead_runs
from sync.app.reload import RulesHolder
from sync.app.runtime import Connections
from sync.app.workers import dead_local_owner, worker_id
from sync.core.config import Config
from sync.core.ports import OpenTickets
from sync.core.retry import RetryPolicy
from sync.core.throttle import OUTAGE_LINES
from sync.fields.fieldmap import field_map
from sync.fields.values import account_settings
from sync.loop import silence
from sync.loop.calendar import BusinessHours
from sync.loop.escalation import (
    AnyResolution,
    TaskStatusCheck,
    TrackedTicketStatus,
    escalate_due,
    lapsed_sla_steps,
    plan_escalations,
)
from sync.loop.follow import follow_loops
from sync.loop.ticket_mirror import OpenTicketDirectory, refresh_open_tickets
from sync.loop.tracking import track_tickets
from sync.loop.user_mirror import UserDirectory, refresh_user_mirror
from sync.stages.act import Executor, drain
from sync.stages.amend import with_change_notes
from sync.stages.comment_text import CommentAnalysis, analyse_batch, load_comment_analysis
from sync.stages.custom_fields import salesforce_fields
from sync.stages.executors.amendments import TaskAmendExecutor, TicketAmendExecutor
from sync.stages.executors.customer_context import context_seconds
from sync.stages.executors.erase import CLEAR_KIND, RecordEraseExecutor
from sync.stages.executors.fields import FieldUpdateExecutor
from sync.stages.executors.loop_mirror import TaskCompletionExecutor, TicketNoteExecutor
from sync.stages.executors.notify import NotifyExecutor, email_sender
from sync.stages.executors.resurvey import ResurveyExecutor
from sync.stages.executors.salesforce import SalesforceTaskExecutor, TaskSettings
from sync.stages.executors.task_links import TaskLinkExecutor
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.match import LookupCache, MatchOptions, match_responses
from sync.stages.match_record import Match
from sync.stages.match_users import UserFinder, UserNeeds, find_needed_users
from sync.stages.match_zendesk import (
    OrganizationResolver,
    ZendeskNames,
    match_organizations,
    names_wanted,
    resolve_config_names,
)
from sync.stages.owners import (
    find_active_owners,
    find_task_queues,
    owner_references,
    queue_errors,
    queue_references,
)
from sync.stages.pull import LISTED_PROBLEMS, pull
from sync.stages.record_facts import AccountAnswers, looked_up_fields
from sync.stages.route import EscalationRendering, RoutingContext, route_responses
from sync.stages.writeback import reconcile, write_back
from sync.stages.writeback.plan import uses_loop_figures
from sync.state import StateStore, StoredResponse
from sync.state.backfills import as_iso
from sync.state.outbox import DETRACTOR_FIRST

log = logging.getLogger(__name__)

#: Ticket actions claimed and run together. Zendesk writes tickets in bulk jobs of 100 that
#: complete a few polls later; the jobs of one batch are in flight together and polled in one
#: ``job_statuses/show_many`` per round, so ten jobs of a backlog cost the polls of one, and a
#: requester's answers in one batch make one note on their ticket. Larger batches save calls
#: and cost memory (a first sync of 100,000: 230 MB at 1,000, 254 at 2,500, 329 at 5,000).
TICKET_BATCH = 2500


#: One stage of a run: it adds to the run's report; the datetime is when the run started.
Stage = Callable[["RunReport", datetime], None]

#: Pending responses matched together: their lookups are planned once for the whole window and
#: reused by every routing batch of it (bounded, so a huge backlog does not fill the memory).
MATCH_WINDOW = 10_000

#: How long the run history is kept (``nps-sync status``); reconciliation prunes older runs.
RUN_HISTORY = timedelta(days=30)


def _key(stored: StoredResponse) -> tuple[str, str]:
    return (stored.response.source, stored.response.response_id)


def utcnow() -> datetime:
    return datetime.now(UTC)


#: A real-time pass creates up to this many new tickets one request each: a few hundred
#: milliseconds, where a bulk job is seen done only after polls half a second and more apart.
REALTIME_DIRECT_TICKETS = 5


def _due_stamp(when: datetime) -> str:
    """``when`` in UTC to the second, rounded up: work is due again at the time shown."""
    whole = when.astimezone(UTC).replace(microsecond=0)
    if whole < when:
        whole += timedelta(seconds=1)
    return whole.isoformat()


@dataclass
class RunReport:
    """What one pass did, for the CLI table, the run history and the benchmark."""

    pulled: int = 0
    new: int = 0
    updated: int = 0
    #: Records skipped: the first :data:`~sync.stages.pull.LISTED_PROBLEMS`, and how many
    #: more were not listed (``problem_count`` counts them all).
    problems: list[str] = field(default_factory=list)
    problems_unlisted: int = 0
    routed: int = 0
    matched: int = 0
    unmatched: int = 0
    #: Responses routed but submitted too long ago to act on (stored as history only).
    too_old: int = 0
    #: Responses an interrupted backfill imported and did not match (left out of the NPS
    #: fields until a backfill finishes); counted by ``nps-sync sync`` after the pass.
    unfinished_backfill: int = 0
    #: The answer dates (ISO 8601 start and end) of a backfill that did not finish reading its
    #: sources: routing takes them as history until it does; set as ``unfinished_backfill``.
    backfilling: list[str] | None = None
    intents: int = 0
    tasks_created: int = 0
    tickets_created: int = 0
    #: Responses added as a comment to an open NPS ticket instead of a new ticket.
    tickets_attached: int = 0
    found_existing: int = 0
    retried: int = 0
    deferred: int = 0
    dead: int = 0
    records_updated: int = 0
    fields_set: int = 0
    notifications_sent: int = 0
    #: Actions routing could not take, newly recorded this pass, per reason code
    #: (:mod:`rules.skips`); ``nps-sync skipped`` lists them all.
    skipped: dict[str, int] = field(default_factory=dict)
    #: Of those, the ones the rules did not expect (``expect_skip``): they make the pass partial.
    skipped_unexpected: int = 0
    escalations_fired: int = 0
    tickets_solved: int = 0
    tickets_reopened: int = 0
    #: Loops whose state changed (open, contacted, resolved, closed): ``nps-sync loop report``.
    loops_changed: int = 0
    #: Per survey source: ``polls`` of it this pass ended ``ok``, ``error`` or ``deferred``
    #: (source -> outcome), and the responses ``pulled_by_source`` and ``routed_by_source``.
    polls: dict[str, str] = field(default_factory=dict)
    pulled_by_source: dict[str, int] = field(default_factory=dict)
    routed_by_source: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    api_usage: tuple[int, int] | None = None
    #: The Salesforce API budget: usage, reserve, and what a stop at the reserve left over.
    budget: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    #: A system was unreachable or kept failing for now: the stage that needed it stopped, its
    #: unfinished work waits in the store, and the stages after it went on.
    unavailable: bool = False
    #: Systems that asked us to wait (a rate limit, a spent API allowance): system -> the UTC
    #: time they gave (ISO 8601). The work that needed them waits in the store for that time;
    #: the rest of the pass went on. Not an error.
    deferred_until: dict[str, str] = field(default_factory=dict)
    #: Creates that got no answer, held until they can no longer land so they are not made
    #: twice: system -> the UTC time the last of them is due again. Not an error, and not a
    #: deferral a system asked for (the exit code is not changed by it).
    held_until: dict[str, str] = field(default_factory=dict)
    #: What waits for the next pass when something was deferred or unavailable: responses to
    #: route, actions due later, contacts and accounts to write back.
    waiting: dict[str, int] = field(default_factory=dict)
    #: Systems that refused the credentials, permissions or configured names: system -> error.
    #: The stages that did not need them went on.
    refused: dict[str, str] = field(default_factory=dict)
    #: The rules in force for the run: file, hash, and the diagnostics of a newer version of the
    #: file that was rejected (the old rules stayed in force), for ``nps-sync status``.
    rules: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def idle(self) -> bool:
        """True for a pass that changed nothing and met nothing wrong: not worth an INFO line."""
        quiet = not (
            self.problems or self.errors or self.refused or self.unavailable or self.deferred_until
        )
        return quiet and not any(
            (
                self.pulled, self.routed, self.intents, self.tasks_created, self.tickets_created,
                self.tickets_attached, self.found_existing, self.retried, self.deferred,
                self.dead, self.records_updated, self.fields_set, self.notifications_sent,
                self.escalations_fired, self.tickets_solved, self.tickets_reopened, self.skipped,
                self.loops_changed,
            )
        )  # fmt: skip

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.problems_unlisted

    def add_problems(self, problems: Sequence[str], count: int | None = None) -> None:
        """List problems up to the limit; ``count`` of them in all (default: as many as given)."""
        room = max(LISTED_PROBLEMS - len(self.problems), 0)
        self.problems.extend(problems[:room])
        self.problems_unlisted += (len(problems) if count is None else count) - min(
            room, len(problems)
        )

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def refuse(self, error: ConfigError) -> None:
        """Record a system's refusal (the first one per system in a run)."""
        self.refused.setdefault(error.system or "configuration", error.message)

    def defer(self, error: DeferError) -> None:
        """Record a system's "not now" that ended a stage early."""
        log.warning("deferred: %s", error, extra={"system": error.system or "unknown"})
        self.defer_until(error.system or "unknown", error.not_before or datetime.now(UTC))

    def defer_until(self, system: str, when: datetime) -> None:
        """Work for ``system`` waits until ``when``; the latest time asked for wins."""
        stamp = _due_stamp(when)
        self.deferred_until[system] = max(self.deferred_until.get(system, stamp), stamp)

    def hold_until(self, system: str, when: datetime) -> None:
        """Creates held for ``system`` are due again at ``when``; the latest wins."""
        stamp = _due_stamp(when)
        self.held_until[system] = max(self.held_until.get(system, stamp), stamp)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["problems"] = self.problems[:50]
        data["errors"] = self.errors[:50]
        data.pop("problems_unlisted")
        data["problem_count"] = self.problem_count
        data["error_count"] = len(self.errors)
        return data


class RefusedError(ConfigError):
    """A system refused the credentials, permissions or configured names during a run.

    The run went on with the work that did not need that system and was recorded; ``report``
    is what it did.
    """

    def __init__(self, message: str, *, system: str, report: RunReport) -> None:
        super().__init__(message, system=system)
        self.report = report


def refusable(report: RunReport, stage: Callable[[], None], name: str) -> None:
    """Run the stage ``name``; a refusal, a deferral or a system that stays unreachable is
    recorded and the stages after it go on.

    Each leaves the stage's unfinished work in the store, where the next pass finds it:
    responses stay pending, actions stay due, contacts and accounts stay queued for write-back.
    So a Zendesk outage while routing still lets the pass make the Salesforce Tasks already
    routed and write Salesforce's fields, and one of Salesforce still lets Zendesk's go out.
    """
    try:
        stage()
    except ConfigError as exc:
        report.refuse(exc)
    except DeferError as exc:
        report.defer(exc)
    except RetryableError as exc:  # out of tries: the next pass starts this stage again
        key = f"stopped:{name}:{exc.system}"
        message = "%s stopped, the rest of the pass goes on: %s"
        OUTAGE_LINES.log(log, logging.ERROR, key, message, name, exc)
        report.errors.append(str(exc))
        report.unavailable = True


class Engine:
    """Runs passes over one config, store and set of connections."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        connections: Connections,
        ruleset: Ruleset | RulesHolder,
        *,
        clock: Callable[[], datetime] = utcnow,
        retry: RetryPolicy | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.conn = connections
        self.rules = ruleset if isinstance(ruleset, RulesHolder) else RulesHolder.fixed(ruleset)
        self.ruleset = self.rules.current
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.owner = owner or worker_id()
        self.stop_requested = threading.Event()
        #: Held while routing or acting, so engines of one process that share it (see
        #: :meth:`sibling`) never route the inbox or claim actions at the same time.
        self.routing_lock = threading.Lock()
        #: New tickets a batch creates one request each rather than in a bulk job (see
        #: :class:`TicketSettings`); the real-time engine raises it.
        self.direct_tickets = 1
        self._context: RoutingContext | None = None
        self._owner_references: frozenset[str] = frozenset()
        #: (pass report, rules hash) the ``queue:`` owners were last looked up for.
        self._queues_for: tuple[RunReport, str] | None = None
        self._zendesk_names: ZendeskNames | None = None
        self._zendesk_names_for = ""
        #: The names in use were the store's copy (Zendesk did not answer): asked again next pass.
        self._zendesk_names_kept = False
        self._ticket_executor: ZendeskTicketExecutor | None = None
        self._task_outcome_field: str | None = None
        #: Why the user export was refused (credentials without admin rights): lookups search.
        self._user_export_refused = ""
        #: Whether the last refresh of the user mirror got no answer from Zendesk (down, or
        #: asking us to wait): a mirror too old to be complete still answers for the users it
        #: holds. Shared with :meth:`sibling`, whose real-time passes never refresh it.
        self._user_mirror_stuck = threading.Event()
        self._comment_analysis: CommentAnalysis | None = None
        self._comment_analysis_loaded = False
        #: Whether this engine has checked a store that never acted against Salesforce.
        self._checked_new_store = False

    def sibling(self) -> Engine:
        """An engine on the same config, store and rules with connections of its own and its
        own lease owner, taking turns with this one to route and act (:attr:`routing_lock`)
        but free to work while this one writes back, tracks tickets or reconciles."""
        from sync.app.runtime import connect_all

        twin = Engine(
            self.config,
            self.store,
            connect_all(self.config, login_later=True),
            self.rules,
            clock=self.clock,
            retry=self.retry,
        )
        twin.routing_lock = self.routing_lock
        twin._user_mirror_stuck = self._user_mirror_stuck
        twin.direct_tickets = REALTIME_DIRECT_TICKETS
        # One model in memory: the twins take turns routing, so they never use it at once.
        twin._comment_analysis = self._comment_analysis
        twin._comment_analysis_loaded = self._comment_analysis_loaded
        return twin

    def zendesk_names(self) -> ZendeskNames:
        """Groups, agents, fields and domain organizations the config and rules name, as ids.

        Resolved once per engine and again when the rules change; unknown names stop the run
        with a configuration error instead of failing ticket by ticket. The ids are kept in the
        store: while Zendesk cannot be reached (or asks us to wait), the pass routes with the
        ids last resolved for the same names, so the Salesforce Tasks of new responses are not
        held back by Zendesk's outage; without such ids, Zendesk's error is raised.
        """
        if self._zendesk_names is None or self._zendesk_names_for != self.ruleset.hash:
            wanted = names_wanted(self.config.zendesk, self.ruleset)
            from_store = False
            try:
                names = resolve_config_names(
                    self.conn.helpdesk, self.config.zendesk, self.ruleset, self.retry
                )
            except (RetryableError, DeferError) as exc:
                kept = self.store.zendesk_names.get(wanted)
                names_kept = ZendeskNames.from_json(kept.names) if kept is not None else None
                if kept is None or names_kept is None:
                    raise
                OUTAGE_LINES.log(
                    log,
                    logging.WARNING,
                    "zendesk-names",
                    "Zendesk's groups, agents and fields could not be read (%s): this pass uses "
                    "their ids as read at %s",
                    exc,
                    kept.resolved_at.isoformat(timespec="seconds"),
                )
                names, from_store = names_kept, True
            else:
                names.raise_if_missing()
                self.store.zendesk_names.save(wanted, names.to_json(), self.clock())
            self._zendesk_names_kept = from_store
            self._zendesk_names, self._zendesk_names_for = names, self.ruleset.hash
            self._ticket_executor = None
        return self._zendesk_names

    def ticket_executor(self) -> ZendeskTicketExecutor:
        if self._ticket_executor is None or self._zendesk_names is None:
            names = self.zendesk_names()
            self._ticket_executor = ZendeskTicketExecutor(
                self.conn.helpdesk,
                self.retry,
                store=self.store,
                settings=replace(
                    TicketSettings.from_config(
                        self.config.zendesk,
                        self.config.salesforce.instance_url,
                        self.config.lease_seconds,
                        self.config.max_attempts,
                    ),
                    direct_up_to=self.direct_tickets,
                ),
                names=names,
                clock=self.clock,
                crm=self.conn.crm,
                batch_size=TICKET_BATCH,
            )
        return self._ticket_executor

    def task_executor(self, open_tickets: OpenTickets | None = None) -> SalesforceTaskExecutor:
        """Tasks; their context's open tickets from ``open_tickets`` (else asked of Zendesk)."""
        tasks = self.config.salesforce.tasks
        return SalesforceTaskExecutor(
            self.conn.crm,
            self.retry,
            clock=self.clock,
            store=self.store,
            helpdesk=open_tickets or self.conn.helpdesk,
            settings=TaskSettings(
                context_template=tasks.context_template,
                history_limit=tasks.history_limit,
                settle_window=timedelta(seconds=tasks.settle_seconds),
                max_attempts=self.config.max_attempts,
                ticket_base_url=self.config.zendesk.agent_url,
                context_seconds=context_seconds(self.config.lease_seconds),
                hours=self.business_hours(),
            ),
        )

    def routing_context(self) -> RoutingContext:
        """Names in the rules resolved to ids, once per engine (validated at start-up)."""
        names = self.zendesk_names()
        if self._context is None or self._context.group_ids != names.groups:
            score_title = self.config.zendesk.fields.ticket_score
            score_id = names.ticket_fields.get("score")
            self._context = RoutingContext(
                group_ids=names.groups,
                ticket_field_ids={score_title: score_id} if score_id is not None else {},
                score_field=score_title,
                fallback_owner_id=self.config.salesforce.fallback_owner_id,
                user_ids=self._context.user_ids if self._context else {},
                queue_ids=self._context.queue_ids if self._context else {},
                act_window=self.config.routing.act_on_responses_newer_than,
            )
        references = owner_references(self.ruleset)
        if references != self._owner_references:  # the rules in force name other task owners
            users = find_active_owners(self.conn.crm, references, self.retry)
            self._context = replace(self._context, user_ids=users)
            self._owner_references = references
        return self._context

    def resolve_task_queues(self, report: RunReport) -> RoutingContext:
        """The routing context with the rules' ``queue:`` owners looked up once for the pass
        that ``report`` records; each one that is missing or does not take Tasks is an error of
        the pass, at its place in the rules file (its Tasks go down the owner ladder, the rest
        of the pass goes on). The range of an unfinished backfill is read each time."""
        window = self.config.routing.act_on_responses_newer_than
        marks = self.store.routing_marks(self.clock(), window)
        if not marks.acted and self._check_new_store():
            marks = self.store.routing_marks(self.clock(), window)
        report.backfilling = as_iso(marks.backfilling)
        return replace(
            self._with_queues(report),
            backfilling=marks.backfilling,
            verify_before=marks.verify_before,
        )

    def _check_new_store(self) -> bool:
        """For a state database that has never queued an action: whether the org's Tasks show
        that nps-sync has acted there before (its volume lost, a new database, a second
        install). If so, what it is about to queue may exist already, so the actions of answers
        given before now are looked up before they are created, as after ``nps-sync state
        restored``, and True is returned (the mark was set). One query, once per engine; a check
        that fails counts as a yes (a lookup costs less than a duplicate)."""
        if self._checked_new_store:
            return False
        self._checked_new_store = True
        try:
            acted_before = self.retry.call(self.conn.crm.has_keyed_tasks)
            why = "Salesforce holds Tasks nps-sync made"
        except ConnectorError as error:
            acted_before, why = True, f"Salesforce did not say whether it holds any ({error})"
        if acted_before:
            now = self.clock()
            self.store.restored.mark(now, now)
            log.warning(
                "this state database has queued no action yet, and %s: actions of answers given "
                "before %s are looked up by their key before they are created, so none is made "
                "twice",
                why,
                now.isoformat(timespec="seconds"),
            )
        return acted_before

    def _with_queues(self, report: RunReport) -> RoutingContext:
        context = self.routing_context()
        references = queue_references(self.ruleset)
        last = self._queues_for
        if last is not None and last[0] is report and last[1] == self.ruleset.hash:
            return context
        self._queues_for = (report, self.ruleset.hash)
        if not references and not context.queue_ids:
            return context
        queues = find_task_queues(self.conn.crm, references, self.retry)
        fallback = self.config.salesforce.fallback_owner_id
        errors = queue_errors(self.ruleset, queues, self.rules.path, fallback)
        for line in errors:
            log.error("%s", line)
        report.errors.extend(errors)
        self._context = replace(context, queue_ids=queues.ids)
        return self._context

    # -- stages --------------------------------------------------------------------------------
    def pull(self, report: RunReport, run_start: datetime) -> None:
        stats = pull(
            self.store,
            self.conn.sources,
            run_start=run_start,
            now=self.clock(),
            retry=self.retry,
            should_stop=self.stop_requested.is_set,
        )
        report.pulled += stats.pulled
        report.polls.update(stats.polls)
        for name, count in stats.pulled_by_source.items():
            report.pulled_by_source[name] = report.pulled_by_source.get(name, 0) + count
        report.new += stats.new
        report.updated += stats.updated
        report.add_problems(stats.problems, stats.problem_count)
        report.errors.extend(stats.errors)
        report.unavailable = report.unavailable or stats.unavailable
        for error in stats.deferred:
            report.defer(error)

    def route(self, report: RunReport, *, windows: int | None = None) -> None:
        """Match and route every pending response (at most ``windows`` windows of them).

        The lookups of a window of up to ``MATCH_WINDOW`` pending responses are made together
        (one query per 200 distinct values), then the window is routed in batches of
        ``batch_size``; what a pass has looked up once it does not ask again. The previous scores
        are read once per window too: routing changes no response's email, date or score, and a
        person's answers would otherwise be read again by every batch they appear in. A
        real-time pass routes one window, so responses that keep arriving do not hold its
        actions back.

        A response whose lookups got no answer (their part of the lookup ran out of retries
        while the others were answered) is not routed: it stays pending for the next pass, and
        the pass goes on with the rest and counts it as an error.
        """
        ruleset = self.refresh_rules()
        self.read_custom_fields(ruleset)
        context = self.resolve_task_queues(report)
        cache = LookupCache()
        answers = AccountAnswers(self.store)
        unanswered: dict[tuple[str, str], str] = {}
        # A real-time pass (one window) reads no export: webhooks may come many a minute.
        directory = self.user_directory(refresh=windows is None)
        if windows is None:
            self.refresh_open_tickets()
        stuck = self.stuck_user_directory() if directory is None else None
        finder = self.user_finder(directory) if stuck is None else self.user_finder(stuck, False)
        left = windows
        while not self.stop_requested.is_set() and (left is None or left > 0):
            now = self.clock()
            limit = max(MATCH_WINDOW, self.config.batch_size) + len(unanswered)
            window = [b for b in self.store.inbox.pending(limit, now) if _key(b) not in unanswered]
            if not window:
                break
            left = None if left is None else left - 1
            matched = self.match(
                window, cache, directory or stuck, wait_unanswered=True, stuck=stuck is not None
            )
            waiting = {k: m.detail for k, m in matched.items() if m.status == "unanswered"}
            if waiting:
                unanswered.update(waiting)
                window = [b for b in window if _key(b) not in waiting]
            previous = self.store.inbox.previous_scores(
                [(b.response.email, b.response.created_at) for b in window]
            )
            for batch in chunked(window, self.config.batch_size):
                if self.stop_requested.is_set():
                    break
                now = self.clock()
                matches = {key: matched[key] for key in map(_key, batch)}
                unanswered |= self.route_matched(
                    batch,
                    matches,
                    ruleset,
                    context,
                    report,
                    now,
                    finder,
                    previous=previous,
                    answers=answers,
                )
        if unanswered:
            detail = next(iter(unanswered.values()))
            message = "%d responses wait for the next pass: %s"
            OUTAGE_LINES.log(
                log, logging.WARNING, "route:unanswered", message, len(unanswered), detail
            )
            report.errors.append(
                f"{len(unanswered)} responses not routed, matched again next pass: {detail}"
            )

    def match(
        self,
        batch: Sequence[StoredResponse],
        cache: LookupCache | None = None,
        directory: UserDirectory | None = None,
        *,
        wait_unanswered: bool = False,
        stuck: bool = False,
    ) -> dict[tuple[str, str], Match]:
        """The match stage for a batch: the Salesforce ladder, then Zendesk organizations.

        ``cache`` holds what earlier batches of the same pass looked up already; with a
        ``directory`` (the mirror of Zendesk's users), Zendesk users are found in it. With
        ``wait_unanswered``, a response whose lookups got no answer is matched ``unanswered``
        (else the lookup's error is raised). ``stuck``: the directory is a mirror Zendesk
        cannot bring up to date; an organization lookup it does not answer leaves the
        response ``unanswered`` too.
        """
        matches = match_responses(
            [b.response for b in batch],
            self.conn.crm,
            directory or self.conn.helpdesk,
            self.retry,
            MatchOptions.from_config(self.config.salesforce),
            cache,
            wait_unanswered=wait_unanswered,
        )
        resolver = self.organization_resolver(wait_when_down=stuck)
        return match_organizations(matches, resolver)

    def organization_resolver(self, *, wait_when_down: bool = False) -> OrganizationResolver:
        """``wait_when_down``: see :class:`OrganizationResolver` (a pass routing on a mirror of
        Zendesk's users that Zendesk cannot bring up to date)."""
        return OrganizationResolver(
            self.conn.helpdesk,
            self.config.zendesk.matching.organization_from,
            self.zendesk_names().domain_organizations,
            self.retry,
            wait_when_down=wait_when_down,
        )

    def user_finder(
        self, directory: UserDirectory | None = None, complete: bool = True
    ) -> UserFinder:
        """Email lookups of Zendesk users for one pass: in ``directory`` (else the mirror, if
        it is ready), else searches with remembered misses; ``complete``: see
        :class:`UserFinder`."""
        days = self.config.zendesk.matching.remember_unknown_users_days
        return UserFinder(
            self.conn.helpdesk,
            self.retry,
            self.store.user_misses,
            timedelta(days=days),
            directory or self.user_directory(refresh=False),
            complete=complete,
        )

    def refresh_open_tickets(self) -> None:
        """Read the mirror of unsolved tickets on from the export (``zendesk.tickets.
        context_from: export``). A failed refresh is no failure of the pass: the context uses
        the mirror as it is, if recent enough, or asks Zendesk per requester."""
        tickets = self.config.zendesk.tickets
        if tickets.context_from != "export":
            return
        try:
            self.retry.call(
                lambda: refresh_open_tickets(
                    self.store,
                    self.conn.helpdesk,
                    self.clock(),
                    max_pages=tickets.context_export_pages_per_pass,
                )
            )
        except ConnectorError as exc:
            message = "the mirror of open Zendesk tickets was not read on: %s"
            OUTAGE_LINES.log(log, logging.WARNING, "mirror:tickets", message, exc)

    def open_ticket_directory(self) -> OpenTicketDirectory | None:
        """The mirror of unsolved tickets, when it is to be used and recent enough."""
        tickets = self.config.zendesk.tickets
        if tickets.context_from != "export":
            return None
        directory = OpenTicketDirectory(self.store)
        max_age = timedelta(minutes=tickets.context_max_age_minutes)
        return directory if directory.ready(self.clock(), max_age) else None

    def user_directory(self, *, refresh: bool) -> UserDirectory | None:
        """The mirror of Zendesk's users, read on from the export first when ``refresh``; None
        when lookups search instead (``zendesk.matching.user_lookup: search``, an export
        refused, or a mirror that has not reached the export's end recently enough).

        A failed refresh is no failure of the pass: the mirror as it is, if recent enough, or
        searches answer, and the next pass reads on from where this one stopped."""
        matching = self.config.zendesk.matching
        if matching.user_lookup != "export" or self._user_export_refused:
            return None
        if refresh:
            self._user_mirror_stuck.clear()
            try:
                self.retry.call(
                    lambda: refresh_user_mirror(
                        self.store,
                        self.conn.helpdesk,
                        self.clock(),
                        max_pages=matching.user_export_pages_per_pass,
                    )
                )
            except (RetryableError, DeferError) as exc:
                self._user_mirror_stuck.set()
                message = "the mirror of Zendesk users was not read on: %s"
                OUTAGE_LINES.log(log, logging.WARNING, "mirror:users", message, exc)
            except ConfigError as exc:
                self._user_export_refused = str(exc)
                log.warning("users are searched by email: the user export was refused: %s", exc)
                return None
            except ConnectorError as exc:
                message = "the mirror of Zendesk users was not read on: %s"
                OUTAGE_LINES.log(log, logging.WARNING, "mirror:users", message, exc)
        directory = UserDirectory(self.store)
        max_age = timedelta(minutes=matching.user_mirror_max_age_minutes)
        return directory if directory.ready(self.clock(), max_age) else None

    def stuck_user_directory(self) -> UserDirectory | None:
        """The mirror of Zendesk's users while Zendesk cannot bring it up to date (its last
        refresh got no answer) and it is too old to be complete: it still answers for the users
        it holds, and the others are searched, or wait while Zendesk is down. None when the
        mirror is not in use or never reached the export's end."""
        matching = self.config.zendesk.matching
        if not self._user_mirror_stuck.is_set() or matching.user_lookup != "export":
            return None
        if self._user_export_refused or self.store.zendesk_users.caught_up_at() is None:
            return None
        return UserDirectory(self.store)

    def with_needed_users(
        self,
        batch: Sequence[StoredResponse],
        matches: Mapping[tuple[str, str], Match],
        ruleset: Ruleset,
        context: RoutingContext,
        finder: UserFinder,
        now: datetime,
        previous: Mapping[tuple[str, datetime], int] | None = None,
    ) -> dict[tuple[str, str], Match]:
        """The matches with the Zendesk users that routing or write-back needs, looked up by
        email (:mod:`sync.stages.match_users`), and their organizations. ``previous``: the
        batch's previous scores, when the caller has them already."""
        needs = UserNeeds(ruleset, context.act_window, bool(field_map(self.config).user))
        if previous is None:
            previous = self.store.inbox.previous_scores(
                [(b.response.email, b.response.created_at) for b in batch]
            )
        found = find_needed_users(batch, matches, needs, finder, previous, now)
        if not found:
            return dict(matches)
        resolver = self.organization_resolver(wait_when_down=not finder.complete)
        return {**matches, **match_organizations(found, resolver)}

    def route_matched(
        self,
        batch: Sequence[StoredResponse],
        matches: Mapping[tuple[str, str], Match],
        ruleset: Ruleset,
        context: RoutingContext,
        report: RunReport,
        now: datetime,
        finder: UserFinder | None = None,
        *,
        previous: Mapping[tuple[str, datetime], int] | None = None,
        answers: AccountAnswers | None = None,
    ) -> dict[tuple[str, str], str]:
        """Route a matched batch: decisions, intents, escalations and write-back work, stored
        together; the report counts them. Zendesk users the batch needs are looked up first
        (with ``finder``, the pass's, when given). ``previous``: the previous scores of (at
        least) the batch's responses, when the caller has them already; ``answers``: the
        pass's account answers, for ``account.nps``. Returns the responses left pending
        because the lookup of their Zendesk user got no answer, with why."""
        finder = finder or self.user_finder()
        if previous is None:
            # Looked up once: user lookups and routing both need each response's previous score.
            previous = self.store.inbox.previous_scores(
                [(b.response.email, b.response.created_at) for b in batch]
            )
        matches = self.with_needed_users(batch, matches, ruleset, context, finder, now, previous)
        waiting = {k: m.detail for k, m in matches.items() if m.status == "unanswered"}
        if waiting:  # routed by a later pass, once Zendesk answers for their users
            batch = [b for b in batch if _key(b) not in waiting]
            if not batch:
                return waiting
        analysis = self.comment_analysis()
        text = analyse_batch(self.store, analysis, batch, now) if analysis else None
        looked_up = looked_up_fields(
            self.store,
            batch,
            matches,
            ruleset,
            now,
            settings=account_settings(self.config.metrics),
            tickets_mirrored=lambda: self.open_ticket_directory() is not None,
            answers=answers,
        )
        outcomes = route_responses(
            batch,
            matches,
            ruleset,
            context,
            self.store,
            now=now,
            previous=previous,
            text=text,
            looked_up=looked_up,
        )
        outcomes = with_change_notes(self.store, batch, outcomes)
        plan_escalations(self.store, ruleset, outcomes, now)
        routed = self.store.record_routing(outcomes, now)
        report.intents += routed.intents
        report.routed += len(outcomes)
        report.too_old += sum(out.too_old for out in outcomes)
        for skip in routed.skips:
            report.skipped[skip.reason] = report.skipped.get(skip.reason, 0) + 1
            if not skip.expected:
                report.skipped_unexpected += 1
        for out in outcomes:
            report.routed_by_source[out.source] = report.routed_by_source.get(out.source, 0) + 1
            if out.match_status == "matched":
                report.matched += 1
            else:
                report.unmatched += 1
            if out.match_status == "failed":  # on the review list; named in the report
                detail = (out.match or {}).get("detail", "lookup failed")
                report.add_problems([f"{out.source} response {out.response_id}: {detail}"])
        return waiting

    def read_custom_fields(self, ruleset: Ruleset) -> None:
        """Have the Salesforce lookups read the Account and Contact fields the rules route on
        (:mod:`sync.stages.custom_fields`); one that does not exist is a configuration error."""
        account = salesforce_fields(ruleset, "account")
        contact = salesforce_fields(ruleset, "contact")
        crm = self.conn.crm
        self.retry.call(lambda: crm.read_custom_fields(account=account, contact=contact))

    def refresh_rules(self) -> Ruleset:
        """Take up a changed rules file (hot reload); a stage keeps the ruleset returned."""
        self.rules.refresh()
        ruleset = self.rules.current
        self.ruleset = ruleset
        return ruleset

    def escalate(self, report: RunReport) -> None:
        """Fire the escalation steps that are due, so the act stage runs them at once."""
        ruleset = self.refresh_rules()
        now = self.clock()
        stats = escalate_due(
            self.store,
            now,
            render=EscalationRendering(
                self.store, ruleset, lambda: self.resolve_task_queues(report), now
            ),
            resolution=AnyResolution(
                (TrackedTicketStatus(self.store), TaskStatusCheck(self.conn.crm, self.retry))
            ),
            hours=self.business_hours(),
            lapsed=lapsed_sla_steps(self.store, self.config.loop.sla),
        )
        report.escalations_fired += stats.fired
        report.errors.extend(stats.errors)

    def business_hours(self) -> BusinessHours:
        hours = self.config.business_hours
        return BusinessHours(ZoneInfo(hours.timezone), hours.start_hour, hours.end_hour)

    def notify_executor(self) -> NotifyExecutor:
        session = make_session(
            self.config.loopback_routes, counter=self.conn.counter, label="notify"
        )
        email = email_sender(self.config.email) if self.config.email is not None else None
        return NotifyExecutor(SlackSender(session), email, self.retry)

    def act(self, report: RunReport) -> None:
        refusable(report, lambda: self.escalate(report), "escalations")
        open_tickets = self.open_ticket_directory()
        executors: list[Executor] = [self.task_executor(open_tickets)]

        def add_ticket_executor() -> None:
            executor = self.ticket_executor()
            executor.begin_pass()
            executor.open_tickets = open_tickets
            executors.append(executor)

        refusable(report, add_ticket_executor, "Zendesk tickets")
        # After the tickets: the links they queued for their Tasks are due at once.
        executors.append(
            TaskLinkExecutor(
                self.conn.crm,
                self.store,
                self.retry,
                self.config.zendesk.agent_url,
                clock=self.clock,
            )
        )
        executors.append(FieldUpdateExecutor(self.conn.crm, self.conn.helpdesk, self.retry))
        # What nps-sync forget queues: fields cleared and history records deleted.
        executors.append(
            FieldUpdateExecutor(self.conn.crm, self.conn.helpdesk, self.retry, kind=CLEAR_KIND)
        )
        executors.append(RecordEraseExecutor(self.conn.crm, self.retry))
        executors.append(TaskCompletionExecutor(self.conn.crm, self.retry))
        notes = TicketNoteExecutor(
            self.conn.helpdesk,
            self.retry,
            store=self.store,
            clock=self.clock,
            settle_window=timedelta(seconds=self.config.zendesk.tickets.settle_seconds),
            max_attempts=self.config.max_attempts,
        )
        executors.append(notes)
        # After the Tasks and tickets: a note waits for the Task or ticket it goes on.
        executors.append(TaskAmendExecutor(self.conn.crm, self.store, self.retry, self.clock))
        executors.append(
            TicketAmendExecutor(
                self.store, notes, self.clock, lambda: self.zendesk_names().ticket_fields
            )
        )
        executors.append(self.notify_executor())
        executors.append(
            ResurveyExecutor(self.conn.surveys, self.store, self.retry, clock=self.clock)
        )
        # "Lack of response" Tasks of silent key accounts: no response, so no customer context.
        executors.append(
            SalesforceTaskExecutor(
                self.conn.crm,
                self.retry,
                kind=silence.KIND,
                clock=self.clock,
                store=self.store,
                settings=TaskSettings(
                    context_template="",
                    settle_window=timedelta(seconds=self.config.salesforce.tasks.settle_seconds),
                    max_attempts=self.config.max_attempts,
                    hours=self.business_hours(),
                ),
            )
        )
        stats = drain(
            self.store,
            executors,
            owner=self.owner,
            lease=timedelta(seconds=self.config.lease_seconds),
            max_failures=self.config.max_attempts,
            backoff_base=timedelta(seconds=self.config.retry_backoff_seconds),
            now=self.clock,
            should_stop=self.stop_requested.is_set,
        )
        report.tasks_created += stats.created.get("salesforce_task", 0)
        report.tasks_created += stats.created.get(silence.KIND, 0)
        report.tickets_created += stats.created.get("zendesk_ticket", 0)
        report.fields_set += stats.created.get("update_fields", 0)
        report.notifications_sent += stats.created.get("notify", 0)
        report.found_existing += stats.found_existing
        report.tickets_attached += stats.attached
        report.retried += stats.retried
        report.deferred += stats.deferred
        report.dead += stats.dead
        report.errors.extend(stats.errors)
        for error in stats.refused:
            report.refuse(error)
        for system, when in stats.deferred_until.items():
            report.defer_until(system, when)
        for system, when in stats.held_until.items():
            report.hold_until(system, when)
        for system, down in stats.unreachable.items():
            message = "%s is down: its actions wait for the next pass, untried: %s"
            OUTAGE_LINES.log(log, logging.ERROR, f"down:{system}", message, system, down)
            report.errors.append(down)
            report.unavailable = True

    def write_back(self, report: RunReport) -> None:
        """Write the fields of every contact and account queued for it.

        The queue is in the store (filled when routing), so a pass that crashed before this stage
        leaves the work for the next one instead of losing it. A failed write-back stays queued
        for the next pass, up to ``max_attempts`` times; one a system deferred (a rate limit)
        or could not take at all (down as a whole) stays queued without counting an attempt,
        and its values already written are not sent again.
        """
        queued = self.store.write_backs.queued()
        if not queued or self.stop_requested.is_set():
            return
        stats = write_back(
            self.store,
            self.config,
            self.conn.crm,
            self.conn.helpdesk,
            self.retry,
            contact_ids=sorted(queued.contacts),
            account_ids=sorted(queued.accounts),
            now=self.clock(),
        )
        report.records_updated += stats.total()
        report.errors.extend(stats.errors)
        for error in stats.deferred:
            report.defer(error)
        for down in stats.unreachable:
            report.errors.append(str(down))
            report.unavailable = True
        if stats.unreachable or (stats.deferred and not stats.errors):
            # all stays queued: what landed is remembered and will not be sent again; and a
            # record waiting for a system that is down uses up no attempt, whatever else failed
            return
        if not stats.errors:
            self.store.write_backs.clear(queued)
        elif dropped := self.store.write_backs.fail(queued, max_attempts=self.config.max_attempts):
            log.error("gave up writing back %d records until the next reconciliation", dropped)

    def waiting(self) -> dict[str, int]:
        """What the next pass has left to do: the figures a deferred pass reports."""
        now = self.clock()
        queued = self.store.write_backs.queued()
        pending = self.store.outbox.pending_counts()
        return {
            "responses": self.store.inbox.pending_count(now),
            "actions": sum(pending.values()),
            "detractor_actions": sum(
                n for (_, priority), n in pending.items() if priority == DETRACTOR_FIRST
            ),
            "write_backs": len(queued.contacts) + len(queued.accounts),
        }

    def release_dead_leases(self) -> None:
        """Free at once the leases of local workers that crashed, instead of waiting them out,
        and mark the runs they left behind as interrupted, so ``status`` does not show a killed
        pass as still running."""
        for owner in self.store.outbox.lease_owners():
            if dead_local_owner(owner):
                count = self.store.outbox.release_leases(owner, self.clock())
                log.warning("released %d leases of crashed worker %s", count, owner)
        for owner in interrupt_dead_runs(self.store):
            log.warning("runs of crashed worker %s marked interrupted", owner)

    # -- jobs: a whole pass, or its halves for the daemon -------------------------------------
    def run_once(self) -> RunReport:
        """One full pass. Connector errors are reported; configuration errors are raised."""
        return self._run("pass", self._poll_stages, self._drain_stages)

    def poll(self) -> RunReport:
        """Pull new responses, match and route them: the inbox side of a pass."""
        return self._run("poll", self._poll_stages)

    def drain(self) -> RunReport:
        """Run due actions and queued write-backs: the outbox side of a pass."""
        return self._run("drain", self._drain_stages)

    def respond(self) -> RunReport:
        """Route what is pending and run the due actions: the real-time pass a stored webhook
        asks for. No pull (the webhook brought the response), no write-back and no ticket
        tracking (the drain does those on its schedule), so a new answer's Task and ticket do
        not wait for other systems' bulk work; a backlog is still matched and routed in windows
        and acted on in batches, as a poll and a drain would."""
        return self._run("realtime", self._respond_stages)

    def reconcile(self) -> RunReport:
        """Recompute every contact and account we manage and repair what differs (nightly).

        Rolling metrics move with time even without new responses, and people edit fields by
        hand: :func:`sync.stages.writeback.reconcile` reads the Salesforce and Zendesk values back
        and rewrites those that drifted. Run history older than ``RUN_HISTORY`` and expired
        Zendesk user misses are dropped on the way.
        """

        def repair(report: RunReport, started: datetime) -> None:
            with self.store.locks.singleton("reconcile") as mine:
                if not mine:
                    return
                stats = reconcile(
                    self.store,
                    self.config,
                    self.conn.crm,
                    self.conn.helpdesk,
                    self.retry,
                    self.clock(),
                )
                report.records_updated += stats.total()
                report.errors.extend(stats.errors)
                quiet = silence.plan_silence(
                    self.store, self.conn.crm, self.retry, self.config.loop.silence, self.clock()
                )
                if quiet.queued:
                    log.info(
                        "%d of %d key accounts silent: %d lack-of-response Tasks queued",
                        quiet.silent,
                        quiet.key_accounts,
                        quiet.queued,
                    )
                self.store.runs.prune(started - RUN_HISTORY)
                days = self.config.zendesk.matching.remember_unknown_users_days
                self.store.user_misses.prune(started - timedelta(days=days))

        return self._run("reconcile", repair)

    def frontline_lists(self) -> RunReport:
        """Queue today's call list for each account owner with someone to call
        (``views.frontline``); the drain sends them, once per owner and day."""

        # The reports' modules are imported by the runs that make them, not by every pass.
        from sync.reports.answers import gather
        from sync.reports.sends import frontline_intents

        def plan(report: RunReport, started: datetime) -> None:
            since = started - timedelta(days=self.config.views.frontline.days)
            answers = gather(self.store, self.config, since)
            intents = frontline_intents(answers, self.config.views, started)
            report.intents += self.store.outbox.enqueue(intents, started) if intents else 0

        return self._run("frontline", plan)

    def weekly_digest(self) -> RunReport:
        """Queue the week's digest for the team leads (``views.digest``); the drain sends it,
        once per ISO week."""

        from sync.reports.answers import analysed, gather
        from sync.reports.digest import LOOKBACK, digest, stored_themes
        from sync.reports.sends import digest_intents

        def plan(report: RunReport, started: datetime) -> None:
            answers = gather(self.store, self.config, started - LOOKBACK)
            themes = stored_themes if analysed(answers) else None
            intents = digest_intents(digest(answers, started, themes), self.config.views)
            report.intents += self.store.outbox.enqueue(intents, started) if intents else 0

        return self._run("digest", plan)

    def run_stages(self, kind: str, stage: Stage, *, drain: bool = False) -> RunReport:
        """One recorded run of an operator's ``stage`` (``kind`` names it in the run history),
        followed by the drain stages when ``drain``: act, write back, track tickets."""
        return self._run(kind, stage, self._drain_stages) if drain else self._run(kind, stage)

    def _poll_stages(self, report: RunReport, started: datetime) -> None:
        with self.store.locks.singleton("pull") as mine:
            if mine:
                refusable(report, lambda: self.pull(report, started), "pull")
        self._route_stage(report)

    def _route_stage(self, report: RunReport, *, windows: int | None = None) -> None:
        with self.routing_lock, self.store.locks.singleton("route") as mine:
            if mine:
                refusable(report, lambda: self.route(report, windows=windows), "routing")

    def _act_stage(self, report: RunReport) -> None:
        with self.routing_lock:
            refusable(report, lambda: self.act(report), "actions")

    def _respond_stages(self, report: RunReport, started: datetime) -> None:
        self._route_stage(report, windows=1)
        self._act_stage(report)

    def _drain_stages(self, report: RunReport, started: datetime) -> None:
        self._act_stage(report)
        refusable(report, lambda: self._write_back_stage(report, started), "write-back")
        if self.config.zendesk.tracking.enabled:
            with self.store.locks.singleton("ticket-tracking") as mine:
                if mine:
                    refusable(report, lambda: self.track(report), "ticket tracking")
        if self.config.loop.enabled:
            with self.store.locks.singleton("loops") as mine:
                if mine:
                    refusable(report, lambda: self.follow(report, started), "loop tracking")
            if uses_loop_figures(field_map(self.config)):
                # the accounts whose loops just changed show it in this pass, not the next
                refusable(report, lambda: self._write_back_stage(report, started), "write-back")

    def track(self, report: RunReport) -> None:
        """Learn from Zendesk's incremental export which of our tickets were solved or reopened
        (and, for the loops, when an agent first replied and the ticket's loop outcome)."""
        loops = self.config.loop.enabled
        outcome_field = self.zendesk_names().ticket_fields.get("loop_outcome") if loops else None
        stats = self.retry.call(
            lambda: track_tickets(
                self.store,
                self.conn.helpdesk,
                self.clock(),
                max_pages=self.config.zendesk.tracking.max_pages_per_pass,
                loop_facts=loops,
                outcome_field_id=outcome_field,
            )
        )
        report.tickets_solved += stats.solved
        report.tickets_reopened += stats.reopened

    def follow(self, report: RunReport, started: datetime) -> None:
        """Read where our open Tasks stand and bring every loop's state up to date (Tasks this
        run made are read from the next run on)."""
        stats = follow_loops(
            self.store,
            self.conn.crm,
            self.retry,
            self.clock(),
            follow_for=self.config.loop.follow_for,
            made_before=started,
            outcome_field=self.task_outcome_field,
            slas=self.config.loop.sla,
            hours=self.business_hours(),
            mirror=self.config.loop.mirror,
            queue_accounts=uses_loop_figures(field_map(self.config)),
        )
        report.loops_changed += stats.changed

    def comment_analysis(self) -> CommentAnalysis | None:
        """The comment analytics of the ``text:`` section, loaded on first use (the model takes
        a second); None when they are off."""
        if not self._comment_analysis_loaded:
            self._comment_analysis = load_comment_analysis(self.config.text)
            self._comment_analysis_loaded = True
        return self._comment_analysis

    def task_outcome_field(self) -> str:
        """The Task loop outcome field when the org has it ("" otherwise); described once."""
        name = self.config.salesforce.fields.task_loop_outcome
        if not name:
            return ""
        if self._task_outcome_field is None:
            described = self.retry.call(lambda: self.conn.crm.describe("Task")).field(name)
            self._task_outcome_field = described.name if described is not None else ""
            if not self._task_outcome_field:
                log.warning("Task field %s does not exist: loop outcomes are read from "
                            "tickets only", name)  # fmt: skip
        return self._task_outcome_field

    def _write_back_stage(self, report: RunReport, started: datetime) -> None:
        with self.store.locks.singleton("write-back") as mine:
            if mine:
                self.write_back(report)

    def _report_login(self, report: RunReport, failed_before: ConnectorError | None) -> None:
        """While no Salesforce login has succeeded (it failed for now at start-up), a pass ends
        unavailable: its stages' calls tried to log in, and one whose stages made none tries
        once itself, so that an outage shows even when no work waited for Salesforce.
        ``failed_before``: the login failure known when the pass started."""
        crm = self.conn.crm
        if crm.logged_in or report.refused:
            return
        error = crm.login_failure
        if error is None or error is failed_before:  # no call of this pass tried to log in
            try:
                self.retry.call(crm.log_in)
                return
            except ConfigError as exc:
                report.refuse(exc)
                return
            except ConnectorError as exc:
                error = exc
        if str(error) not in report.errors:
            log.error("Salesforce could not be reached: %s", error)
            report.errors.append(str(error))
        report.unavailable = True

    def _run(self, kind: str, *stages: Stage) -> RunReport:
        """Run stages as one recorded run; leases this worker holds are given back at the end."""
        self.store.check_file()  # before writing anything into it
        if self._zendesk_names_kept:  # the store's copy served the last pass: ask Zendesk again
            self._zendesk_names, self._zendesk_names_kept = None, False
        started = self.clock()
        before = self.conn.counter.snapshot()
        login_failure = self.conn.crm.login_failure
        run_id = self.store.runs.start(started, kind=kind, owner=self.owner)
        report = RunReport()
        status = "failed"
        try:
            self.release_dead_leases()
            for stage in stages:
                stage(report, started)
            partial = report.errors or report.skipped_unexpected
            deferred = "deferred" if report.deferred_until else "ok"
            status = "refused" if report.refused else "partial" if partial else deferred
        except ConfigError as exc:
            report.refuse(exc)
            status = "refused"
        except ConnectorError as exc:
            log.error("%s stopped: %s", kind, exc)
            report.errors.append(str(exc))
            report.unavailable = isinstance(exc, RetryableError | DeferError)
        finally:
            self._report_login(report, login_failure)
            after = self.conn.counter.snapshot()
            report.api_calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            report.api_usage = self.conn.crm.api_usage()
            budget = budget_report(self.conn.crm, self.store, self.clock())
            report.budget = budget.to_json()
            if budget.stopped:  # a deferral, not an error: the next run goes on from here
                log.warning("%s", budget.summary())
            if report.deferred_until or report.unavailable:
                report.waiting = self.waiting()
            report.seconds = round((self.clock() - started).total_seconds(), 3)
            report.rules = {
                "file": str(self.rules.path) if self.rules.path else None,
                "hash": self.ruleset.hash,
                "rejected": self.rules.last_error,
            }
            self.store.runs.finish(run_id, status, report.to_json(), self.clock())
            self.store.outbox.release_leases(self.owner, self.clock())
        if report.refused:  # recorded with the run (``nps-sync status``); the caller decides
            system, message = next(iter(report.refused.items()))
            raise RefusedError(message, system=system, report=report)
        return report
