"""Zendesk users by email, looked up only for the responses that need one.

The match stage finds a respondent's Zendesk user through the Salesforce contact it mirrors
(100 per request). A respondent it does not find that way would cost an exact ``email:`` search
each, and most of them are simply not in Zendesk. So the search waits until something needs
the user (:class:`UserNeeds`): an action the rules would take for the response that works on a
Zendesk user (a ticket's requester, a Zendesk field update, an escalation step of either), the
write-back of Zendesk user fields for a matched contact, or rules that read ``matched.zendesk``
or the support history (``support.*``).
A response still settling (a rule's ``settle`` delay) is asked for when it is routed.

:class:`UserFinder` answers those lookups for one pass. With the mirror of Zendesk's users
ready (:class:`sync.loop.user_mirror.UserDirectory`, ``zendesk.matching.user_lookup: export``),
they cost no request: an email the mirror does not hold is not in Zendesk. Otherwise each email
is searched at most once in the pass, and a "no such user" answer is remembered in the state
store (``zendesk.matching.remember_unknown_users_days``), so the next passes skip the search
until it expires. A search Zendesk refuses for its value fails only the responses that needed
it, which go to the review list as any refused lookup does. While Zendesk does not answer the
export, a mirror too old to be complete still answers for the users it holds; the others are
searched, and once a search gets no answer the rest of the pass's lookups wait with it
(:attr:`UserFinder.unanswered`): their responses are routed by a later pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property, partial

from connectors.errors import DeferError, RetryableError
from connectors.models import ZendeskUser
from rules import FieldsError, Ruleset, UpdateFieldsAction, ZendeskTicketAction
from sync.core.ports import MatchingHelpdesk
from sync.core.retry import RetryPolicy
from sync.loop.throttle import settle_until
from sync.loop.user_mirror import UserDirectory
from sync.stages.isolate import isolate
from sync.stages.match_record import Match
from sync.stages.recency import too_old
from sync.stages.record_facts import ACCOUNT_NPS, SUPPORT_FIELDS
from sync.stages.route import build_fields
from sync.state import StoredResponse
from sync.state.user_misses import UserMisses

log = logging.getLogger(__name__)

Key = tuple[str, str]
LOOKUP = "zendesk email"


def _email(stored: StoredResponse) -> str:
    return stored.response.email.strip().lower()


@dataclass(frozen=True)
class UserNeeds:
    """Which responses need their Zendesk user before they are routed."""

    ruleset: Ruleset
    #: ``routing.act_on_responses_newer_than``: older responses take no action.
    act_window: timedelta | None = None
    #: Zendesk user fields are written back (for responses with a matched contact).
    write_back_users: bool = False

    @cached_property
    def reads_match(self) -> bool:
        """The rules decide on ``matched.zendesk`` or on the respondent's Zendesk tickets
        (``support.*``): every decision needs the lookup."""
        return any(
            spec.name == "matched.zendesk" or spec.name in SUPPORT_FIELDS
            for spec in self.ruleset.read_fields
        )

    @cached_property
    def reads_account_nps(self) -> bool:
        """A condition reads ``account.nps``, which routing looks up after the users."""
        return any(spec.name == ACCOUNT_NPS for spec in self.ruleset.read_fields)

    @cached_property
    def user_actions(self) -> frozenset[str]:
        """Actions that work on the respondent's Zendesk user or organization."""
        return frozenset(
            name
            for name, action in self.ruleset.actions.items()
            if isinstance(action, ZendeskTicketAction)
            or (isinstance(action, UpdateFieldsAction) and action.system == "zendesk")
        )

    def wants(
        self, stored: StoredResponse, match: Match, previous_score: int | None, now: datetime
    ) -> bool:
        if match.zendesk_user is not None or match.status == "failed" or not _email(stored):
            return False
        if self.write_back_users and match.contact is not None:
            return True
        if self.reads_match:
            return True
        if not self.user_actions or too_old(stored.response.created_at, now, self.act_window):
            return False
        if self.reads_account_nps:
            return True  # decided on a figure the store answers after this lookup: ask
        try:
            decision = self.ruleset.route(build_fields(stored, match, previous_score, now))
        except FieldsError:
            return True  # the route stage reports it; asking costs one search at most
        if settle_until(decision, stored.response.created_at, now) is not None:
            return False  # routed later, when the comment had time to arrive: asked then
        return any(
            name in self.user_actions
            for rule in decision.matches
            for name in (*rule.actions, *(step.action for step in rule.escalations))
        )


