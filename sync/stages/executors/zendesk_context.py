"""The customer context under an NPS ticket's body: who this is, what they said before, what
is already open, and what the account is worth.

Agents pick up a detractor ticket without opening Salesforce: the block shows the account (tier,
ARR, renewal date, owner), the requester's open tickets, the score history and earlier comments.
It is a Jinja2 template (``zendesk.tickets.context_template``) rendered in the rules' sandbox;
survey text only ever travels as data. Everything it shows was fetched for the whole batch at
once by the executor (one ``show_many`` per 100 requesters, one state-store query).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.models import category_of
from rules import RenderError
from rules.templates import Template, TemplateSourceError, compile_template
from sync.state import PastResponse

log = logging.getLogger(__name__)

#: Longest earlier comment shown in full.
COMMENT_CHARS = 500

DEFAULT_CONTEXT_TEMPLATE = """\
-- Customer context (nps-sync) --
{% if account.name %}
Account: {{ account.name }}{% if account.tier %} ({{ account.tier }}){% endif %}

ARR: {{ account.arr_text or "unknown" }} | Renewal: {{ account.renewal_date or "unknown" }} \
| Owner: {{ account.owner or "unknown" }}
{% endif %}
Open tickets of the requester: {{ requester.open_tickets if requester.open_tickets is not none \
else "unknown" }}
Score history: {% for h in history %}{{ h.score }} on {{ h.date }}{{ ", " if not loop.last }}\
{% else %}this is the first response{% endfor %}

{% for h in history if h.comment %}
{% if loop.first %}Earlier comments:
{% endif %}
- {{ h.date }} ({{ h.score }}): {{ h.comment }}
{% endfor %}
{% if response.link %}Response: {{ response.link }}
{% endif %}
"""


@dataclass(frozen=True, slots=True)
class ContextFacts:
    """What the executor gathered about one ticket's requester."""

    open_tickets: int | None
    history: Sequence[PastResponse]


def compile_context(source: str | None) -> Template | None:
    """The context template (None: the default; "": no context block)."""
    if source == "":
        return None
    try:
        return compile_template(source if source is not None else DEFAULT_CONTEXT_TEMPLATE)
    except TemplateSourceError as exc:
        raise ValueError(f"zendesk.tickets.context_template: {exc.message}") from None


def context_data(payload: Mapping[str, Any], facts: ContextFacts) -> dict[str, object]:
    """The template's variables: ``account``, ``requester``, ``response``, ``history``."""
    account = dict(payload.get("account") or {})
    arr = account.get("arr")
    account["arr_text"] = f"{float(arr):,.0f}" if isinstance(arr, int | float) and arr else None
    account["owner"] = account.get("owner_email") or account.get("owner_id")
    for name in ("name", "tier", "renewal_date", "owner_id", "owner_email"):
        account.setdefault(name, None)
    response = dict(payload.get("response") or {})
    for name in ("score", "category", "comment", "submitted_at", "link", "survey_type"):
        response.setdefault(name, None)
    return {
        "account": account,
        "requester": {
            "email": payload.get("email") or payload.get("requester_email") or None,
            "open_tickets": facts.open_tickets,
        },
        "response": response,
        "history": [
            {
                "date": _day(past.created_at),
                "score": past.score,
                "category": category_of(past.score),
                "comment": _shorten(past.comment),
            }
            for past in facts.history
        ],
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


def _day(value: datetime) -> str:
    return value.date().isoformat()


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= COMMENT_CHARS else text[: COMMENT_CHARS - 1] + "…"
