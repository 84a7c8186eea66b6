"""The customer context under an NPS ticket's body: who this is, what they said before and
after, what is already open, what the account is worth, and the Salesforce Task of the same
response.

Agents pick up a detractor ticket without opening Salesforce: the block shows when the customer
answered, the account (tier, ARR, renewal date, owner), the requester's unsolved tickets (id and
subject), their answers oldest first with the one at hand marked and the others labelled earlier
or later by when they were answered, and the Task the account owner got, with its owner. It is a
Jinja2 template (``zendesk.tickets.context_template``) rendered in the rules' sandbox; survey
text only ever travels as data. Everything it shows was fetched for the whole batch at once by
the executor (one ``show_many`` per 100 requesters, one ``tickets/requested`` per requester who
has unsolved tickets, one state-store query).
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

DEFAULT_CONTEXT_TEMPLATE = """\
-- Customer context (nps-sync) --
{% if response.answered %}
Answered: {{ response.answered }}
{% endif %}
{% if account.name %}
Account: {{ account.name }}{% if account.tier %} ({{ account.tier }}){% endif %}

ARR: {{ account.arr_text or "unknown" }} | Renewal: {{ account.renewal_date or "unknown" }} \
| Owner: {{ account.owner or "unknown" }}
{% endif %}
Open tickets of the requester: {{ requester.open_tickets if requester.open_tickets is not none \
else "unknown" }}
{% for t in requester.open_ticket_list or [] %}
- #{{ t.id }} {{ t.subject }}
{% endfor %}
Score history (oldest first):
{% for h in history %}
- {{ h.date }}: {{ h.score }}{% if h.this %} (this answer){% elif h.later %} (later answer)\
{% endif %}

{% endfor %}
{% for h in history if h.comment and not h.this %}
{% if loop.first %}Comments on their other answers:
{% endif %}
- {{ h.date }} ({{ h.score }}, {{ "later" if h.later else "earlier" }}): {{ h.comment }}
{% endfor %}
{% if response.link %}Response: {{ response.link }}
{% endif %}
{% if task.url %}Salesforce Task: {{ task.url }}{% if task.owner %} (owner: {{ task.owner }})\
{% endif %}

{% endif %}
"""


@dataclass(frozen=True, slots=True)
class TaskRef:
    """The Salesforce Task made for the same response: its record link and its owner's name."""

    url: str
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ContextFacts:
    """What the executor gathered about one ticket's requester."""

    #: The requester's unsolved tickets (None: not known).
    open_tickets: Sequence[OpenTicket] | None
    #: The person's answers around this one, oldest first (:func:`customer_context.timeline`).
    history: Sequence[Mapping[str, object]]
    task: TaskRef | None = None


def compile_context(source: str | None) -> Template | None:
    """The context template (None: the default; "": no context block)."""
    if source == "":
        return None
    try:
        return compile_template(source if source is not None else DEFAULT_CONTEXT_TEMPLATE)
    except TemplateSourceError as exc:
        raise ValueError(f"zendesk.tickets.context_template: {exc.message}") from None


def context_problem(source: str | None) -> str | None:
    """Why ``zendesk.tickets.context_template`` would fail on every ticket, or None."""
    template = compile_context(source)
    if template is None:
        return None
    task = TaskRef("https://acme.my.salesforce.com/00T000000000001AAA", "Owen Owner")
    return sample_context(
        lambda payload, tickets, history: template.render(
            context_data(payload, ContextFacts(tickets, history, task))
        )
    )


def context_data(payload: Mapping[str, Any], facts: ContextFacts) -> dict[str, object]:
    """The template's variables: ``account``, ``requester``, ``response``, ``history``,
    ``task``."""
    listed = ticket_rows(facts.open_tickets)
    return {
        "account": account_data(payload),
        "requester": {
            "email": payload.get("email") or payload.get("requester_email") or None,
            "open_tickets": len(listed) if listed is not None else None,
            "open_ticket_list": listed,
        },
        "response": response_data(payload),
        "history": list(facts.history),
        "task": {
            "url": facts.task.url if facts.task else None,
            "owner": facts.task.owner if facts.task else None,
        },
    }


def render_context(
    template: Template | None, payload: Mapping[str, Any], facts: ContextFacts
) -> str:
    """The rendered block, or "" when there is no template or it does not fit the data."""
    if template is None:
        return ""
    try:
        return template.render(context_data(payload, facts)).strip()
    except RenderError as exc:
        log.warning("ticket context left out: %s", exc)
        return ""
