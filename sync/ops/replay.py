"""Stored responses through the rules again, without calling anyone: ``rules explain``/``replay``.

Everything the router decided on is in the state store: the response itself and, in its stored
match, the contact, account and Zendesk user the match stage found.
:func:`sync.stages.route.rebuild_fields` turns them back into the same flat fields the engine
routed on, time-relative fields included: they are computed as of the time live routing decided
(or the response's own time, for one never routed), not as of today.

:func:`replay` counts what a ruleset would create over many stored responses, applying cooldowns
in submission order as the engine does (settle delays only postpone, so they do not change the
counts), and leaves out actions the route stage would skip for want of a matched record (a ticket
without a Zendesk requester). Escalations are left out: they depend on what people did since.
A response too old to act on when it was routed (``routing.act_on_responses_newer_than``) is
counted as such and acts under no ruleset, as in live routing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from rules import ActionSpec, Ruleset, SalesforceTaskAction, UpdateFieldsAction, ZendeskTicketAction
from sync.loop.throttle import CooldownLedger, cooldown_key
from sync.stages.match_record import Match
from sync.stages.recency import recorded_as_backfill_history, too_old
from sync.stages.record_facts import ACCOUNT_NPS, SUPPORT_FIELDS
from sync.stages.route import Rebuilt, routed_at, target_record_id


@dataclass
class ReplayResult:
    """What one ruleset would create over a set of responses."""

    responses: int = 0
    by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(rule, action type) -> actions."""
    by_owner: Counter[str] = field(default_factory=Counter)
    """Task owner (user id, or the ``user:`` reference of the rules) -> tasks."""
    owner_emails: dict[str, str] = field(default_factory=dict)
    """User id -> email, where a matched account told us."""
    by_group: Counter[str] = field(default_factory=Counter)
    """Zendesk group -> tickets."""
    suppressed: Counter[str] = field(default_factory=Counter)
    """Rule -> responses whose actions a cooldown skipped."""
    skipped: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(rule, action type, skip reason code) -> actions that would be skipped for want of a
    matched record."""
    too_old: int = 0
    """Responses submitted too long before they were routed to act on: no actions."""

    def total(self, kind: str) -> int:
        """Actions of one type, over every rule."""
        return sum(count for (_, k), count in self.by_rule.items() if k == kind)


def task_owner(action: SalesforceTaskAction, match: Match) -> str:
    """Who a task would go to, as the route stage picks: a user id or the rules' reference."""
    account = match.account
    contact = match.contact
    account_owner = account.owner_id if account else ""
    contact_owner = contact.owner_id if contact else ""
    kind = action.owner.kind
    if kind == "user":
        return action.owner.user or "(fallback owner)"
    first, second = (
        (account_owner, contact_owner)
        if kind == "account_owner"
        else (contact_owner, account_owner)
    )
    return first or second or "(fallback owner)"


def lacks_target(action: ActionSpec, match: Match) -> str | None:
    """The reason code (:mod:`rules.skips`) the route stage would skip the action for: no
    requester, no record to update; None when it would not."""
    if isinstance(action, ZendeskTicketAction):
        return (
            "no_requester" if match.zendesk_user is None and not action.create_requester else None
        )
    if isinstance(action, UpdateFieldsAction):
        missing = target_record_id(action.system, action.object_type, match) is None
        return "no_record_to_update" if missing else None
    return None


def replay(
    ruleset: Ruleset, rebuilt: Sequence[Rebuilt], act_window: timedelta | None = None
) -> ReplayResult:
    """Route every response (oldest first) and count the actions; no I/O.

    ``act_window`` is ``routing.act_on_responses_newer_than``: a response older than that when
    live routing decided on it creates nothing here either, nor does one that routing took as
    history because an unfinished backfill's range held it.
    """
    result = ReplayResult()
    ledger = CooldownLedger()
    ordered = sorted(rebuilt, key=lambda item: item[0].response.created_at)
    for stored, match, fields in ordered:
        r = stored.response
        result.responses += 1
        stale = too_old(r.created_at, routed_at(stored), act_window)
        if stale is not None or recorded_as_backfill_history(stored.decision):
            result.too_old += 1
            continue
        if match.account is not None and match.account.owner_email:
            result.owner_emails[match.account.owner_id] = match.account.owner_email
        for rule_match in ruleset.route(fields).matches:
            key = cooldown_key(rule_match, fields)
            if key and ledger.blocker(key, r.source, r.response_id, r.created_at):
                result.suppressed[rule_match.rule] += 1
                continue
            for name in rule_match.actions:
                action = ruleset.actions[name]
                reason = lacks_target(action, match)
                if reason is not None:
                    result.skipped[(rule_match.rule, action.type, reason)] += 1
                    continue
                if key is not None:
                    ledger.claim(key, r.source, r.response_id, r.created_at)
                result.by_rule[(rule_match.rule, action.type)] += 1
                if isinstance(action, SalesforceTaskAction):
                    result.by_owner[task_owner(action, match)] += 1
                elif isinstance(action, ZendeskTicketAction):
                    result.by_group[action.group or "(no group)"] += 1
    return result


#: Fields routing records only when the rules in force read them: the store-answered ones
#: (kept with the decision) and the Salesforce fields the lookups read for custom fields.
_RECORDED_PREFIXES = ("account.custom.", "contact.custom.")
_RECORDED = (ACCOUNT_NPS, *SUPPORT_FIELDS)


def unrecorded(candidate: Ruleset, in_force: Ruleset, rebuilt: Sequence[Rebuilt]) -> dict[str, int]:
    """Fields the candidate rules read that routing did not record (the rules in force do not
    read them), with how many responses lack them: a replay sees them as missing, so the
    candidate's counts for rules on them say nothing yet."""
    wanted = sorted(
        name
        for name in candidate.used - in_force.used
        if name in _RECORDED or name.startswith(_RECORDED_PREFIXES)
    )
    counts: Counter[str] = Counter()
    for _, match, fields in rebuilt:
        records: dict[str, object] = {
            "account": match.account,
            "contact": match.contact,
            "support": match.zendesk_user,
        }
        for name in wanted:
            if records[name.split(".")[0]] is not None and fields.get(name) is None:
                counts[name] += 1
    return dict(counts)
