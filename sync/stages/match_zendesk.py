"""Zendesk matching beyond the user: the requester's organization, and names resolved to ids.

The user is matched in :mod:`sync.stages.match` (external id) and, when an action or a
write-back needs it, by an exact ``email:`` lookup (:mod:`sync.stages.match_users`).
Here:

- :class:`OrganizationResolver` finds a requester's organization from the configured sources in
  order (``zendesk.matching.organization_from``): the user's own organization, the organization
  whose external id mirrors the Salesforce account id (one request per 100 accounts), or the
  email domain mapping. :func:`match_organizations` applies it to the match stage's results.
- :func:`resolve_names` turns the names admins write (groups and assignees in the rules, custom
  ticket field titles and domain organizations in the config) into ids once, at start-up, and
  lists every name that does not exist, so a typo stops the daemon instead of every ticket.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from connectors.errors import ConfigError, DeferError, RetryableError
from rules import Ruleset, ZendeskTicketAction
from sync.core.config import OrganizationSource, ZendeskConfig, ZendeskFields
from sync.core.ports import NamesPort, OrganizationPort
from sync.core.retry import RetryPolicy
from sync.stages.isolate import isolate
from sync.stages.match_record import Match

log = logging.getLogger(__name__)

K = TypeVar("K")

#: Semantic ticket field name -> the ``zendesk.fields`` setting holding its title.
TICKET_FIELD_SETTINGS: Mapping[str, str] = {
    "score": "ticket_score",
    "category": "ticket_category",
    "response_link": "ticket_response_link",
    "account_arr": "ticket_account_arr",
    "account_tier": "ticket_account_tier",
    "loop_outcome": "ticket_loop_outcome",
}


@dataclass(frozen=True)
class ZendeskNames:
    """Ids of the names the config and rules use, and the names that were not found."""

    groups: Mapping[str, int] = field(default_factory=dict)
    #: Assignee email (lower case) -> agent user id.
    agents: Mapping[str, int] = field(default_factory=dict)
    #: Semantic ticket field (``score``, ``category``, ...) -> custom field id.
    ticket_fields: Mapping[str, int] = field(default_factory=dict)
    #: Email domain (lower case) -> organization id.
    domain_organizations: Mapping[str, int] = field(default_factory=dict)
    #: Names that do not exist, as messages; fatal ones stop the start-up.
    missing: tuple[str, ...] = ()
    #: Configured ticket fields that do not exist (their values are left out of tickets).
    missing_fields: tuple[str, ...] = ()

    def raise_if_missing(self) -> None:
        if self.missing:
            raise ConfigError("; ".join(self.missing), system="zendesk")

    def to_json(self) -> dict[str, Any]:
        """The ids as plain JSON, to be kept for a pass that cannot reach Zendesk."""
        return {
            "groups": dict(self.groups),
            "agents": dict(self.agents),
            "ticket_fields": dict(self.ticket_fields),
            "domain_organizations": dict(self.domain_organizations),
            "missing_fields": list(self.missing_fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZendeskNames | None:
        """The names :meth:`to_json` gave; None for anything else (a row from another
        release, say), which is then as if nothing were kept."""

        def ids(key: str) -> dict[str, int]:
            return {str(name): int(value) for name, value in data[key].items()}

        try:
            return cls(
                groups=ids("groups"),
                agents=ids("agents"),
                ticket_fields=ids("ticket_fields"),
                domain_organizations=ids("domain_organizations"),
                missing_fields=tuple(str(title) for title in data["missing_fields"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def rule_references(ruleset: Ruleset) -> tuple[set[str], set[str]]:
    """Group names and assignee emails the ruleset's ticket actions use."""
    groups: set[str] = set()
    assignees: set[str] = set()
    for action in ruleset.actions.values():
        if isinstance(action, ZendeskTicketAction):
            if action.group:
                groups.add(action.group)
            if action.assignee:
                assignees.add(action.assignee.lower())
    return groups, assignees


