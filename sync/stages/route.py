"""Route stage: turn each matched response into a decision and its action intents.

The router itself is pure (:mod:`rules`); this module builds its input, the flat field mapping,
from a response and its match, and turns the actions it asks for into intents with everything an
executor needs already rendered, under a deterministic idempotency key
``sha256(source, response id, rule, action)``. Because the key ignores the version, an edited
response is routed again without repeating an action already taken for it. Rule throttles apply
here too (:mod:`sync.loop.throttle`): a response still settling is deferred instead of decided, and
a rule in its cooldown for the response's key skips its actions. A response older than
``routing.act_on_responses_newer_than`` is decided but not acted on (:mod:`sync.stages.recency`).

An action that cannot be made (no Task owner on the whole ladder of :mod:`sync.stages.owners`, no
Zendesk requester, no record to update, a template that fails, a cooldown) is never dropped: it
becomes a :class:`~sync.state.SkippedAction` with a stable reason code (:mod:`rules.skips`),
stored with the decision, and is marked expected when the rules say so (``expect_skip``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.models import Contact
from connectors.salesforce.records import LEAD_PREFIX
from rules import (
    FieldUpdatePayload,
    NotificationPayload,
    RenderError,
    ResurveyPayload,
    RuleMatch,
    Ruleset,
    TaskPayload,
    TicketPayload,
    derive_fields,
)
from sync.loop.escalation import RenderedStep
from sync.loop.throttle import (
    cooldown_key,
    describe_block,
    load_ledger,
    save_ledger,
    settle_until,
)
from sync.stages.comment_text import TextFields, stored_fields, theme_tags
from sync.stages.match_record import Match, match_from_json
from sync.stages.owners import choose_owner
from sync.stages.recency import being_backfilled, too_old
from sync.state import ActionIntent, RoutingOutcome, SkippedAction, StateStore, StoredResponse
from sync.state.escalations import DueStep
from sync.state.outbox import DETRACTOR_FIRST, ORDINARY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoutingContext:
    """Names from the rules and config, resolved to ids once per engine."""

    group_ids: Mapping[str, int]
    ticket_field_ids: Mapping[str, int]
    score_field: str
    fallback_owner_id: str | None
    #: ``user:`` owners the rules name (lower-cased emails, ids as written) that are active
    #: users, to their user ids (:mod:`sync.stages.owners`).
    user_ids: Mapping[str, str] = field(default_factory=dict)
    #: ``queue:`` owners the rules name (as written) that are queues taking Tasks, to their ids;
    #: looked up once per pass.
    queue_ids: Mapping[str, str] = field(default_factory=dict)
    #: ``routing.act_on_responses_newer_than``; None acts on every response.
    act_window: timedelta | None = None
    #: The answer dates of a backfill that has not finished reading its sources: history.
    backfilling: tuple[datetime, datetime] | None = None
    #: Actions of answers given before this are looked up before they are created: the state
    #: was restored and the world may hold them already (:mod:`sync.state.restored`).
    verify_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """Why an action cannot be made for a response: a reason code of :mod:`rules.skips`."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def action_key(source: str, response_id: str, rule: str, action: str) -> str:
    """The idempotency key of one action for one response."""
    raw = "\x1f".join((source, response_id, rule, action)).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:40]


