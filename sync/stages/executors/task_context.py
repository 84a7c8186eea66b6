"""The customer context at the end of a follow-up Task's description.

An account manager acts on the Task without opening anything else: it names the respondent (and
says when no Salesforce contact was matched, which is why the Task may sit with the fallback
owner), when they answered, the account's ARR, tier and renewal date, their answers oldest first
with the one at hand marked, their unsolved Zendesk tickets, the survey response and the Zendesk
ticket made for the same response. It is a Jinja2 template (``salesforce.tasks.context_template``)
rendered in the rules' sandbox; survey text only ever travels as data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.zendesk.records import OpenTicket
from rules import RenderError
from rules.templates import Template, TemplateSourceError, compile_template
from sync.stages.executors.customer_context import (
    account_data,
    response_data,
    sample_context,
    ticket_rows,
)

log = logging.getLogger(__name__)

#: The line that links a Task to the Zendesk ticket of the same response. The link step
#: (:mod:`sync.stages.executors.task_links`) appends it when the ticket came after the Task.
TICKET_LINE = "Zendesk ticket: {url}"

DEFAULT_TASK_CONTEXT_TEMPLATE = """\
-- Customer context (nps-sync) --
Respondent: {{ respondent.name or respondent.email or "unknown" }}\
{% if respondent.name and respondent.email %} <{{ respondent.email }}>{% endif %}\
{% if not respondent.contact_matched %} (not matched to a Salesforce contact){% endif %}

{% if response.answered %}
Answered: {{ response.answered }}{% if response.score is not none %} \
(score {{ response.score }}){% endif %}

{% endif %}
{% if account.name %}
Account: {{ account.name }}
{% endif %}
ARR: {{ account.arr_text or "unknown" }} | Tier: {{ account.tier or "unknown" }} \
| Renewal: {{ account.renewal_date or "unknown" }}
Score history (oldest first):
{% for h in history %}
- {{ h.date }}: {{ h.score }}{% if h.this %} (this answer){% elif h.later %} (later answer)\
{% endif %}

{% endfor %}
{% if requester.open_ticket_list is not none %}
Open Zendesk tickets: {{ requester.open_ticket_list | length }}
{% for t in requester.open_ticket_list %}
- #{{ t.id }} {{ t.subject }}
{% endfor %}
{% endif %}
{% if response.link %}
Survey response: {{ response.link }}
{% endif %}
{% if ticket.url %}
Zendesk ticket: {{ ticket.url }}
{% endif %}
"""


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What the Task executor gathered about one Task's respondent."""

    #: The respondent's unsolved Zendesk tickets (None: not known).
    open_tickets: Sequence[OpenTicket] | None
    #: The person's answers around this one, oldest first (:func:`customer_context.timeline`).
    history: Sequence[Mapping[str, object]]
    #: The Zendesk ticket made for the same response, when there is one already.
    ticket_url: str | None = None


def compile_task_context(source: str | None) -> Template | None:
    """The context template (None: the default; "": no context block)."""
    if source == "":
        return None
    try:
        return compile_template(source if source is not None else DEFAULT_TASK_CONTEXT_TEMPLATE)
    except TemplateSourceError as exc:
        raise ValueError(f"salesforce.tasks.context_template: {exc.message}") from None


def task_context_problem(source: str | None) -> str | None:
    """Why ``salesforce.tasks.context_template`` would fail on every Task, or None."""
    template = compile_task_context(source)
    if template is None:
        return None
    link = "https://acme.zendesk.com/agent/tickets/12"
    return sample_context(
        lambda payload, tickets, history: template.render(
            task_context_data(payload, TaskFacts(tickets, history, link))
        )
    )


def task_context_data(payload: Mapping[str, Any], facts: TaskFacts) -> dict[str, object]:
    """The template's variables: ``respondent``, ``response``, ``account``, ``history``,
    ``requester`` (open tickets) and ``ticket``."""
    return {
        "respondent": {
            "name": payload.get("person_name") or None,
            "email": payload.get("email") or None,
            # Payloads queued before the context existed say nothing: assume matched.
            "contact_matched": bool(payload.get("contact_matched", payload.get("who_id"))),
        },
        "response": response_data(payload),
        "account": account_data(payload),
        "history": list(facts.history),
        "requester": {"open_ticket_list": ticket_rows(facts.open_tickets)},
        "ticket": {"url": facts.ticket_url},
    }


def render_task_context(
    template: Template | None, payload: Mapping[str, Any], facts: TaskFacts
) -> str:
    """The rendered block, or "" when there is no template or it does not fit the data."""
    if template is None:
        return ""
    try:
        return template.render(task_context_data(payload, facts)).strip()
    except RenderError as exc:
        log.warning("Task context left out: %s", exc)
        return ""