def field_titles(config: ZendeskConfig | ZendeskFields) -> dict[str, str]:
    """Semantic ticket field -> the custom field title configured for it (unset ones left out)."""
    fields = config.fields if isinstance(config, ZendeskConfig) else config
    titles = {name: getattr(fields, setting) for name, setting in TICKET_FIELD_SETTINGS.items()}
    return {name: title for name, title in titles.items() if title}


def resolve_names(
    helpdesk: NamesPort,
    *,
    field_titles: Mapping[str, str] | None = None,
    domains: Mapping[str, str] | None = None,
    groups: Iterable[str] = (),
    assignees: Iterable[str] = (),
    retry: RetryPolicy | None = None,
) -> ZendeskNames:
    """Resolve every name once: custom ticket field titles (semantic name -> title), domain
    organizations (email domain -> organization name), groups and assignee emails.

    Unknown groups, agents and organizations are listed in ``missing``; unknown fields in
    ``missing_fields``.
    """
    call = (retry or RetryPolicy()).call
    missing: list[str] = []
    wanted_groups = sorted(set(groups))
    group_ids: dict[str, int] = {}
    if wanted_groups:
        known = call(helpdesk.group_ids)
        group_ids = {name: known[name] for name in wanted_groups if name in known}
        missing += [f"group {name!r} does not exist" for name in wanted_groups if name not in known]

    wanted_agents = sorted({a.lower() for a in assignees})
    agents = call(lambda: helpdesk.agents_by_email(wanted_agents)) if wanted_agents else {}
    missing += [f"assignee {a!r} is not an agent" for a in wanted_agents if a not in agents]

    titles = dict(field_titles or {})
    field_ids = call(helpdesk.ticket_field_ids) if titles else {}
    fields = {name: field_ids[title] for name, title in titles.items() if title in field_ids}
    missing_fields = tuple(sorted(t for t in titles.values() if t not in field_ids))

    by_domain = {d.lower(): name for d, name in (domains or {}).items()}
    org_ids = (
        call(lambda: helpdesk.organization_ids_by_name(by_domain.values())) if by_domain else {}
    )
    missing += [
        f"organization {name!r} (for domain {domain}) does not exist"
        for domain, name in sorted(by_domain.items())
        if name not in org_ids
    ]
    return ZendeskNames(
        groups=group_ids,
        agents={email: agent.id for email, agent in agents.items()},
        ticket_fields=fields,
        domain_organizations={d: org_ids[n] for d, n in by_domain.items() if n in org_ids},
        missing=tuple(missing),
        missing_fields=missing_fields,
    )


def resolve_config_names(
    helpdesk: NamesPort, config: ZendeskConfig, ruleset: Ruleset, retry: RetryPolicy | None = None
) -> ZendeskNames:
    """:func:`resolve_names` for everything a config and ruleset name (the start-up check)."""
    groups, assignees = rule_references(ruleset)
    return resolve_names(
        helpdesk,
        field_titles=field_titles(config),
        domains=config.matching.organization_domains,
        groups=groups,
        assignees=assignees,
        retry=retry,
    )


