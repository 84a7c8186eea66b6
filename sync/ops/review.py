"""The review list (``nps-sync unmatched``): why each response matched no one, and what fixes it.

Responses are grouped by the change that would match them, and each group gets that change in
words and, where the config can express it, as the YAML to add (the matcher's own settings:
``salesforce.matching.account_aliases``, ``order``, ``ties``):

- a company email domain on no account: an alias from the domain to the closest account by
  name or domain (searched in Salesforce), or to a placeholder when none is close;
- a domain that *is* on an account now (the CRM was fixed since) or whose step is off in
  ``order``: rematch, or the ``order`` that turns the step on;
- a domain or alias naming several accounts: an alias to one of them (an alias is tried first);
- an email shared by contacts of several accounts: ``ties: oldest`` or one contact per email;
- an address of an unconverted Lead while ``lead`` is not in ``order``: add it;
- a personal address (free mail): the address on the person's Contact, or the contact id in the
  survey; a lookup the system refused: fix it, then rematch.

Only lookups are made (accounts by domain, Leads by email, accounts whose name or domain holds
the domain's name); nothing is written. :func:`review` works without Salesforce too: the fixes
then have no closest account and say so.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from connectors.errors import ConnectorError
from connectors.models import Account
from sync.core.config import Config
from sync.core.ports import AccountSearch, MatchingCrm
from sync.stages.match import FREE_MAIL_DOMAINS, email_domain
from sync.state import StoredResponse

#: Second-level labels under a country code (``acme.co.uk``): the name is the label before.
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc"})
#: Closest accounts shown per domain.
MAX_CANDIDATES = 3

T = TypeVar("T")


class ReviewCrm(MatchingCrm, AccountSearch, Protocol):
    """The Salesforce lookups the suggestions use."""


@dataclass(frozen=True, slots=True)
class AccountHint:
    """An account a fix names: its id, name and the domain it is matched by."""

    id: str
    name: str
    domain: str = ""

    @classmethod
    def of(cls, account: Account) -> AccountHint:
        return cls(account.id, " ".join(account.name.split()), account.domain)

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})" if self.domain else self.name


@dataclass
class Fix:
    """One change that would match a group of responses.

    ``kind`` names the change (``alias``, ``rematch``, ``order``, ``choose_account``, ``ties``,
    ``personal_address``, ``fix_alias``, ``retry``); ``subject`` is what the group shares (a
    domain, an email, a refused lookup); ``snippet`` is YAML to merge into the config file, ""
    when the fix is in Salesforce or the survey instead.
    """

    kind: str
    subject: str
    problem: str
    advice: str
    snippet: str = ""
    accounts: tuple[AccountHint, ...] = ()
    responses: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Review:
    """The fixes for a review list, largest group first, and why some could not be looked up."""

    fixes: list[Fix]
    note: str = ""

    def fix_of(self, source: str, response_id: str) -> Fix | None:
        return next((f for f in self.fixes if (source, response_id) in f.responses), None)


def domain_name(domain: str) -> str:
    """The name part of a domain: ``mail.acme-labs.co.uk`` -> ``acme-labs``."""
    labels = domain.lower().split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        labels = labels[:-1]
    return labels[-2] if len(labels) >= 2 else labels[0]


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def closest_accounts(domain: str, accounts: Iterable[Account]) -> list[Account]:
    """The accounts most like ``domain`` by name or domain name, best first (ties: oldest)."""
    wanted = _squash(domain_name(domain))

    def likeness(account: Account) -> float:
        names = [_squash(account.name), _squash(domain_name(account.domain or ""))]
        return max(difflib.SequenceMatcher(None, wanted, name).ratio() for name in names if name)

    scored = [(likeness(a), a) for a in accounts if a.name or a.domain]
    scored = [(score, a) for score, a in scored if score >= 0.5]
    scored.sort(key=lambda item: (-item[0], item[1].id))
    return [a for _, a in scored[:MAX_CANDIDATES]]


def _yaml_comment(text: str) -> str:
    return " ".join(text.split()).replace("#", "")


def alias_snippet(domain: str, target: str, comment: str, order: Sequence[str]) -> str:
    """The ``salesforce.matching`` YAML that maps ``domain`` to ``target`` (an account Id)."""
    lines = ["salesforce:", "  matching:"]
    if "alias" not in order:
        lines.append(f"    order: [{', '.join(_with_step(order, 'alias'))}]")
    lines.append("    account_aliases:")
    if comment:
        lines.append(f"      # {_yaml_comment(comment)[:60]}")
    lines.append(f"      {domain}: {target}")
    return "\n".join(lines)


def _with_step(order: Sequence[str], step: str) -> list[str]:
    """``order`` with ``step`` added where the default ladder has it."""
    ladder = ["crm_id", "email", "lead", "alias", "domain"]
    steps = [*order, step]
    return sorted(dict.fromkeys(steps), key=lambda s: ladder.index(s) if s in ladder else 99)


def order_snippet(order: Sequence[str], step: str) -> str:
    return f"salesforce:\n  matching:\n    order: [{', '.join(_with_step(order, step))}]"


class _Lookups:
    """The Salesforce answers the fixes need, asked once each, or none when it cannot answer."""

    def __init__(self, crm: ReviewCrm | None) -> None:
        self.crm = crm
        self.note = ""

    def _ask(self, question: str, call: Callable[[], T], empty: T) -> T:
        if self.crm is None:
            return empty
        try:
            return call()
        except ConnectorError as error:
            self.crm = None  # one refusal is enough: the rest of the review goes on without
            self.note = (
                f"Salesforce could not be asked ({question}: {error}); the fixes name no accounts"
            )
            return empty

    def accounts_by_domain(self, domains: Sequence[str]) -> Mapping[str, list[Account]]:
        crm = self.crm
        if crm is None or not domains:
            return {}
        return self._ask(
            "accounts by domain", lambda: crm.find_accounts_by(domains=domains).by_domain, {}
        )

    def accounts_like(self, domains: Sequence[str]) -> list[Account]:
        crm = self.crm
        fragments = sorted(
            {name for d in domains if len(name := domain_name(d)) >= 3}
            | {part for d in domains if len(part := domain_name(d).split("-")[0]) >= 3}
        )
        if crm is None or not fragments:
            return []
        return self._ask("accounts like these domains", lambda: crm.search_accounts(fragments), [])

    def accounts_named(self, names: Sequence[str]) -> list[Account]:
        crm = self.crm
        fragments = sorted({word for n in names for word in n.split() if len(word) >= 3})
        if crm is None or not fragments:
            return []
        return self._ask("accounts by name", lambda: crm.search_accounts(fragments), [])

    def leads(self, emails: Sequence[str]) -> set[str]:
        crm = self.crm
        if crm is None or not emails:
            return set()
        return self._ask("Leads by email", lambda: set(crm.find_leads_by_email(emails)), set())

    def contacts(self, emails: Sequence[str]) -> Mapping[str, list[str]]:
        """For each email, the accounts of the contacts that have it (names)."""
        crm = self.crm
        if crm is None or not emails:
            return {}

        def ask() -> dict[str, list[str]]:
            found = crm.find_contacts(emails=emails).by_email
            return {
                email: [c.account.name if c.account else "(no account)" for c in contacts]
                for email, contacts in found.items()
            }

        return self._ask("contacts by email", ask, {})


PLACEHOLDER = "<Account Id or exact account name>"
REMATCH = "then run `nps-sync unmatched rematch`"


def review(rows: Sequence[StoredResponse], config: Config, crm: ReviewCrm | None) -> Review:
    """The fixes for these review-list responses, asking ``crm`` (None: no lookups)."""
    matching = config.salesforce.matching
    order = tuple(matching.order)
    aliases = {k.strip().lower(): v.strip() for k, v in matching.account_aliases.items()}
    free = FREE_MAIL_DOMAINS | {d.strip().lower() for d in matching.free_mail_domains}
    groups: dict[tuple[str, str], list[StoredResponse]] = {}
    for row in rows:
        groups.setdefault(_group_of(row, aliases, free), []).append(row)
    lookups = _Lookups(crm)
    if "lead" not in order:
        _split_leads(groups, lookups)
    fixes: list[Fix] = []
    domains = sorted(d for kind, d in groups if kind == "domain")
    on_accounts = lookups.accounts_by_domain(domains)
    lonely = [d for d in domains if not on_accounts.get(d)]
    candidates = lookups.accounts_like(lonely)
    named = lookups.accounts_named(
        [aliases[d] for kind, d in groups if kind == "alias" and not _is_id(aliases[d])]
    )
    for (kind, subject), members in groups.items():
        if kind == "domain":
            fix = _domain_fix(subject, on_accounts.get(subject, []), candidates, config)
        elif kind == "alias":
            fix = _alias_fix(subject, aliases[subject], named, order)
        elif kind == "ambiguous_domain":
            found = lookups.accounts_by_domain([subject]).get(subject, [])
            fix = _choose_fix(subject, aliases.get(subject, ""), found, order)
        elif kind == "ambiguous_email":
            fix = _ties_fix(members, lookups)
        elif kind == "lead":
            fix = _lead_fix(order)
        elif kind == "failed":
            fix = Fix("retry", subject, f"a lookup was refused: {subject}", f"fix it, {REMATCH}")
        else:
            fix = _personal_fix(members, matching.contact_id_property)
        fix.responses = [(r.response.source, r.response.response_id) for r in members]
        fixes.append(fix)
    fixes.sort(key=lambda f: (-len(f.responses), f.kind, f.subject))
    return Review(fixes, lookups.note)


def _group_of(
    row: StoredResponse, aliases: Mapping[str, str], free: frozenset[str]
) -> tuple[str, str]:
    match = row.match or {}
    status = str(match.get("status") or "unmatched")
    email = row.response.email.strip().lower()
    domain = email_domain(email)
    if status == "failed":
        return "failed", str(match.get("detail") or "lookup failed")
    if status == "ambiguous":
        method = str(match.get("method") or "")
        return (
            ("ambiguous_domain", domain)
            if method in ("alias", "domain")
            else (
                "ambiguous_email",
                "",
            )
        )
    if not domain or domain in free:
        return "personal", ""
    if domain in aliases:
        return "alias", domain
    return "domain", domain


def _split_leads(groups: dict[tuple[str, str], list[StoredResponse]], lookups: _Lookups) -> None:
    """Move the respondents who are unconverted Leads into a group of their own."""
    keys = [k for k in groups if k[0] in ("personal", "domain", "alias")]
    emails = sorted({r.response.email.strip().lower() for k in keys for r in groups[k]})
    leads = lookups.leads(emails)
    if not leads:
        return
    for key in keys:
        stay = [r for r in groups[key] if r.response.email.strip().lower() not in leads]
        moved = [r for r in groups[key] if r.response.email.strip().lower() in leads]
        groups.setdefault(("lead", ""), []).extend(moved)
        if stay:
            groups[key] = stay
        else:
            del groups[key]


def _is_id(text: str) -> bool:
    return bool(re.fullmatch(r"001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", text))


def _domain_fix(
    domain: str, on_accounts: Sequence[Account], candidates: Sequence[Account], config: Config
) -> Fix:
    order = tuple(config.salesforce.matching.order)
    hints = tuple(AccountHint.of(a) for a in on_accounts)
    if len(hints) == 1:
        if "domain" not in order:
            problem = (
                f"email domain {domain} is the domain of {hints[0]}, but the `domain` step is "
                "not in salesforce.matching.order"
            )
            advice = f"add `domain` to the order (or an alias for {domain}), {REMATCH}"
            return Fix("order", domain, problem, advice, order_snippet(order, "domain"), hints)
        problem = f"email domain {domain} is on {hints[0]} now (it was not when these were matched)"
        return Fix("rematch", domain, problem, "run `nps-sync unmatched rematch`", "", hints)
    if hints:
        return _choose_fix(domain, "", on_accounts, order)
    closest = tuple(AccountHint.of(a) for a in closest_accounts(domain, candidates))
    field = config.salesforce.fields.account_domain or "Website"
    problem = f"email domain {domain} is on no account"
    if closest:
        others = f" (or {', '.join(map(str, closest[1:]))})" if len(closest) > 1 else ""
        advice = (
            f"closest account: {closest[0]}{others}; if the respondents work there, map the "
            f"domain to it with an alias, {REMATCH}"
        )
        snippet = alias_snippet(domain, closest[0].id, closest[0].name, order)
    else:
        advice = (
            f"no account looks like it; if the respondents work at a customer, map the domain to "
            f"its account with an alias, or put {domain} in that account's {field}; {REMATCH}"
        )
        snippet = alias_snippet(domain, PLACEHOLDER, "", order)
    return Fix("alias", domain, problem, advice, snippet, closest)


def _alias_fix(domain: str, target: str, named: Sequence[Account], order: Sequence[str]) -> Fix:
    if "alias" not in order:
        problem = (
            f"salesforce.matching.account_aliases maps {domain}, but the `alias` step is not in "
            "salesforce.matching.order"
        )
        advice = f"add `alias` to the order, {REMATCH}"
        return Fix("order", domain, problem, advice, order_snippet(order, "alias"))
    what = "Id" if _is_id(target) else "name"
    problem = f"the alias {domain} -> {target} names no account (no account has this {what})"
    closest = tuple(
        AccountHint.of(a)
        for a in sorted(named, key=lambda a: -difflib.SequenceMatcher(None, a.name, target).ratio())
        if difflib.SequenceMatcher(None, _squash(a.name), _squash(target)).ratio() >= 0.5
    )[:MAX_CANDIDATES]
    if closest:
        advice = f"closest account: {closest[0]}; point the alias at its Id, {REMATCH}"
        return Fix(
            "fix_alias", domain, problem, advice,
            alias_snippet(domain, closest[0].id, closest[0].name, order), closest,
        )  # fmt: skip
    advice = f"point the alias at an account Id or the exact account name, {REMATCH}"
    return Fix("fix_alias", domain, problem, advice, alias_snippet(domain, PLACEHOLDER, "", order))


def _choose_fix(domain: str, alias: str, accounts: Sequence[Account], order: Sequence[str]) -> Fix:
    hints = tuple(AccountHint.of(a) for a in accounts)
    shown = ", ".join(f"{h} {h.id}" for h in hints) or "several accounts"
    if alias:
        problem = f"the alias {domain} -> {alias} names {len(hints) or 'several'} accounts: {shown}"
    else:
        problem = f"email domain {domain} is the domain of {len(hints)} accounts: {shown}"
    advice = f"map the domain to the right account's Id with an alias (tried first), {REMATCH}"
    target, comment = (
        (hints[0].id, f"{hints[0].name}, or one of the others")
        if hints
        else (
            PLACEHOLDER,
            "",
        )
    )
    return Fix(
        "choose_account", domain, problem, advice, alias_snippet(domain, target, comment, order),
        hints,
    )  # fmt: skip


def _ties_fix(members: Sequence[StoredResponse], lookups: _Lookups) -> Fix:
    emails = sorted({r.response.email.strip().lower() for r in members})
    owners = lookups.contacts(emails)
    shown = "; ".join(
        f"{email}: {', '.join(owners[email])}" if owners.get(email) else email
        for email in emails[:5]
    ) + (f"; and {len(emails) - 5} more" if len(emails) > 5 else "")
    problem = f"contacts of several accounts share the email ({shown})"
    advice = (
        f"keep each email on one contact in Salesforce, or let the oldest contact win; {REMATCH}"
    )
    return Fix("ties", ", ".join(emails[:5]), problem, advice, _TIES_SNIPPET)


_TIES_SNIPPET = "salesforce:\n  matching:\n    ties: oldest"


def _lead_fix(order: Sequence[str]) -> Fix:
    problem = (
        "these respondents are unconverted Leads, and `lead` is not in salesforce.matching.order"
    )
    advice = f"add `lead` to the order, or convert the Leads; {REMATCH}"
    return Fix("order", "lead", problem, advice, order_snippet(order, "lead"))


def _personal_fix(members: Sequence[StoredResponse], contact_id_property: str) -> Fix:
    domains = sorted({email_domain(r.response.email) or "(no domain)" for r in members})
    shown = ", ".join(domains[:5]) + (", ..." if len(domains) > 5 else "")
    problem = f"personal addresses ({shown}) say nothing about the employer"
    advice = (
        "add each address as the Email of the person's Contact in Salesforce, or have the survey "
        f"send the contact's Id in the `{contact_id_property}` property; {REMATCH}"
    )
    return Fix("personal_address", shown, problem, advice)