class UserFinder:
    """Email lookups for one pass: from the mirror when given one, else exact searches, each
    email once, remembered misses not at all."""

    def __init__(
        self,
        helpdesk: MatchingHelpdesk,
        retry: RetryPolicy,
        misses: UserMisses | None = None,
        remember: timedelta = timedelta(days=7),
        directory: UserDirectory | None = None,
        *,
        complete: bool = True,
    ) -> None:
        """``complete``: the ``directory`` holds every user (a mirror recently caught up), so
        an email it lacks has none; else (a mirror Zendesk cannot bring up to date now) what
        it holds is taken, what it lacks is searched, and a search Zendesk does not answer
        leaves that email :attr:`unanswered`, not unknown."""
        self.helpdesk = helpdesk
        self.directory = directory
        self.complete = complete
        self.retry = retry
        self.misses = misses if remember > timedelta(0) else None
        self.remember = remember
        self._answers: dict[str, ZendeskUser | None] = {}
        #: Emails Zendesk refused to search, with why.
        self.refused: dict[str, str] = {}
        #: Emails whose search got no answer (Zendesk down), with why: asked again next pass.
        self.unanswered: dict[str, str] = {}
        #: Why a search got no answer this pass: the later ones are not tried before the next.
        self._down = ""

    def find(self, emails: Iterable[str], now: datetime) -> dict[str, ZendeskUser]:
        """The users of these (lower-case) emails that exist."""
        wanted = sorted({e for e in emails if e})
        todo = [
            e
            for e in wanted
            if e not in self._answers and e not in self.refused and e not in self.unanswered
        ]
        if todo and self.directory is not None:
            found_here = self.directory.by_emails(todo)
            if self.complete:  # the whole mirror: a miss is no user
                self._answers.update({e: found_here.get(e) for e in todo})
                todo = []
            else:
                self._answers.update(found_here)
                todo = [e for e in todo if e not in found_here]
        if todo and self.misses is not None:
            for email in self.misses.recent(todo, now - self.remember):
                self._answers[email] = None
            todo = [e for e in todo if e not in self._answers]
        missing: list[str] = []

        def search(part: Sequence[tuple[str, str]]) -> None:
            for _, email in part:
                user = self.retry.call(partial(self.helpdesk.find_user_by_email, email))
                self._answers[email] = user
                if user is None:
                    missing.append(email)

        if todo and self._down:
            self.unanswered.update(dict.fromkeys(todo, self._down))
            todo = []
        try:
            for n, email in enumerate(todo):  # one request each: a refused one fails alone
                try:
                    refused = isolate([(LOOKUP, email)], search)
                except (RetryableError, DeferError) as exc:
                    if self.complete or self.directory is None:
                        raise
                    # Zendesk is down: these wait for the next pass, the others go on.
                    self._down = str(exc)
                    self.unanswered.update(dict.fromkeys(todo[n:], self._down))
                    break
                for (_, value), why in refused.items():
                    self.refused[value] = why
        finally:
            if missing and self.misses is not None:
                self.misses.remember(missing, now)
        found = {e: self._answers.get(e) for e in wanted}
        return {e: user for e, user in found.items() if user is not None}


def find_needed_users(
    batch: Sequence[StoredResponse],
    matches: Mapping[Key, Match],
    needs: UserNeeds,
    finder: UserFinder,
    previous: Mapping[tuple[str, datetime], int],
    now: datetime,
) -> dict[Key, Match]:
    """The matches of the responses that need a Zendesk user and got one (or whose search was
    refused: those are ``failed``; or got no answer: ``unanswered``, not to be routed now);
    responses left out keep their match."""
    wanting: dict[Key, StoredResponse] = {}
    for stored in batch:
        r = stored.response
        key = (r.source, r.response_id)
        if needs.wants(stored, matches[key], previous.get((r.email, r.created_at)), now):
            wanting[key] = stored
    if not wanting:
        return {}
    users = finder.find((_email(s) for s in wanting.values()), now)
    changed: dict[Key, Match] = {}
    for key, stored in wanting.items():
        email = _email(stored)
        if email in finder.refused:
            detail = f"lookup failed: {LOOKUP} {email}: {finder.refused[email]}"
            log.warning(
                "response %s/%s not matched: %s",
                key[0],
                key[1],
                detail,
                extra={"source": key[0], "response_id": key[1], "system": "zendesk"},
            )
            changed[key] = Match(status="failed", method="none", detail=detail)
        elif email in finder.unanswered:
            detail = f"{LOOKUP} not answered: {finder.unanswered[email]}"
            changed[key] = Match(status="unanswered", method="none", detail=detail)
        elif email in users:
            changed[key] = replace(matches[key], zendesk_user=users[email])
    return changed
