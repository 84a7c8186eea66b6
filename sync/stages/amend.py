"""Telling a customer's open Tasks and tickets what they said since.

The comment often arrives after the score, and a respondent may change either. The Task and
ticket made for the first version would go on showing what the customer no longer says: the
account manager would call without the one line that matters. So when an edited response is
routed again, each Task and ticket already made (or queued) for it gets a note of what changed,
appended to the Task's description and added to the ticket as an internal note. Nothing is
closed or reassigned: whoever follows up decides what the change means.

Each note is an outbox intent keyed by the original action and the new version, so an edit is
told once however often it is routed; its executor waits for the original to exist
(:mod:`sync.stages.executors.amendments`). A version that changes neither the score nor the
comment (a property, the respondent's name) makes no note.

A customer who answers again (a promoter now, after the detractor whose call is still open) is
told the same way: each Task and ticket still open for their earlier answers (made within
``loop.follow_for``) gets a note of the new answer, once, unless the new answer's own ticket
action will comment on their open ticket anyway. Answers acted on as history make none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.models import category_of
from sync.state import ActionIntent, RoutingOutcome, StateStore, StoredResponse
from sync.state.outbox import DETRACTOR_FIRST, ORDINARY

AMEND_TASK = "salesforce_task_amend"
AMEND_TICKET = "zendesk_ticket_amend"
#: The kind of note each kind of follow-up gets.
AMENDS = {"salesforce_task": AMEND_TASK, "zendesk_ticket": AMEND_TICKET}
#: Characters of a changed comment a note carries (the stored response keeps all of it): a
#: Task's description holds 32,000, and the customer context at its end must stay readable.
NOTE_COMMENT_CHARS = 4_000


@dataclass(frozen=True, slots=True)
class Answer:
    score: int
    comment: str


def change_note(before: Answer, after: Answer, changed_at: datetime) -> str | None:
    """What changed between two versions of an answer, as the note says it; None when neither
    the score nor the comment did (pure)."""
    lines: list[str] = []
    if after.score != before.score:
        category = category_of(after.score)
        lines.append(f"Score: {before.score} -> {after.score} (now a {category})")
    old, new = before.comment.strip(), after.comment.strip()
    if new != old:
        if not new:
            lines.append("Comment: removed by the customer")
        else:
            label = "Comment" if old else "Comment (new)"
            lines.append(f"{label}: {_cut(new)}")
    if not lines:
        return None
    when = changed_at.strftime("%Y-%m-%d %H:%M")
    return "\n".join([f"The customer changed their NPS answer on {when} UTC:", *lines])


def amend_key(original_key: str, version: str) -> str:
    """The idempotency key of the note telling ``original_key``'s record of ``version``."""
    raw = f"amend\x1f{original_key}\x1f{version}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def amendment_intents(
    store: StateStore, batch: Sequence[StoredResponse]
) -> dict[tuple[str, str], list[ActionIntent]]:
    """The notes the batch's edited responses call for, per (source, response id): one for
    each Task and ticket made or queued for an earlier version, when the score or the comment
    changed since the version routed last."""
    edited = {
        (b.response.source, b.response.response_id): b
        for b in batch
        if b.routed_version is not None and b.routed_version != b.version
    }
    if not edited:
        return {}
    originals = store.outbox.of_responses(edited, list(AMENDS))
    if not originals:
        return {}
    answers = store.inbox.version_answers(
        (source, rid, str(edited[(source, rid)].routed_version)) for source, rid in originals
    )
    notes: dict[tuple[str, str], list[ActionIntent]] = {}
    for (source, rid), rows in originals.items():
        stored = edited[(source, rid)]
        before = answers.get((source, rid, str(stored.routed_version)))
        if before is None:
            continue
        r = stored.response
        note = change_note(Answer(*before), Answer(r.score, r.comment), r.updated_at)
        if note is None:
            continue
        detractor = min(before[0], r.score) <= 6
        notes[(source, rid)] = [
            ActionIntent(
                key=amend_key(row.key, stored.version),
                source=source,
                response_id=rid,
                rule=row.rule,
                action=f"note_change:{row.action}",
                kind=AMENDS[row.kind],
                payload={"original_key": row.key, "note": note},
                ruleset_hash="",
                priority=DETRACTOR_FIRST if detractor else ORDINARY,
            )
            for row in rows
            if row.status != "dead"
        ]
    return notes