def build_fields(
    stored: StoredResponse,
    match: Match,
    previous_score: int | None,
    now: datetime,
    text: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The flat field mapping the router decides on (missing values are None); ``text``: what
    the comment says (:mod:`sync.stages.comment_text`), when text analytics are on."""
    r = stored.response
    contact = match.contact
    account = match.account
    fields: dict[str, object] = {
        "score": r.score,
        "previous_score": previous_score,
        "survey_type": r.survey_type or None,
        "channel": r.channel or None,
        "language": r.language or None,
        "source": r.source,
        "comment": r.comment,
        "age_minutes": max(int((now - r.created_at).total_seconds() // 60), 0),
        "submitted_at": r.created_at.isoformat(),
        "matched.salesforce": contact is not None or account is not None,
        "matched.zendesk": match.zendesk_user is not None,
        "person_email": r.email,
        "person_name": r.person_name or None,
        "permalink": r.permalink or None,
        # A property of the survey (a hidden field, an export's extra column) as a custom field.
        **{f"response.custom.{key}": value for key, value in r.properties.items()},
        **(text or {}),
    }
    if contact is not None:
        fields.update(
            {
                "contact.id": contact.id,
                "contact.name": contact.name or None,
                "contact.email": contact.email,
                "contact.title": contact.title or None,
                "contact.role": contact.role or None,
                "contact.owner_id": contact.owner_id or None,
                **{f"contact.custom.{name}": value for name, value in contact.custom},
            }
        )
    if account is not None:
        today = now.date()
        fields.update(
            {
                "account.id": account.id,
                "account.name": account.name,
                "account.tier": account.tier or None,
                "account.arr": account.arr,
                "account.industry": account.industry or None,
                "account.region": account.region or None,
                "account.owner_id": account.owner_id or None,
                "account.owner_email": account.owner_email or None,
                "account.tenure_days": (today - account.created_date).days
                if account.created_date
                else None,
                "account.days_to_renewal": (account.renewal_date - today).days
                if account.renewal_date
                else None,
                **{f"account.custom.{name}": value for name, value in account.custom},
            }
        )
    return derive_fields(fields)


Fields = dict[str, object]
#: A stored response with its match and routing fields rebuilt from the store.
Rebuilt = tuple[StoredResponse, Match, Fields]


def rebuild_fields(
    store: StateStore, responses: Sequence[StoredResponse], now: datetime | None = None
) -> list[Rebuilt]:
    """The match and routing fields of stored responses, as the route stage built them.

    Time-relative fields (``age_minutes``, ``account.days_to_renewal``) are computed for ``now``
    when given (an escalation firing now), else as of :func:`routed_at`: what live routing saw.
    The fields the store answered (``account.nps``, ``support.*``) are those routing saw,
    stored with the decision.
    """
    previous = store.inbox.previous_scores(
        [(s.response.email, s.response.created_at) for s in responses]
    )
    text = stored_fields(store, responses)
    rebuilt = []
    for stored in responses:
        r = stored.response
        match = match_from_json(stored.match)
        as_of = now if now is not None else routed_at(stored)
        said = text.get((r.source, r.response_id))
        facts = (stored.decision or {}).get("looked_up")
        if isinstance(facts, dict) and facts:  # what routing saw of the store-answered fields
            said = {**(said or {}), **facts}
        fields = build_fields(stored, match, previous.get((r.email, r.created_at)), as_of, said)
        rebuilt.append((stored, match, fields))
    return rebuilt


def routed_at(stored: StoredResponse) -> datetime:
    """When the route stage last decided on ``stored``; when it was answered, if never routed."""
    recorded = (stored.decision or {}).get("routed_at")
    if isinstance(recorded, str):
        try:
            return datetime.fromisoformat(recorded)
        except ValueError:
            pass
    return stored.response.updated_at


def _task_payload(
    rendered: TaskPayload, stored: StoredResponse, match: Match, routing: RoutingContext
) -> tuple[dict[str, Any] | Skip, str]:
    """The Task and, when its owner came from lower on the ladder, why (else "").

    The due date is left to the executor (``due_in_seconds``): a Task is due ``due_in`` after it
    is created, however long the action waited in the outbox.
    """
    contact = match.contact
    account = match.account
    choice = choose_owner(
        rendered.owner,
        account_owner=account.owner_id if account else None,
        contact_owner=contact.owner_id if contact else None,
        has_account=account is not None,
        has_contact=contact is not None,
        users=routing.user_ids,
        fallback=routing.fallback_owner_id,
        queues=routing.queue_ids,
        inactive=frozenset(
            name
            for name, record in (("account", account), ("contact", contact))
            if record is not None and not record.owner_active
        ),
    )
    if choice.owner_id is None:
        return Skip(choice.reason, choice.because), ""
    description = rendered.description
    if choice.note:
        description = f"{choice.note}\n\n{description}" if description else choice.note
    return {
        "subject": rendered.subject,
        "description": description,
        "owner_id": choice.owner_id,
        # Named on the ticket of the same response; None: looked up when the ticket is made.
        "owner_name": (account.owner_name or None)
        if account is not None and choice.owner_id == account.owner_id
        else None,
        "who_id": contact.id if contact else None,
        # Salesforce refuses a Task about a Lead that is also related to a record.
        "what_id": account.id if account and not _is_lead(contact) else None,
        "due_in_seconds": int(rendered.due_in.total_seconds()),
        "priority": rendered.priority,
        # The customer context the executor appends (sync/stages/executors/task_context.py).
        **_context_payload(stored, match),
    }, choice.because


def _is_lead(contact: Contact | None) -> bool:
    return contact is not None and contact.id.startswith(LEAD_PREFIX)


def _context_payload(stored: StoredResponse, match: Match) -> dict[str, Any]:
    """Who answered, what, and the matched account: the customer context of a Task or ticket."""
    r = stored.response
    account = match.account
    user = match.zendesk_user
    return {
        "email": r.email,
        "person_name": (match.contact.name if match.contact else "") or r.person_name or "",
        "contact_matched": match.contact is not None,
        "zendesk_user_id": user.id if user else None,
        "account": None
        if account is None
        else {
            "name": account.name,
            "tier": account.tier or None,
            "arr": account.arr,
            "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
            "owner_id": account.owner_id or None,
            "owner_email": account.owner_email or None,
            **({} if account.owner_active else {"owner_active": False}),
        },
        "response": {
            "score": r.score,
            "category": r.category,
            "comment": r.comment,
            "submitted_at": r.created_at.isoformat(),
            "link": r.permalink or None,
            "survey_type": r.survey_type or None,
        },
    }


def _ticket_payload(
    rendered: TicketPayload, stored: StoredResponse, match: Match, routing: RoutingContext
) -> dict[str, Any] | Skip:
    user = match.zendesk_user
    r = stored.response
    if user is None and not rendered.create_requester:
        return Skip(
            "no_requester",
            "the respondent is not a Zendesk user and the action does not create requesters "
            "(create_requester: true)",
        )
    group_id = None
    if rendered.group:
        group_id = routing.group_ids.get(rendered.group)
        if group_id is None:
            return Skip("group_not_found", f"Zendesk group {rendered.group!r} does not exist")
    custom: dict[str, Any] = {}
    score_field = routing.ticket_field_ids.get(routing.score_field)
    if score_field is not None:
        custom[str(score_field)] = r.score
    account = match.account
    # The executor (sync/stages/executors/zendesk.py) maps ``fields`` to the configured custom
    # ticket fields, resolves ``assignee_email`` and renders the customer context from ``account``,
    # ``response`` and what it fetches in batches (open tickets, score history).
    return {
        "subject": rendered.subject,
        "body": rendered.body,
        "requester_id": user.id if user else None,
        "requester_email": "" if user else r.email,
        "requester_name": "" if user else r.person_name,
        "organization_id": user.organization_id if user else None,
        "group_id": group_id,
        "priority": rendered.priority,
        "tags": list(rendered.tags),
        "custom_fields": custom,
        "ticket_type": rendered.ticket_type,
        "assignee_email": rendered.assignee,
        "attach_to_open": rendered.attach_to_open,
        **_named_ticket(rendered, r.properties),
        "account_id": account.id if account else None,
        "fields": {
            "score": r.score,
            "category": r.category,
            "response_link": r.permalink or None,
            "account_arr": account.arr if account else None,
            "account_tier": (account.tier or None) if account else None,
        },
        **_context_payload(stored, match),
    }


def _named_ticket(rendered: TicketPayload, properties: Mapping[str, object]) -> dict[str, Any]:
    """The ticket a transactional survey's response names, as given (the executor checks it),
    with what the action does with it; nothing when the action or the response names none."""
    named = rendered.named_ticket
    if named is None:
        return {}
    value = properties.get(named.property)
    if value is None or str(value).strip() == "":
        return {}
    return {
        "named_ticket": str(value).strip(),
        "named_ticket_property": named.property,
        "reopen_named": named.reopen,
        "if_named_missing": named.if_missing,
    }


def target_record_id(system: str, object_type: str, match: Match) -> str | None:
    """The id of the matched record an ``update_fields`` action writes to."""
    if system == "salesforce":
        record = match.account if object_type == "Account" else match.contact
        return record.id if record is not None else None
    user = match.zendesk_user
    if user is None:
        return None
    if object_type == "organization":
        return str(user.organization_id) if user.organization_id else None
    return str(user.id)


def _field_update_payload(
    rendered: FieldUpdatePayload, stored: StoredResponse, match: Match
) -> dict[str, Any] | Skip:
    record_id = target_record_id(rendered.system, rendered.object_type, match)
    if record_id is None:
        detail = f"no matched {rendered.system} {rendered.object_type} to update"
        return Skip("no_record_to_update", detail)
    return {
        "system": rendered.system,
        "object": rendered.object_type,
        "record_id": record_id,
        "values": dict(rendered.values),
        "submitted_at": stored.response.created_at.isoformat(),
    }


def _resurvey_payload(
    rendered: ResurveyPayload, stored: StoredResponse, match: Match
) -> dict[str, Any]:
    """Who to survey again and when; the executor waits for the loop to be resolved."""
    r = stored.response
    return {
        "email": r.email,
        "person_name": (match.contact.name if match.contact else "") or r.person_name or "",
        "submitted_at": r.created_at.isoformat(),
        "after_seconds": int(rendered.after.total_seconds()),
        "cooldown_seconds": int(rendered.cooldown.total_seconds()),
        "properties": dict(rendered.properties),
    }


def _notification_payload(rendered: NotificationPayload) -> dict[str, Any]:
    return {
        "channel": rendered.channel,
        "webhook_env": rendered.webhook_env,
        "to": list(rendered.to),
        "subject": rendered.subject,
        "text": rendered.text,
    }


@dataclass(frozen=True, slots=True)
class Built:
    """An action made for one response: its intent, or why it cannot be made.

    ``note`` says why a Task went down the owner ladder (for the decision's notes).
    """

    intent: ActionIntent | None
    skip: Skip | None = None
    note: str = ""

    @property
    def why(self) -> str:
        """Why there is no intent ("" when there is one)."""
        return str(self.skip) if self.skip is not None else ""


def build_intent(
    ruleset: Ruleset,
    rule: str,
    name: str,
    fields: Mapping[str, object],
    stored: StoredResponse,
    match: Match,
    routing: RoutingContext,
    *,
    key_name: str | None = None,
) -> Built:
    """Render action ``name`` of ``rule`` for one response, or say why it cannot be done.

    ``key_name`` replaces the action name in the idempotency key (escalation steps use it).
    """
    action = ruleset.actions[name]
    try:
        rendered = ruleset.render_action(name, fields)
    except RenderError as exc:
        return Built(None, Skip("template_failed", str(exc)))
    made: dict[str, Any] | Skip
    note = ""
    if isinstance(rendered, TaskPayload):
        made, note = _task_payload(rendered, stored, match, routing)
    elif isinstance(rendered, TicketPayload):
        made = _ticket_payload(rendered, stored, match, routing)
        if not isinstance(made, Skip):  # the comment's themes, as tags agents can search
            made["tags"] = list(dict.fromkeys([*made["tags"], *theme_tags(fields.get("themes"))]))
    elif isinstance(rendered, FieldUpdatePayload):
        made = _field_update_payload(rendered, stored, match)
    elif isinstance(rendered, ResurveyPayload):
        made = _resurvey_payload(rendered, stored, match)
    else:
        made = _notification_payload(rendered)
    if isinstance(made, Skip):
        return Built(None, made)
    r = stored.response
    intent = ActionIntent(
        key=action_key(r.source, r.response_id, rule, key_name or name),
        source=r.source,
        response_id=r.response_id,
        rule=rule,
        action=name,
        kind=action.type,
        payload=made,
        ruleset_hash=ruleset.hash,
        priority=DETRACTOR_FIRST if r.category == "detractor" else ORDINARY,
        verify_first=routing.verify_before is not None and r.created_at < routing.verify_before,
    )
    return Built(intent, note=note)


def skipped(
    ruleset: Ruleset, rule_match: RuleMatch, name: str, stored: StoredResponse, skip: Skip
) -> SkippedAction:
    """The record of action ``name`` of ``rule_match`` skipped for one response."""
    r = stored.response
    return SkippedAction(
        key=action_key(r.source, r.response_id, rule_match.rule, name),
        source=r.source,
        response_id=r.response_id,
        rule=rule_match.rule,
        action=name,
        kind=ruleset.actions[name].type,
        reason=skip.reason,
        detail=skip.detail,
        expected=ruleset.skip_expected(rule_match, name, skip.reason),
        ruleset_hash=ruleset.hash,
    )


#: A response decided in a batch: its match, fields, the rules it matched, and why it is too old
#: to act on (None: it is acted on).
Decided = tuple[StoredResponse, Match, dict[str, object], tuple[RuleMatch, ...], str | None]


def _cooldown_claims_needed(
    decided: Sequence[Decided],
) -> tuple[set[tuple[str, str]], tuple[datetime, datetime] | None]:
    """The (rule, key value) pairs the batch's cooldowns test, and the span of answer times
    whose claims can block any of them: a claim blocks an answer less than its rule's period
    away (:meth:`~rules.throttle.CooldownLedger.blocker`), and an answer's own claim is at its
    own time."""
    pairs: set[tuple[str, str]] = set()
    earliest = latest = None
    longest = timedelta(0)
    for stored, _, fields, matches, stale in decided:
        if stale is not None:
            continue
        at = stored.response.created_at
        for m in matches:
            key = cooldown_key(m, fields)
            if key is None:
                continue
            pairs.add((key.rule, key.value))
            longest = max(longest, key.cooldown.period)
            earliest = at if earliest is None else min(earliest, at)
            latest = at if latest is None else max(latest, at)
    if earliest is None or latest is None:
        return pairs, None
    return pairs, (earliest - longest, latest + longest)


def route_responses(
    batch: Sequence[StoredResponse],
    matches: Mapping[tuple[str, str], Match],
    ruleset: Ruleset,
    routing: RoutingContext,
    store: StateStore,
    *,
    now: datetime,
    previous: Mapping[tuple[str, datetime], int] | None = None,
    text: TextFields | None = None,
    looked_up: TextFields | None = None,
) -> list[RoutingOutcome]:
    """Decide every response of the batch; one :class:`RoutingOutcome` each, except for
    responses still settling, which are deferred in the store instead
    (:mod:`sync.loop.throttle`). ``previous``: the batch's previous scores
    (:meth:`~sync.state.inbox.Inbox.previous_scores`), looked up here when not given; ``text``:
    the text fields of the batch's comments, when text analytics are on; ``looked_up``: the
    fields the store answered (:mod:`sync.stages.record_facts`), stored with each decision."""
    if previous is None:
        previous = store.inbox.previous_scores(
            [(b.response.email, b.response.created_at) for b in batch]
        )
    decided: list[Decided] = []
    settling: dict[datetime, list[tuple[str, str]]] = {}
    for stored in batch:
        r = stored.response
        match = matches[(r.source, r.response_id)]
        as_of = now if now is not None else routed_at(stored)
        said = (text or {}).get((r.source, r.response_id))
        facts = (looked_up or {}).get((r.source, r.response_id))
        if facts:
            said = {**(said or {}), **facts}
        fields = build_fields(stored, match, previous.get((r.email, r.created_at)), as_of, said)
        if match.status == "failed":  # not routed on a guess; it waits on the review list
            decided.append((stored, match, fields, (), None))
            continue
        decision = ruleset.route(fields)
        stale = too_old(r.created_at, now, routing.act_window) or being_backfilled(
            r.created_at, routing.backfilling
        )
        until = settle_until(decision, r.created_at, now) if stale is None else None
        if until is not None:
            settling.setdefault(until, []).append((r.source, r.response_id))
            continue
        decided.append((stored, match, fields, decision.matches, stale))
    for until, keys in settling.items():
        store.inbox.defer(keys, until)
    if settling:
        log.info("%d responses settling before they are routed", sum(map(len, settling.values())))

    ledger = load_ledger(store, *_cooldown_claims_needed(decided))
    outcomes: list[RoutingOutcome] = []
    for stored, match, fields, rule_matches, stale in decided:
        r = stored.response
        intents: list[ActionIntent] = []
        skips: list[SkippedAction] = []
        notes = [f"not routed: {match.detail}"] if match.status == "failed" else []
        if stale is not None:  # decided, recorded and counted, but nothing is done
            notes.append(stale)
        for rule_match in rule_matches if stale is None else ():
            key = cooldown_key(rule_match, fields)
            claim = ledger.blocker(key, r.source, r.response_id, r.created_at) if key else None
            if key is not None and claim is not None:
                note = describe_block(key, claim)
                notes.append(f"{rule_match.rule}: skipped: {note}")
                block = Skip("cooldown", note.removeprefix("cooldown: "))
                skips.extend(
                    skipped(ruleset, rule_match, n, stored, block) for n in rule_match.actions
                )
                continue
            acted = False
            for name in rule_match.actions:
                built = build_intent(ruleset, rule_match.rule, name, fields, stored, match, routing)
                if built.note:
                    notes.append(f"{rule_match.rule}/{name}: owner from the ladder: {built.note}")
                if built.intent is None:
                    assert built.skip is not None
                    notes.append(f"{rule_match.rule}/{name}: skipped: {built.why}")
                    skips.append(skipped(ruleset, rule_match, name, stored, built.skip))
                    continue
                intents.append(built.intent)
                acted = True
            if key is not None and acted:
                ledger.claim(key, r.source, r.response_id, r.created_at)
        contact = match.contact
        outcomes.append(
            RoutingOutcome(
                source=r.source,
                response_id=r.response_id,
                version=stored.version,
                match_status=match.status,
                contact_id=contact.id if contact else None,
                account_id=match.account.id if match.account else None,
                zendesk_user_id=match.zendesk_user.id if match.zendesk_user else None,
                zendesk_org_id=match.zendesk_user.organization_id if match.zendesk_user else None,
                match=match.to_json(),
                decision={
                    "routed_at": now.isoformat(),
                    "ruleset": ruleset.hash,
                    "rules": [m.rule for m in rule_matches],
                    "actions": [i.action for i in intents],
                    "notes": notes,
                    **({"too_old": True} if stale is not None else {}),
                    **_looked_up(looked_up, r.source, r.response_id),
                },
                intents=intents,
                too_old=stale is not None,
                skips=skips,
            )
        )
    save_ledger(ledger, store, now)
    return outcomes


def _looked_up(looked_up: TextFields | None, source: str, response_id: str) -> dict[str, Any]:
    """The decision's record of the store-answered fields routing saw (none: no entry)."""
    facts = (looked_up or {}).get((source, response_id))
    return {"looked_up": dict(facts)} if facts else {}


@dataclass(frozen=True)
class EscalationRendering:
    """Renders the actions of due escalation steps from their stored responses under the rules
    in force (the :data:`sync.loop.escalation.StepRenderer` the act stage passes to
    :func:`sync.loop.escalation.escalate_due`).

    ``routing`` is asked for only when a step fires (it may call Zendesk the first time).
    """

    store: StateStore
    ruleset: Ruleset
    routing: Callable[[], RoutingContext]
    now: datetime

    def __call__(self, steps: Sequence[DueStep]) -> list[RenderedStep]:
        routing = self.routing()
        responses: dict[tuple[str, str], StoredResponse] = {}
        for step in steps:
            stored = self.store.inbox.get(step.source, step.response_id)
            if stored is not None:
                responses[(step.source, step.response_id)] = stored
        rebuilt = {
            (s.response.source, s.response.response_id): (s, match, fields)
            for s, match, fields in rebuild_fields(self.store, list(responses.values()), self.now)
        }
        out: list[RenderedStep] = []
        for step in steps:
            found = rebuilt.get((step.source, step.response_id))
            if step.action not in self.ruleset.actions:
                out.append((step, None, f"action {step.action!r} is no longer in the rules"))
            elif found is None:
                out.append((step, None, "the response is no longer stored"))
            else:
                stored, match, fields = found
                built = build_intent(
                    self.ruleset,
                    step.rule,
                    step.action,
                    fields,
                    stored,
                    match,
                    routing,
                    key_name=f"escalate:{step.step}:{step.action}",
                )
                out.append((step, built.intent, built.why))
        return out
