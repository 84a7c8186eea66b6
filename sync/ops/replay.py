"""Stored responses through the rules again, without calling anyone: ``rules explain``/``replay``.

Everything the router decided on is in the state store: the response itself and, in its stored
match (:meth:`sync.stages.match.Match.to_json`), the contact, account and Zendesk user the match
stage found. :func:`match_from_json` turns that back into a :class:`~sync.stages.match.Match`, and
:func:`sync.stages.route.build_fields` into the same flat fields the engine routed on (only
``age_minutes`` differs: it is computed for ``now``).

:func:`replay` counts what a ruleset would create over many stored responses, applying cooldowns
in submission order as the engine does (settle delays only postpone, so they do not change the
counts), and leaves out actions the route stage would skip for want of a matched record (a ticket
without a Zendesk requester). Escalations are left out: they depend on what people did since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.models import Account, Contact, ZendeskUser
from rules import ActionSpec, Ruleset, SalesforceTaskAction, UpdateFieldsAction, ZendeskTicketAction
from sync.loop.throttle import CooldownLedger, cooldown_key
from sync.stages.match import Match
from sync.stages.route import build_fields, target_record_id
from sync.state import StateStore, StoredResponse

Fields = dict[str, object]
Rebuilt = tuple[StoredResponse, Match, Fields]


def match_from_json(data: Mapping[str, Any] | None) -> Match:
    """The :class:`Match` that :meth:`Match.to_json` stored (None: never matched)."""
    if not data:
        return Match(status="unmatched", method="none")
    account_data = data.get("account")
    account = None
    if account_data:
        account = Account(
            id=account_data["id"],
            name=account_data.get("name") or "",
            owner_id=account_data.get("owner_id") or "",
            owner_email=account_data.get("owner_email") or "",
            tier=account_data.get("tier") or "",
            industry=account_data.get("industry") or "",
            region=account_data.get("region") or "",
            arr=float(account_data.get("arr") or 0.0),
            renewal_date=_date(account_data.get("renewal_date")),
            created_date=_date(account_data.get("created_date")),
        )
    contact_data = data.get("contact")
    contact = None
    if contact_data:
        # The stored name is the full name; last_name alone renders it back unchanged.
        contact = Contact(
            id=contact_data["id"],
            email=contact_data.get("email") or "",
            last_name=contact_data.get("name") or "",
            owner_id=contact_data.get("owner_id") or "",
            account=account,
        )
    user_data = data.get("zendesk_user")
    user = None
    if user_data:
        org = user_data.get("organization_id")
        user = ZendeskUser(
            id=int(user_data["id"]), email="", organization_id=int(org) if org else None
        )
    return Match(
        status=data.get("status") or "unmatched",
        method=data.get("method") or "none",
        contact=contact,
        account=account,
        zendesk_user=user,
        candidates=int(data.get("candidates") or 0),
    )


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def rebuild_fields(
    store: StateStore, responses: Sequence[StoredResponse], now: datetime
) -> list[Rebuilt]:
    """The match and routing fields of stored responses, as the route stage built them."""
    previous = store.previous_scores([(s.response.email, s.response.created_at) for s in responses])
    rebuilt = []
    for stored in responses:
        r = stored.response
        match = match_from_json(stored.match)
        fields = build_fields(stored, match, previous.get((r.email, r.created_at)), now)
        rebuilt.append((stored, match, fields))
    return rebuilt


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
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(rule, action type) -> actions that would be skipped for want of a matched record."""

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


def lacks_target(action: ActionSpec, match: Match) -> bool:
    """True when the route stage would skip the action: no requester, no record to update."""
    if isinstance(action, ZendeskTicketAction):
        return match.zendesk_user is None and not action.create_requester
    if isinstance(action, UpdateFieldsAction):
        return target_record_id(action.system, action.object_type, match) is None
    return False


def replay(ruleset: Ruleset, rebuilt: Sequence[Rebuilt]) -> ReplayResult:
    """Route every response (oldest first) and count the actions; no I/O."""
    result = ReplayResult()
    ledger = CooldownLedger()
    ordered = sorted(rebuilt, key=lambda item: item[0].response.created_at)
    for stored, match, fields in ordered:
        r = stored.response
        result.responses += 1
        if match.account is not None and match.account.owner_email:
            result.owner_emails[match.account.owner_id] = match.account.owner_email
        for rule_match in ruleset.route(fields).matches:
            key = cooldown_key(rule_match, fields)
            if key and ledger.blocker(key, r.source, r.response_id, r.created_at):
                result.suppressed[rule_match.rule] += 1
                continue
            for name in rule_match.actions:
                action = ruleset.actions[name]
                if lacks_target(action, match):
                    result.skipped[(rule_match.rule, action.type)] += 1
                    continue
                if key is not None:
                    ledger.claim(key, r.source, r.response_id, r.created_at)
                result.by_rule[(rule_match.rule, action.type)] += 1
                if isinstance(action, SalesforceTaskAction):
                    result.by_owner[task_owner(action, match)] += 1
                elif isinstance(action, ZendeskTicketAction):
                    result.by_group[action.group or "(no group)"] += 1
    return result