def answer_note(answer: Answer, answered_at: datetime) -> str:
    """The note of a later answer on an open Task or ticket (pure)."""
    when = answered_at.strftime("%Y-%m-%d %H:%M")
    lines = [
        f"The customer answered the NPS survey again on {when} UTC:",
        f"Score: {answer.score} ({category_of(answer.score)})",
    ]
    if comment := answer.comment.strip():
        lines.append(f"Comment: {_cut(comment)}")
    return "\n".join(lines)


def _cut(comment: str) -> str:
    """A comment as a note carries it: :data:`NOTE_COMMENT_CHARS` at most."""
    if len(comment) <= NOTE_COMMENT_CHARS:
        return comment
    return comment[: NOTE_COMMENT_CHARS - 1].rstrip() + "\u2026"


def again_key(followup_key: str, source: str, response_id: str) -> str:
    """The idempotency key of the note telling ``followup_key``'s record of a later answer."""
    raw = f"again\x1f{followup_key}\x1f{source}\x1f{response_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def answered_again_intents(
    store: StateStore,
    outcomes: Sequence[RoutingOutcome],
    answers: Sequence[StoredResponse],
    since: datetime,
) -> dict[tuple[str, str], list[ActionIntent]]:
    """The notes the batch's new answers call for on their respondents' open Tasks and
    tickets of earlier answers, per (source, response id) of the new answer."""
    outcome_of = {(o.source, o.response_id): o for o in outcomes}
    fresh = [
        b
        for b in answers
        if b.routed_version is None
        and (o := outcome_of.get((b.response.source, b.response.response_id))) is not None
        and not o.too_old
    ]
    if not fresh:
        return {}
    open_ = store.loops.open_followups_of([b.response.email for b in fresh], since)
    notes: dict[tuple[str, str], list[ActionIntent]] = {}
    for stored in fresh:
        r = stored.response
        own = outcome_of[(r.source, r.response_id)]
        tickets_itself = any(i.kind == "zendesk_ticket" for i in own.intents)
        note = answer_note(Answer(r.score, r.comment), r.created_at)
        intents = [
            ActionIntent(
                key=again_key(followup.key, r.source, r.response_id),
                source=r.source,
                response_id=r.response_id,
                rule=followup.rule,
                action=f"note_answer:{followup.action}",
                kind=AMENDS[followup.kind],
                payload={"original_key": followup.key, "note": note},
                ruleset_hash="",
                priority=DETRACTOR_FIRST if r.score <= 6 else ORDINARY,
            )
            for source, rid, answered_at, followup in open_.get(r.email, ())
            if (source, rid) != (r.source, r.response_id)
            and answered_at < r.created_at  # an earlier answer's, not a later one's
            and not (tickets_itself and followup.kind == "zendesk_ticket")
        ]
        if intents:
            notes[(r.source, r.response_id)] = intents
    return notes


def with_change_notes(
    store: StateStore,
    batch: Sequence[StoredResponse],
    outcomes: Sequence[RoutingOutcome],
    follow_since: datetime | None,
) -> list[RoutingOutcome]:
    """The batch's outcomes with the notes of :func:`amendment_intents` and
    :func:`answered_again_intents` among their intents, recorded with them, and their
    decisions saying so. ``follow_since``: the start of ``loop.follow_for`` (None when loops
    are not followed: later answers are then not noted)."""
    notes = amendment_intents(store, batch)
    if follow_since is not None:  # loops followed: what is still open is known
        for pair, again in answered_again_intents(store, outcomes, batch, follow_since).items():
            notes.setdefault(pair, []).extend(again)
    if not notes:
        return list(outcomes)
    told: list[RoutingOutcome] = []
    for out in outcomes:
        intents = notes.get((out.source, out.response_id))
        if intents:
            said = f"noted on {len(intents)} Task(s) and ticket(s) made for earlier answers"
            decision = {**out.decision, "notes": [*out.decision.get("notes", ()), said]}
            out = replace(out, intents=[*out.intents, *intents], decision=decision)
        told.append(out)
    return told
