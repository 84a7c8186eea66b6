"""The views the daemon sends: each owner's call list and the weekly digest, as ``notify``
actions in the outbox.

A send is keyed by the view, the recipient and the period (the owner's list by UTC day, the
digest by ISO week), so running the schedule twice in one period, from one daemon or several,
queues nothing new; the outbox then sends each once through the Slack and email senders, with
their retries. An owner with nobody to call gets no list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sync.core.config import ViewsConfig
from sync.reports.answers import Answer, owners
from sync.reports.digest import Digest, digest_text
from sync.reports.queue import call_list, call_text
from sync.state import ActionIntent
from sync.state.outbox import ORDINARY

KIND = "notify"
SOURCE = "views"


def view_key(view: str, channel: str, recipient: str, period: str) -> str:
    text = "\x1f".join(("view", view, channel, recipient.lower(), period))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _intent(view: str, recipient: str, period: str, payload: Mapping[str, Any]) -> ActionIntent:
    channel = str(payload["channel"])
    return ActionIntent(
        key=view_key(view, channel, recipient, period),
        source=SOURCE,
        response_id=f"{view}:{period}:{recipient}"[:200],
        rule=f"views.{view}",
        action=channel,
        kind=KIND,
        payload=dict(payload),
        ruleset_hash="",
        priority=ORDINARY,
    )


def frontline_intents(
    answers: Sequence[Answer], views: ViewsConfig, now: datetime
) -> list[ActionIntent]:
    """Today's list for each owner with someone to call, by email and/or their Slack webhook."""
    view = views.frontline
    day = now.date().isoformat()
    slack = {owner.lower(): env for owner, env in view.slack_webhook_envs.items()}
    intents: list[ActionIntent] = []
    for owner in owners(answers):
        calls = call_list(answers, owner, now)
        if not calls:
            continue
        text = call_text(calls, owner, now)
        if view.email:
            subject = f"NPS: {len(calls)} to call today ({day})"
            mail: dict[str, Any] = {
                "channel": "email",
                "to": [owner],
                "subject": subject,
                "text": text,
            }
            intents.append(_intent("frontline", owner, day, mail))
        if owner in slack:
            post = {"channel": "slack", "webhook_env": slack[owner], "text": text}
            intents.append(_intent("frontline", owner, day, post))
    return intents


def digest_intents(d: Digest, views: ViewsConfig) -> list[ActionIntent]:
    """The week's digest to the team's Slack webhook and email addresses."""
    view = views.digest
    text = digest_text(d)
    intents: list[ActionIntent] = []
    if view.slack_webhook_env:
        payload = {"channel": "slack", "webhook_env": view.slack_webhook_env, "text": text}
        intents.append(_intent("digest", view.slack_webhook_env, _week(d), payload))
    if view.email_to:
        subject = f"NPS digest {d.label}: {len(d.new_detractors)} new detractors"
        mail: dict[str, Any] = {
            "channel": "email",
            "to": list(view.email_to),
            "subject": subject,
            "text": text,
        }
        intents.append(_intent("digest", ",".join(sorted(view.email_to)), _week(d), mail))
    return intents


def _week(d: Digest) -> str:
    """The period a digest's sends are keyed by: the week it covers. Spelled apart from the
    keys of earlier versions, which named the week it was made in, so the first digest after an
    upgrade is not taken for last week's already sent."""
    return f"covering {d.label}"
