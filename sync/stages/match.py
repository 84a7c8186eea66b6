"""Match stage: find each response's Salesforce contact and account, and its Zendesk user.

A ladder of steps, tried in the configured order (``salesforce.matching.order``); each response
descends only as far as it needs and every match records the step that made it:

- ``crm_id``: Salesforce ids the survey carried as person properties (``Salesforce Contact Id``,
  ``Salesforce Account Id``; names configurable). Malformed or unknown ids fall through, and so
  does an id naming another customer than the respondent's email does (a survey link's ids can
  be edited by whoever answers).
- ``email``: contacts whose email equals the respondent's, case-insensitively.
- ``lead``: unconverted Leads by email (only when listed); a Lead stands in for the contact.
- ``alias``: the email domain is an alias in the config, naming an account by Id or exact Name.
- ``domain``: accounts whose domain field (or Website) holds the email domain; free-mail domains
  (:data:`FREE_MAIL_DOMAINS` plus the config's) never match.

Contact steps fill the contact (and its account); account steps fill only the account, so a
response from a new colleague at a known customer still lands on the customer. Once an account is
known, contact candidates are limited to it.

The tie rule, when several contacts share an email: contacts with an account are preferred; if
they all belong to one account the oldest (lowest Salesforce Id) wins; if they span accounts the
response is *ambiguous* and goes to the review list (``nps-sync unmatched``) instead of a guess,
unless ``ties: oldest`` asks to pick the oldest anyway. Several accounts for one domain or alias
name are ambiguous too; several Leads pick the oldest.

Lookups are batched over the whole set of responses: the first query asks for contacts by id
*or* email together (one SOQL per 200 values), the account steps share one query for aliases and
domains, and a step only asks for what earlier queries did not already answer. A
:class:`LookupCache` shared by the calls of one pass remembers every answer, so the engine
matches a large window of the backlog at once and no value is asked for twice in a pass. The
Zendesk user comes from one request per 100 contact ids (users mirror the contact id as
``external_id``); respondents it does not find are searched by email later, and only when an
action or a write-back needs their user (:mod:`sync.stages.match_users`).

Each lookup goes one query's worth of values at a time (200 values; 100 ids a Zendesk request),
each part retried on its own (:mod:`sync.stages.lookup_parts`): under a steady fault rate a
lookup of thousands of values is answered part by part instead of needing every query of it to
succeed in a row. A part that still fails leaves its values unanswered: each response that
needed one is matched as ``unanswered`` and is not routed, to be matched again later, while the
rest are matched as usual. Only a system that answered no part of the pass's lookups raises.

A lookup the system refuses for one of its values (a 400, not a transient error) is narrowed
down to that value (:mod:`sync.stages.isolate`); each response that needed it is matched as
``failed`` with the reason, is not routed, and shows on the review list, while the rest of the
batch is matched as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connectors.errors import RetryableError
from connectors.models import Account, Contact, SurveyResponse, ZendeskUser
from connectors.salesforce.records import (
    ACCOUNT_PREFIX,
    CONTACT_PREFIX,
    AccountLookup,
    ContactLookup,
    record_key,
)
from sync.core.config import SalesforceConfig
from sync.core.ports import MatchingCrm, MatchingHelpdesk
from sync.core.retry import RetryPolicy
from sync.stages.lookup_parts import PartedLookups
from sync.stages.match_record import Match

log = logging.getLogger(__name__)

#: A value a lookup asks for: what it is (``contact email``, ``domain``, ...) and the value.
Lookup = tuple[str, str]

#: Values per Salesforce lookup: what one query's ``IN`` list takes.
VALUES_PER_QUERY = 200
#: Zendesk users per request of a lookup by external id (``users?external_ids=``).
ZENDESK_IDS_PER_REQUEST = 100

#: Personal mailbox providers: an address there says nothing about the employer.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
        "orange.fr",
        "free.fr",
        "libero.it",
        "t-online.de",
        "btinternet.com",
        "comcast.net",
    ]
)

CONTACT_STEPS = frozenset({"crm_id", "email", "lead"})
ACCOUNT_STEPS = frozenset({"crm_id", "alias", "domain"})


@dataclass(frozen=True, slots=True)
class MatchOptions:
    """The ladder's configuration (see :class:`sync.core.config.SalesforceMatching`)."""

    order: tuple[str, ...] = ("crm_id", "email", "alias", "domain")
    contact_id_property: str = "Salesforce Contact Id"
    account_id_property: str = "Salesforce Account Id"
    ties: str = "same_account"
    free_mail_domains: frozenset[str] = FREE_MAIL_DOMAINS
    account_aliases: Mapping[str, str] = field(default_factory=dict)
    #: The connector reads lookups of more values than this by Bulk query jobs (0: never).
    query_bulk_threshold: int = 0

    @classmethod
    def from_config(cls, config: SalesforceConfig) -> MatchOptions:
        m = config.matching
        return cls(
            order=tuple(m.order),
            contact_id_property=m.contact_id_property,
            account_id_property=m.account_id_property,
            ties=m.ties,
            free_mail_domains=FREE_MAIL_DOMAINS | {d.strip().lower() for d in m.free_mail_domains},
            account_aliases={k.strip().lower(): v.strip() for k, v in m.account_aliases.items()},
            query_bulk_threshold=config.api.query_bulk_threshold,
        )


