"""Telling a response's Task and ticket that the customer changed their answer.

The comment often arrives after the score, and a respondent may change either. The Task and
ticket made for the first version would go on showing what the customer no longer says: the
account manager would call without the one line that matters. So when an edited response is
routed again, each Task and ticket already made (or queued) for it gets a note of what changed,
appended to the Task's description and added to the ticket as an internal note; a new score
also goes in the ticket's score and category fields, unless a later answer was put on that ticket
since. Nothing is closed or reassigned: whoever follows up decides what the change means.

Each note is an outbox intent keyed by the original action and the new version, so an edit is
told once however often it is routed; its executor waits for the original to exist
(:mod:`sync.stages.executors.amendments`). A version that changes neither the score nor the
comment (a property, the respondent's name) makes no note.
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
        payload: dict[str, object] = {"note": note}
        if r.score != before[0]:
            # A ticket's fields show the answer's score and category (the Task has none).
            payload["fields"] = {"score": r.score, "category": r.category}
        notes[(source, rid)] = [
            ActionIntent(
                key=amend_key(row.key, stored.version),
                source=source,
                response_id=rid,
                rule=row.rule,
                action=f"note_change:{row.action}",
                kind=AMENDS[row.kind],
                payload={"original_key": row.key, **payload},
                ruleset_hash="",
                priority=DETRACTOR_FIRST if detractor else ORDINARY,
            )
            for row in rows
            if row.status != "dead"
        ]
    return notes


def _cut(comment: str) -> str:
    """A comment as a note carries it: :data:`NOTE_COMMENT_CHARS` at most."""
    if len(comment) <= NOTE_COMMENT_CHARS:
        return comment
    return comment[: NOTE_COMMENT_CHARS - 1].rstrip() + "\u2026"


def with_change_notes(
    store: StateStore, batch: Sequence[StoredResponse], outcomes: Sequence[RoutingOutcome]
) -> list[RoutingOutcome]:
    """The batch's outcomes with the notes of :func:`amendment_intents` among their intents,
    recorded with them, and their decisions saying so."""
    notes = amendment_intents(store, batch)
    if not notes:
        return list(outcomes)
    told: list[RoutingOutcome] = []
    for out in outcomes:
        intents = notes.get((out.source, out.response_id))
        if intents:
            said = f"the change is noted on {len(intents)} earlier Task(s) and ticket(s)"
            decision = {**out.decision, "notes": [*out.decision.get("notes", ()), said]}
            out = replace(out, intents=[*out.intents, *intents], decision=decision)
        told.append(out)
    return told