def names_wanted(config: ZendeskConfig, ruleset: Ruleset) -> str:
    """A fingerprint of the names :func:`resolve_config_names` asks Zendesk for: ids kept for
    one set of names are never taken for another."""
    groups, assignees = rule_references(ruleset)
    wanted = {
        "fields": field_titles(config),
        "domains": {d.lower(): name for d, name in config.matching.organization_domains.items()},
        "groups": sorted(groups),
        "assignees": sorted(assignees),
    }
    text = json.dumps(wanted, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Requester:
    """What an organization can be found from."""

    email: str
    user_organization_id: int | None = None
    account_id: str | None = None


class OrganizationResolver:
    """A requester's Zendesk organization from the configured sources, in order."""

    def __init__(
        self,
        helpdesk: OrganizationPort,
        sources: Sequence[OrganizationSource],
        domain_organizations: Mapping[str, int],
        retry: RetryPolicy | None = None,
        *,
        wait_when_down: bool = False,
    ) -> None:
        """``wait_when_down``: a lookup Zendesk does not answer leaves its accounts
        :attr:`unanswered` (their responses wait) instead of raising."""
        self.helpdesk = helpdesk
        self.sources = tuple(sources)
        self.domains = {d.lower(): org for d, org in domain_organizations.items()}
        self.retry = retry or RetryPolicy()
        self.wait_when_down = wait_when_down
        #: Accounts (lower-case ids) whose organization lookup got no answer, with why.
        self.unanswered: dict[str, str] = {}

    def resolve(self, requesters: Sequence[Requester]) -> list[int | None]:
        """One organization id (or None) per requester; at most one request per 100 accounts."""
        by_account = self._by_external_id(requesters)
        return [self._first(r, by_account) for r in requesters]

    def waits(self, requester: Requester) -> str | None:
        """Why ``requester``'s organization is not known for now (its lookup got no answer),
        if so."""
        account = self._account_to_look_up(requester)
        return self.unanswered.get(account) if account else None

    def _account_to_look_up(self, requester: Requester) -> str | None:
        """The account whose organization is looked up for ``requester``: the sources before
        ``external_id`` found none."""
        for source in self.sources:
            if source == "external_id":
                return requester.account_id.lower() if requester.account_id else None
            if self._local(source, requester) is not None:
                return None
        return None

    def _by_external_id(self, requesters: Sequence[Requester]) -> dict[str, int]:
        needed = {a for r in requesters if (a := self._account_to_look_up(r)) is not None}
        if not needed:
            return {}
        found: dict[str, int] = {}
        answered: set[str] = set()

        def lookup(part: Sequence[str]) -> None:
            found.update(self.retry.call(lambda: self.helpdesk.organizations_by_external_id(part)))
            answered.update(part)

        try:
            refused = isolate(sorted(needed), lookup)
        except (RetryableError, DeferError) as exc:
            if not self.wait_when_down:
                raise
            self.unanswered.update(dict.fromkeys(needed - answered, str(exc)))
            refused = {}
        for account_id, reason in refused.items():
            # Only this account's organization is unknown; its requester keeps the other sources.
            log.warning("organization of account %s not looked up: %s", account_id, reason)
        return found

    def _first(self, requester: Requester, by_account: Mapping[str, int]) -> int | None:
        for source in self.sources:
            if source == "external_id":
                found = by_account.get((requester.account_id or "").lower())
            else:
                found = self._local(source, requester)
            if found is not None:
                return found
        return None

    def _local(self, source: OrganizationSource, requester: Requester) -> int | None:
        if source == "user":
            return requester.user_organization_id
        if source == "domain":
            return self.domains.get(requester.email.rpartition("@")[2].lower())
        return None


def match_organizations(
    matches: Mapping[K, Match], resolver: OrganizationResolver
) -> dict[K, Match]:
    """The matches with each Zendesk user's organization set from the resolver's sources.

    An organization is filled in or replaced, never cleared. Responses without a Zendesk user
    are returned unchanged (a requester created later gets its
    organization from the same resolver in the ticket executor).
    """
    keys = [k for k, m in matches.items() if m.zendesk_user is not None]
    requesters = []
    for key in keys:
        match = matches[key]
        user = match.zendesk_user
        assert user is not None
        account = match.account
        requesters.append(
            Requester(user.email, user.organization_id, account.id if account else None)
        )
    result = dict(matches)
    for key, requester, org_id in zip(keys, requesters, resolver.resolve(requesters), strict=True):
        match = matches[key]
        user = match.zendesk_user
        assert user is not None
        why = resolver.waits(requester)
        if why is not None:  # routed by a later pass, once Zendesk answers
            detail = f"zendesk organization not answered: {why}"
            result[key] = Match(status="unanswered", method="none", detail=detail)
        elif org_id is not None and org_id != user.organization_id:
            result[key] = replace(match, zendesk_user=replace(user, organization_id=org_id))
    return result