def pick_contact(candidates: Sequence[Contact]) -> Contact:
    """The oldest contact with an account, else the oldest (lowest Id)."""
    with_account = [c for c in candidates if c.account is not None]
    return min(with_account or candidates, key=lambda c: c.id)


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


@dataclass
class _Progress:
    """One response on its way down the ladder."""

    response: SurveyResponse
    contact: Contact | None = None
    account: Account | None = None
    method: str = ""
    account_method: str = ""
    ambiguous: str = ""  # the step that found several equally good answers
    candidates: int = 0
    #: Contacts sharing the email across accounts; an account found later may settle it.
    undecided: list[Contact] = field(default_factory=list)
    account_undecided: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.response.email.strip().lower()

    def wants(self, step: str) -> bool:
        if step in CONTACT_STEPS and self.contact is None and not self.undecided:
            return True
        return step in ACCOUNT_STEPS and self.account is None and not self.account_undecided

    def found_contact(self, contact: Contact, step: str, candidates: int = 1) -> None:
        self.contact, self.method, self.candidates = contact, step, candidates
        if self.account is None and contact.account is not None:
            self.account, self.account_method = contact.account, step

    def found_account(self, account: Account, step: str) -> None:
        self.account, self.account_method = account, step
        settled = [
            c for c in self.undecided if c.account is not None and c.account.id == account.id
        ]
        if settled:
            self.found_contact(pick_contact(settled), "email", len(self.undecided))
            self.notes.append(f"the {step} match chose among the contacts sharing this email")
        self.undecided = []

    def result(self, user: ZendeskUser | None, failure: str = "", unanswered: str = "") -> Match:
        if unanswered:
            # A lookup it needed got no answer: matched again later, not on what is known now.
            return Match(status="unanswered", method="none", detail=f"no answer: {unanswered}")
        if failure:
            # A lookup it needed was refused: nothing it found is trusted, nothing is routed.
            return Match(status="failed", method="none", detail=f"lookup failed: {failure}")
        if self.contact is None and self.account is None:
            status = "ambiguous" if self.ambiguous else "unmatched"
            method = self.ambiguous or "none"
            account_method = ""
        else:
            status = "matched"
            method = self.method or self.account_method
            account_method = self.account_method if self.account_method != method else ""
        return Match(
            status=status,
            method=method,
            contact=self.contact,
            account=self.account,
            zendesk_user=user,
            candidates=self.candidates,
            account_method=account_method,
            detail="; ".join(self.notes),
        )


def _property(response: SurveyResponse, name: str) -> str:
    """A person property by name, ignoring case and surrounding blanks."""
    wanted = name.strip().lower()
    for key, value in response.properties.items():
        if key.strip().lower() == wanted:
            return str(value).strip()
    return ""


@dataclass
class LookupCache:
    """Every answer the lookups of one pass got, so no value is asked for twice in it.

    Bounded by the distinct values a pass meets (emails, domains, ids), not by its responses.
    """

    contacts: ContactLookup = field(default_factory=ContactLookup)
    accounts: AccountLookup = field(default_factory=AccountLookup)
    fetched_ids: set[str] = field(default_factory=set)
    fetched_emails: set[str] = field(default_factory=set)
    fetched_account_ids: set[str] = field(default_factory=set)
    fetched_names: set[str] = field(default_factory=set)
    fetched_domains: set[str] = field(default_factory=set)
    #: Salesforce values refused on their own or unanswered for now, with why
    #: (:mod:`sync.stages.lookup_parts`); an unanswered value is not fetched: it is asked again.
    crm_lookups: PartedLookups[Lookup] = field(default_factory=PartedLookups)
    #: Zendesk users by (lower-case) external id, i.e. the Salesforce contact id they mirror.
    zendesk_users: dict[str, ZendeskUser] = field(default_factory=dict)
    fetched_external_ids: set[str] = field(default_factory=set)
    zendesk_lookups: PartedLookups[Lookup] = field(default_factory=PartedLookups)


