"""Executor of ``salesforce_task`` intents: Tasks created 200 per sObject Collections call.

Each Task carries its idempotency key in the marker field, so an intent whose earlier attempt
may have created it is looked up by that key first. A create that got no answer (a timeout, a
connection lost, a 5xx) is not sent again before Salesforce can no longer be carrying it out:
its Tasks are held for ``settle_window`` after it was sent (:mod:`sync.stages.settle`), then
looked up, and created only if still missing. A Task is due ``due_in`` after it is
*created*: an action that waited in the outbox (a quota, a rate limit, a system down for a day)
still gives its owner the whole time to act.

Each new Task's description ends with the customer context (:mod:`.task_context`), gathered for
the batch at once, for the Tasks still to create only: one state-store query for the answers,
one for the tickets already made for the same responses, and the respondents' unsolved Zendesk
tickets (one ``show_many`` per 100, one call per respondent who has some).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.models import MAX_TASK_DESCRIPTION, TaskSpec, WriteResult
from sync.core.ports import OpenTickets, TaskCrm
from sync.core.retry import RetryPolicy
from sync.loop.calendar import BusinessHours
from sync.stages.act import Outcome, create_missing
from sync.stages.executors.customer_context import fetch_open_tickets, ticket_url, timeline
from sync.stages.executors.task_context import (
    TaskFacts,
    compile_task_context,
    render_task_context,
)
from sync.stages.settle import DEFAULT_WINDOW, SettleWindow
from sync.state import ClaimedAction, StateStore

TICKET_KIND = "zendesk_ticket"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TaskSettings:
    """The ``salesforce.tasks`` settings the executor uses (defaults as in the config)."""

    context_template: str | None = None
    history_limit: int = 5
    #: How long after a create that got no answer its Tasks may still appear
    #: (``salesforce.tasks.settle_seconds``): none is created again before.
    settle_window: timedelta = DEFAULT_WINDOW
    #: Failures that end an action in the dead letters (``max_attempts``): a create that got no
    #: answer and had not taken effect once the window passed is one.
    max_attempts: int = 8
    #: ``https://SUBDOMAIN.zendesk.com``: links to the tickets of the same responses ("": none).
    ticket_base_url: str = ""
    #: About how long a batch may spend asking Zendesk for the open tickets (a share of the
    #: lease, see :func:`~sync.stages.executors.customer_context.fetch_open_tickets`).
    context_seconds: float = 10.0
    #: The working week and time zone of due dates (``business_hours``).
    hours: BusinessHours = field(default_factory=BusinessHours)


@dataclass
class SalesforceTaskExecutor:
    crm: TaskCrm
    retry: RetryPolicy
    kind: str = "salesforce_task"
    batch_size: int = 200
    #: When the Tasks are created: their due dates count from it.
    clock: Callable[[], datetime] = field(default=_utcnow)
    #: The answers and the tickets of the same responses; without it, neither is shown.
    store: StateStore | None = None
    #: The respondents' unsolved tickets; without it, they are not shown.
    helpdesk: OpenTickets | None = None
    settings: TaskSettings = field(default_factory=TaskSettings)

    def __post_init__(self) -> None:
        self._template = compile_task_context(self.settings.context_template)

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        def create(todo: list[ClaimedAction]) -> list[WriteResult]:
            created_at = self.clock()
            context = self._context(todo)
            return self.crm.create_tasks(
                [
                    task_spec(
                        a.key, a.payload, created_at, context.get(a.key, ""), self.settings.hours
                    )
                    for a in todo
                ]
            )

        note = self.store.outbox.note_sent if self.store is not None else None
        return create_missing(
            actions,
            lookup=self.crm.find_tasks_by_key,
            create=create,
            retry=self.retry,
            settle=SettleWindow(
                self.clock,
                self.settings.settle_window,
                note,
                system="Salesforce",
                max_failures=self.settings.max_attempts,
            ),
        )

    def _context(self, todo: Sequence[ClaimedAction]) -> dict[str, str]:
        """The customer context of each Task to create, by action key."""
        if self._template is None or not todo:
            return {}
        answers = (
            self.store.tickets.answers_around(
                [(a.source, a.response_id, str(a.payload.get("email") or "")) for a in todo],
                self.settings.history_limit,
            )
            if self.store is not None
            else {}
        )
        tickets = self._ticket_links(todo)
        user_ids = [int(a.payload["zendesk_user_id"]) for a in todo if _user_id(a)]
        open_tickets = fetch_open_tickets(self.helpdesk, user_ids, self.settings.context_seconds)
        context: dict[str, str] = {}
        for action in todo:
            email = str(action.payload.get("email") or "").lower()
            user_id = _user_id(action)
            facts = TaskFacts(
                open_tickets=open_tickets.get(user_id) if user_id else None,
                history=timeline(
                    answers.get(email, []),
                    action.source,
                    action.response_id,
                    action.payload,
                    self.settings.history_limit,
                ),
                ticket_url=tickets.get((action.source, action.response_id)),
            )
            context[action.key] = render_task_context(self._template, action.payload, facts)
        return context

    def _ticket_links(self, todo: Sequence[ClaimedAction]) -> dict[tuple[str, str], str]:
        """The ticket already made for each response (a ticket made later is linked by
        :mod:`.task_links`)."""
        if self.store is None or not self.settings.ticket_base_url:
            return {}
        rows = self.store.outbox.of_responses(
            [(a.source, a.response_id) for a in todo], [TICKET_KIND]
        )
        return {
            pair: ticket_url(self.settings.ticket_base_url, done[0].external_id)
            for pair, found in rows.items()
            if (done := [r for r in found if r.status == "done" and r.external_id])
            and done[0].external_id
        }


def _user_id(action: ClaimedAction) -> int | None:
    value = action.payload.get("zendesk_user_id")
    return int(value) if value else None


def due_date(
    payload: Mapping[str, Any], created_at: datetime, hours: BusinessHours | None = None
) -> date:
    """``due_in`` after ``created_at``: that moment's date in the business-hours time zone,
    moved on to Monday from a weekend ("call within one business day" on a Friday means
    Monday). An intent stored before due dates were counted from creation carries its
    ``due_date`` already."""
    if "due_in_seconds" in payload:
        due = created_at + timedelta(seconds=int(payload["due_in_seconds"]))
        return (hours or BusinessHours()).working_date(due)
    return date.fromisoformat(payload["due_date"])


#: Room a new Task's description leaves free for what is appended to it later: the link to the
#: ticket of the same response and notes on a changed answer (:mod:`sync.stages.amend`).
APPENDED_ROOM = 5_000
#: What ends the rule's text of a description cut to fit.
CUT_MARK = "\u2026 (cut to fit; the survey response holds all of it)"


def fit_description(text: str, context: str) -> str:
    """The rule's ``text`` and the customer ``context`` within Salesforce's limit, leaving
    :data:`APPENDED_ROOM`: a text too long (a very long comment) is cut, never the context,
    which the account manager needs whole."""
    room = MAX_TASK_DESCRIPTION - APPENDED_ROOM - (len(context) + 2 if context else 0)
    body = text.rstrip()
    if len(body) > room:
        body = body[: max(room - len(CUT_MARK), 0)].rstrip() + CUT_MARK
    return f"{body}\n\n{context}".lstrip() if context else body


def task_spec(
    key: str,
    payload: Mapping[str, Any],
    created_at: datetime,
    context: str = "",
    hours: BusinessHours | None = None,
) -> TaskSpec:
    description = fit_description(str(payload["description"]), context)
    return TaskSpec(
        key=key,
        subject=payload["subject"],
        description=description,
        owner_id=payload["owner_id"],
        due_date=due_date(payload, created_at, hours),
        who_id=payload.get("who_id"),
        what_id=payload.get("what_id"),
        priority=payload.get("priority", "Normal"),
    )