class _Ladder:
    """Runs the steps over a set of responses, caching every lookup's answer."""

    def __init__(
        self, crm: MatchingCrm, retry: RetryPolicy, options: MatchOptions, cache: LookupCache
    ) -> None:
        self.crm = crm
        self.retry = retry
        self.options = options
        self.contacts = cache.contacts
        self.accounts = cache.accounts
        self.fetched_ids = cache.fetched_ids
        self.fetched_emails = cache.fetched_emails
        self.fetched_account_ids = cache.fetched_account_ids
        self.fetched_names = cache.fetched_names
        self.fetched_domains = cache.fetched_domains
        self.lookups = cache.crm_lookups

    def look_up(self, wanted: Sequence[Lookup], lookup: Callable[[Sequence[Lookup]], None]) -> None:
        """Run ``lookup`` one query's worth of values at a time, each part retried on its own;
        a lookup the connector reads by Bulk jobs (more values than its threshold) goes whole."""
        bulk = self.options.query_bulk_threshold
        size = len(wanted) if bulk and len(wanted) > bulk else VALUES_PER_QUERY
        self.lookups.look_up(wanted, lookup, size=size)

    def answered(self, kind: str, values: Iterable[str]) -> list[str]:
        """Those of ``values`` (of ``kind``) that did not go unanswered."""
        unanswered = self.lookups.unanswered
        return [v for v in values if (kind, v) not in unanswered]

    # -- cached lookups ------------------------------------------------------------------------
    def fetch_contacts(self, ids: Iterable[str], emails: Iterable[str]) -> None:
        new_ids = sorted(set(ids) - self.fetched_ids - self.contacts.by_id.keys())
        new_emails = sorted(set(emails) - self.fetched_emails)
        if not new_ids and not new_emails:
            return

        def lookup(part: Sequence[Lookup]) -> None:
            part_ids = [v for k, v in part if k == "contact id"]
            part_emails = [v for k, v in part if k == "contact email"]
            found = self.retry.call(
                lambda: self.crm.find_contacts(ids=part_ids, emails=part_emails)
            )
            self.contacts.by_id.update(found.by_id)
            self.contacts.by_email.update(found.by_email)

        wanted = [("contact id", i) for i in new_ids] + [("contact email", e) for e in new_emails]
        self.look_up(wanted, lookup)
        self.fetched_ids.update(self.answered("contact id", new_ids))
        self.fetched_emails.update(self.answered("contact email", new_emails))

    def fetch_accounts(
        self, ids: Iterable[str] = (), names: Iterable[str] = (), domains: Iterable[str] = ()
    ) -> None:
        new_ids = sorted(set(ids) - self.fetched_account_ids)
        new_names = sorted({n.lower() for n in names} - self.fetched_names)
        new_domains = sorted(set(domains) - self.fetched_domains)
        if not new_ids and not new_names and not new_domains:
            return

        def lookup(part: Sequence[Lookup]) -> None:
            found = self.retry.call(
                lambda: self.crm.find_accounts_by(
                    ids=[v for k, v in part if k == "account id"],
                    names=[v for k, v in part if k == "account name"],
                    domains=[v for k, v in part if k == "domain"],
                )
            )
            self.accounts.by_id.update(found.by_id)
            self.accounts.by_name.update(found.by_name)
            self.accounts.by_domain.update(found.by_domain)

        wanted = [
            *(("account id", v) for v in new_ids),
            *(("account name", v) for v in new_names),
            *(("domain", v) for v in new_domains),
        ]
        self.look_up(wanted, lookup)
        self.fetched_account_ids.update(self.answered("account id", new_ids))
        self.fetched_names.update(self.answered("account name", new_names))
        self.fetched_domains.update(self.answered("domain", new_domains))

    # -- helpers -------------------------------------------------------------------------------
    def contact_key(self, p: _Progress) -> str | None:
        return record_key(_property(p.response, self.options.contact_id_property), CONTACT_PREFIX)

    def account_key(self, p: _Progress) -> str | None:
        return record_key(_property(p.response, self.options.account_id_property), ACCOUNT_PREFIX)

    def company_domain(self, p: _Progress) -> str:
        """The respondent's email domain, unless it is a free-mail one."""
        domain = email_domain(p.email)
        return "" if not domain or domain in self.options.free_mail_domains else domain

    def alias_target(self, p: _Progress) -> str:
        domain = email_domain(p.email)
        return self.options.account_aliases.get(domain, "") if domain else ""

    def prefetch(self, progress: Sequence[_Progress]) -> None:
        """One round of contact queries for the common case: ids where given, else emails.

        An id whose response's email is asked for anyway (another response of that person came
        without the id) waits: the contact usually comes back with its email, and only an id
        that did not is asked for by :meth:`crm_id`.
        """
        order = self.options.order
        use_ids = "crm_id" in order
        use_emails = "email" in order
        with_ids: list[tuple[str, str]] = []
        emails: set[str] = set()
        for p in progress:
            key = self.contact_key(p) if use_ids else None
            if key:
                with_ids.append((key, p.email))
            elif use_emails and p.email:
                emails.add(p.email)
        self.fetch_contacts([key for key, email in with_ids if email not in emails], emails)

    def needed(self, p: _Progress) -> list[Lookup]:
        """The values the ladder may have asked for on behalf of this response."""
        target = self.alias_target(p)
        target_id = record_key(target, ACCOUNT_PREFIX) if target else None
        keys: list[Lookup] = [
            ("contact email", p.email),
            ("lead email", p.email),
            ("domain", self.company_domain(p)),
            ("contact id", self.contact_key(p) or ""),
            ("account id", self.account_key(p) or ""),
            ("account id", target_id or ""),
            ("account name", target.lower() if target and not target_id else ""),
        ]
        return [(kind, value) for kind, value in keys if value]

    def failure(self, p: _Progress) -> str:
        """Why a lookup this response needed was refused ("" when none was)."""
        refused = self.lookups.refused
        if not refused:
            return ""
        reasons = [
            f"{kind} {value}: {refused[(kind, value)]}"
            for kind, value in self.needed(p)
            if (kind, value) in refused
        ]
        return "; ".join(dict.fromkeys(reasons))

    def unanswered(self, p: _Progress) -> RetryableError | None:
        """The error of a lookup this response needed that got no answer yet (None: none)."""
        unanswered = self.lookups.unanswered
        if not unanswered:
            return None
        return next((unanswered[key] for key in self.needed(p) if key in unanswered), None)

    # -- steps ---------------------------------------------------------------------------------
    def crm_id(self, progress: Sequence[_Progress]) -> None:
        with_contact_id = [
            (p, k) for p in progress if p.contact is None for k in [self.contact_key(p)] if k
        ]
        self.fetch_contacts([k for _, k in with_contact_id], [])
        named = {k: self.contacts.by_id.get(k) for _, k in with_contact_id}
        self.fetch_contacts([], [p.email for p, k in with_contact_id if _other_email(p, named[k])])
        for p, key in with_contact_id:
            contact = named[key]
            if contact is None:
                p.notes.append(f"{self.options.contact_id_property} {key} not found")
            elif self._other_customers(p, contact):
                p.notes.append(
                    f"{self.options.contact_id_property} {key} names a contact of another "
                    "account than this email's: not used"
                )
            elif not self._fits_account(p, contact):
                p.notes.append(f"contact {contact.id} belongs to another account")
            else:
                p.found_contact(contact, "crm_id")
        with_account_id = [
            (p, k) for p in progress if p.account is None for k in [self.account_key(p)] if k
        ]
        self.fetch_accounts(ids=[k for _, k in with_account_id])
        for p, key in with_account_id:
            account = self.accounts.by_id.get(key)
            if account is not None:
                p.found_account(account, "crm_id")
            else:
                p.notes.append(f"{self.options.account_id_property} {key} not found")

    def email(self, progress: Sequence[_Progress]) -> None:
        self.fetch_contacts([], [p.email for p in progress if p.email])
        for p in progress:
            found = self.contacts.by_email.get(p.email, [])
            candidates = [c for c in found if self._fits_account(p, c)]
            if found and not candidates and p.account_method == "crm_id":
                # The account came from an id the survey carried, which whoever answers can
                # edit; the respondent's own contact says otherwise, and it wins.
                p.notes.append(
                    f"{self.options.account_id_property} {p.account.id if p.account else ''} "
                    "is not the account of this email's contacts: not used"
                )
                p.account, p.account_method = None, ""
                candidates = list(found)
            elif found and not candidates:
                p.notes.append("this email belongs to contacts of another account")
            if candidates:
                self._choose_contact(p, candidates)

    def lead(self, progress: Sequence[_Progress]) -> None:
        emails = sorted({p.email for p in progress if p.email})
        leads: dict[str, list[Contact]] = {}

        def lookup(part: Sequence[Lookup]) -> None:
            found = self.retry.call(lambda: self.crm.find_leads_by_email([v for _, v in part]))
            leads.update(found)

        self.look_up([("lead email", e) for e in emails], lookup)
        for p in progress:
            found = leads.get(p.email)
            if found:
                p.found_contact(min(found, key=lambda c: c.id), "lead", len(found))

    def alias(self, progress: Sequence[_Progress]) -> None:
        self._prefetch_accounts(progress)
        for p in progress:
            target = self.alias_target(p)
            if not target:
                continue
            key = record_key(target, ACCOUNT_PREFIX)
            found = [self.accounts.by_id[key]] if key and key in self.accounts.by_id else []
            found = found or self.accounts.by_name.get(target.lower(), [])
            self._choose_account(p, found, "alias", f"alias {email_domain(p.email)} -> {target}")

    def domain(self, progress: Sequence[_Progress]) -> None:
        self._prefetch_accounts(progress)
        for p in progress:
            domain = self.company_domain(p)
            if domain:
                found = self.accounts.by_domain.get(domain, [])
                self._choose_account(p, found, "domain", f"domain {domain}")

    # -- shared rules --------------------------------------------------------------------------
    def _prefetch_accounts(self, progress: Sequence[_Progress]) -> None:
        """Alias targets and domains of every response still without an account, together."""
        targets = [self.alias_target(p) for p in progress] if "alias" in self.options.order else []
        ids = [k for t in targets if (k := record_key(t, ACCOUNT_PREFIX))]
        names = [t for t in targets if t and not record_key(t, ACCOUNT_PREFIX)]
        domains = (
            [d for p in progress if (d := self.company_domain(p))]
            if "domain" in self.options.order
            else []
        )
        self.fetch_accounts(ids=ids, names=names, domains=domains)

    def _other_customers(self, p: _Progress, contact: Contact) -> bool:
        """Whether a contact named by the survey's id belongs to another account than every
        contact of the respondent's email.

        The id rides in the survey link, which whoever answers can edit. A contact with another
        email in the same account is taken (an address changed, a colleague answered); one of
        another customer is not, when the respondent's own email says who they are: their
        answer must not land on another account's record, owner and NPS."""
        if not _other_email(p, contact):
            return False
        own = self.contacts.by_email.get(p.email, [])
        account = contact.account.id if contact.account else None
        return bool(own) and all((c.account.id if c.account else None) != account for c in own)

    @staticmethod
    def _fits_account(p: _Progress, contact: Contact) -> bool:
        """Once the account is known, only its contacts qualify."""
        if p.account is None:
            return True
        return contact.account is not None and contact.account.id == p.account.id

    def _choose_contact(self, p: _Progress, candidates: Sequence[Contact]) -> None:
        if len(candidates) == 1:
            p.found_contact(candidates[0], "email")
            return
        with_account = [c for c in candidates if c.account is not None] or list(candidates)
        accounts = {c.account.id for c in with_account if c.account is not None}
        if len(accounts) <= 1 or self.options.ties == "oldest":
            p.found_contact(pick_contact(candidates), "email", len(candidates))
            p.notes.append(f"{len(candidates)} contacts share this email; the oldest was taken")
            return
        p.ambiguous, p.candidates, p.undecided = "email", len(candidates), list(candidates)
        p.notes.append(f"{len(candidates)} contacts share this email in {len(accounts)} accounts")

    @staticmethod
    def _choose_account(p: _Progress, found: Sequence[Account], step: str, what: str) -> None:
        if len(found) == 1:
            p.found_account(found[0], step)
        elif len(found) > 1:
            p.account_undecided = True
            if p.contact is None and not p.ambiguous:
                p.ambiguous, p.candidates = step, len(found)
            p.notes.append(f"{what} names {len(found)} accounts")
        elif step == "alias":
            p.notes.append(f"{what}: no such account")


def _other_email(p: _Progress, contact: Contact | None) -> bool:
    """Whether the contact a survey's id names has another email than the respondent."""
    return bool(contact and p.email and contact.email and contact.email.lower() != p.email)


def match_responses(
    responses: Sequence[SurveyResponse],
    crm: MatchingCrm,
    helpdesk: MatchingHelpdesk | None,
    retry: RetryPolicy,
    options: MatchOptions | None = None,
    cache: LookupCache | None = None,
    *,
    wait_unanswered: bool = False,
) -> dict[tuple[str, str], Match]:
    """A :class:`Match` for every response, keyed by (source, response id).

    ``cache`` carries the answers of earlier calls in the same pass (each value is asked for
    once); without it, each call starts afresh. The Zendesk user is the one mirroring the matched
    contact; others are looked up on demand (:mod:`sync.stages.match_users`).

    A response that needed a value whose lookup failed for now (its part ran out of retries
    while other parts were answered) is matched ``unanswered`` with ``wait_unanswered``, for the
    caller to match again later; without, that lookup's error is raised.
    """
    options = options or MatchOptions()
    cache = cache if cache is not None else LookupCache()
    ladder = _Ladder(crm, retry, options, cache)
    progress = [_Progress(r) for r in responses]
    if progress:
        ladder.prefetch(progress)
    steps: dict[str, Callable[[Sequence[_Progress]], None]] = {
        "crm_id": ladder.crm_id,
        "email": ladder.email,
        "lead": ladder.lead,
        "alias": ladder.alias,
        "domain": ladder.domain,
    }
    for step in options.order:
        waiting = [p for p in progress if p.wants(step)]
        if waiting:
            steps[step](waiting)
    users = _zendesk_users(progress, helpdesk, retry, cache)
    refused = cache.zendesk_lookups.refused
    matches: dict[tuple[str, str], Match] = {}
    for p in progress:
        contact_id = p.contact.id if p.contact is not None else ""
        lookup = ("zendesk external id", contact_id)
        zendesk = [f"{lookup[0]} {contact_id}: {refused[lookup]}"] if lookup in refused else []
        failure = "; ".join(filter(None, [ladder.failure(p), *zendesk]))
        unanswered = ladder.unanswered(p) or cache.zendesk_lookups.unanswered.get(lookup)
        if unanswered is not None and not wait_unanswered:
            raise unanswered
        if failure and unanswered is None:
            log.warning(
                "response %s/%s not matched: lookup failed: %s",
                p.response.source,
                p.response.response_id,
                failure,
                extra={"source": p.response.source, "response_id": p.response.response_id},
            )
        matches[(p.response.source, p.response.response_id)] = p.result(
            users.get(p.email), failure, str(unanswered or "")
        )
    return matches


def _zendesk_users(
    progress: Sequence[_Progress],
    helpdesk: MatchingHelpdesk | None,
    retry: RetryPolicy,
    cache: LookupCache,
) -> dict[str, ZendeskUser]:
    """Zendesk users by email, through the matched contact's id (100 ids a request, each
    retried on its own); the lookups Zendesk refused or left unanswered are recorded in the
    cache, with why."""
    if helpdesk is None:
        return {}
    chosen = {p.email: p.contact for p in progress if p.contact is not None and p.email}

    def by_external_id(part: Sequence[Lookup]) -> None:
        ids = [v for _, v in part]
        found = retry.call(lambda: helpdesk.find_users_by_external_id(ids))
        cache.zendesk_users.update(found)

    new = sorted({c.id for c in chosen.values()} - cache.fetched_external_ids)
    lookups = cache.zendesk_lookups
    lookups.look_up(
        [("zendesk external id", i) for i in new], by_external_id, size=ZENDESK_IDS_PER_REQUEST
    )
    cache.fetched_external_ids.update(
        i for i in new if ("zendesk external id", i) not in lookups.unanswered
    )
    users: dict[str, ZendeskUser] = {}
    for email, contact in chosen.items():
        user = cache.zendesk_users.get(contact.id.lower())
        if user is not None:
            users[email] = user
    return users
