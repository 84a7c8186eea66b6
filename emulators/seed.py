"""Deterministic generator of a believable B2B book of business for the emulators.

``generate_seed(7)`` always returns the same data: every random choice comes from one
``random.Random(seed)`` and the time window is fixed unless given, so tests, the demo and the
benchmark can name records and rely on distributions without a fixture file.
"""

from __future__ import annotations

import math
import random
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from emulators import seed_words as words
from emulators.seed_model import (
    Seed,
    SeedAccount,
    SeedContact,
    SeedGroup,
    SeedLead,
    SeedOrganization,
    SeedSurveyResponse,
    SeedTicket,
    SeedUser,
    SeedZendeskUser,
)

REFERENCE_END: Final = datetime(2026, 11, 1, tzinfo=UTC)
"""End of the default one-year window; fixed so the seed never depends on the clock."""

VENDOR_DOMAIN: Final = "northpeak.io"
"""The (invented) company whose customers the seed describes; its staff use this domain."""

TIERS: Final = ("Enterprise", "Mid-Market", "SMB")
TIER_WEIGHTS: Final = (15, 35, 50)
ARR_RANGES: Final[dict[str, tuple[float, float]]] = {
    "Enterprise": (250_000.0, 2_500_000.0),
    "Mid-Market": (50_000.0, 250_000.0),
    "SMB": (5_000.0, 50_000.0),
}
REGIONS: Final = ("NA", "EMEA", "APAC", "LATAM")
REGION_WEIGHTS: Final = (45, 30, 15, 10)
AE_REGIONS: Final = ("NA", "NA", "NA", "NA", "EMEA", "EMEA", "EMEA", "APAC", "LATAM")

UNKNOWN_RATE: Final = 0.05
MIXED_CASE_RATE: Final = 0.05
AT_RISK_RATE: Final = 0.10
# (detractor, passive, promoter) weights; the mix of both keeps the book near 15/30/55.
AT_RISK_WEIGHTS: Final = (0.45, 0.35, 0.20)
HEALTHY_WEIGHTS: Final = (0.117, 0.294, 0.589)
BASE_WEIGHTS: Final = (0.15, 0.30, 0.55)

_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS: Final = string.ascii_uppercase + "012345"
_T = TypeVar("_T")


def salesforce_id(prefix: str, n: int) -> str:
    """A valid-looking 18-character Salesforce id: key prefix, pod, record number, checksum.

    The last three characters are Salesforce's case-insensitivity checksum of the first 15, so
    ids survive tools that compare them case-insensitively, as real ones do.
    """
    if len(prefix) != 3 or not prefix.isalnum():
        raise ValueError(f"key prefix must be 3 alphanumeric characters, got {prefix!r}")
    if not 0 <= n < 62**9:
        raise ValueError(f"record number out of range: {n}")
    digits = ""
    for _ in range(9):
        n, rest = divmod(n, 62)
        digits = _BASE62[rest] + digits
    return extend_salesforce_id(f"{prefix}5g0{digits}")


def extend_salesforce_id(id15: str) -> str:
    """The 18-character form of a 15-character id: append the case-insensitivity checksum."""
    if len(id15) != 15 or not id15.isalnum():
        raise ValueError(f"expected a 15-character id, got {id15!r}")
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _CHECKSUM_CHARS[bits]
    return id15 + suffix


def email_local_part(first: str, last: str) -> str:
    """``first.last`` folded to ASCII letters and digits (José O'Brien → jose.obrien)."""
    return f"{_ascii_word(first)}.{_ascii_word(last)}"


def mixed_case_email(email: str) -> str:
    """The same address as a person might type it: ``Jane.Doe@Example.COM``."""
    local, _, domain = email.partition("@")
    labels = domain.split(".")
    cased = [labels[0].capitalize(), *(label.upper() for label in labels[1:])]
    return ".".join(part.capitalize() for part in local.split(".")) + "@" + ".".join(cased)


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(char for char in folded.lower() if char.isalnum())


def generate_seed(
    seed: int = 7,
    *,
    accounts: int = 300,
    contacts_per_account: int = 3,
    responses: int = 1500,
    start: datetime | None = None,
    end: datetime | None = None,
    distinct_respondents: bool = False,
    unknown_rate: float = UNKNOWN_RATE,
) -> Seed:
    """A consistent book of business, identical for identical arguments.

    ``contacts_per_account`` is the average (each account gets one more or fewer at random).
    Survey responses fall in ``[start, end)``; by default the year before :data:`REFERENCE_END`.
    ``unknown_rate`` of them come from people not in the CRM; with ``distinct_respondents``
    every other response comes from a different contact (the benchmark's shape).
    """
    window_end = end or REFERENCE_END
    window_start = start or window_end - timedelta(days=365)
    for name, moment in (("start", window_start), ("end", window_end)):
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if window_end - window_start < timedelta(days=1):
        raise ValueError("the window must span at least one day")
    if min(accounts, contacts_per_account, responses) < 0:
        raise ValueError("counts must not be negative")
    builder = _Builder(random.Random(seed), window_start, window_end)
    builder.distinct_respondents = distinct_respondents
    builder.unknown_rate = unknown_rate
    return builder.build(accounts, contacts_per_account, responses)


@dataclass
class _IdCounter:
    """Increasing ids with irregular gaps, as real systems hand them out."""

    next_value: int
    max_gap: int

    def take(self, rng: random.Random) -> int:
        value = self.next_value
        self.next_value += rng.randint(1, self.max_gap)
        return value


@dataclass
class _Person:
    email: str
    name: str
    contact: SeedContact | None = None
    account: SeedAccount | None = None


@dataclass
class _Builder:
    rng: random.Random
    start: datetime
    end: datetime
    seed: Seed = field(default_factory=Seed)
    ae_regions: dict[str, str] = field(default_factory=dict)
    at_risk: set[str] = field(default_factory=set)
    used_company_names: set[str] = field(default_factory=set)
    used_domains: set[str] = field(default_factory=set)
    used_emails: set[str] = field(default_factory=set)
    staff_names: set[tuple[str, str]] = field(default_factory=set)
    agent_first_names: list[str] = field(default_factory=list)
    manager_first_names: list[str] = field(default_factory=list)
    sf_numbers: dict[str, _IdCounter] = field(default_factory=dict)
    zendesk_orgs: _IdCounter = field(default_factory=lambda: _IdCounter(9_100_000_000_000, 97))
    zendesk_users: _IdCounter = field(default_factory=lambda: _IdCounter(9_200_000_000_000, 97))
    zendesk_groups: _IdCounter = field(default_factory=lambda: _IdCounter(9_300_000_000_000, 97))
    distinct_respondents: bool = False
    unknown_rate: float = UNKNOWN_RATE

    def build(self, accounts: int, contacts_per_account: int, responses: int) -> Seed:
        self._users()
        self._groups_and_agents()
        for _ in range(accounts):
            account = self._account()
            self._contacts(account, contacts_per_account)
        self._leads(max(3, accounts // 25))
        self._tickets()
        self._responses(responses)
        return self.seed

    # -- helpers ----------------------------------------------------------------------------
    def _sf_id(self, prefix: str) -> str:
        counter = self.sf_numbers.setdefault(prefix, _IdCounter(3_000_000, 5))
        return salesforce_id(prefix, counter.take(self.rng))

    def _weighted(self, options: Sequence[_T], weights: Sequence[float]) -> _T:
        return self.rng.choices(options, weights=weights)[0]

    def _moment(self, low: datetime, high: datetime) -> datetime:
        """A whole second in ``[low, high)``."""
        span = max(int((high - low).total_seconds()), 1)
        return low + timedelta(seconds=self.rng.randrange(span))

    def _unique_person_name(self, taken: set[tuple[str, str]]) -> tuple[str, str]:
        for _ in range(1000):
            pair = (self.rng.choice(words.FIRST_NAMES), self.rng.choice(words.LAST_NAMES))
            if pair not in taken:
                taken.add(pair)
                return pair
        raise RuntimeError("ran out of distinct names")  # pragma: no cover - 6,800 pairs

    def _claim_email(self, local: str, domain: str) -> str | None:
        email = f"{local}@{domain}"
        if email in self.used_emails:
            return None
        self.used_emails.add(email)
        return email

    # -- Salesforce users and Zendesk staff ------------------------------------------------------
    def _users(self) -> None:
        def user(title: str, manager_id: str | None) -> SeedUser:
            first, last = self._unique_person_name(self.staff_names)
            email = self._claim_email(email_local_part(first, last), VENDOR_DOMAIN)
            assert email is not None  # names are unique, so are their addresses
            return SeedUser(self._sf_id("005"), f"{first} {last}", email, title, manager_id)

        head = user("VP of Sales", None)
        self.seed.users.append(head)
        for index, region in enumerate(AE_REGIONS):
            title = "Senior Account Executive" if index % 3 == 0 else "Account Executive"
            executive = user(title, head.id)
            self.ae_regions[executive.id] = region
            self.seed.users.append(executive)
        for _ in range(2):
            manager = user("Customer Experience Manager", None)
            self.manager_first_names.append(manager.name.split(" ", 1)[0])
            self.seed.users.append(manager)

    def _groups_and_agents(self) -> None:
        for name in ("Support", "Customer Success"):
            self.seed.groups.append(SeedGroup(self.zendesk_groups.take(self.rng), name))
        for manager in self.seed.users:
            if manager.title == "Customer Experience Manager":
                self._agent(manager.name, manager.email)
        for _ in range(4):
            first, last = self._unique_person_name(self.staff_names)
            email = self._claim_email(email_local_part(first, last), VENDOR_DOMAIN)
            assert email is not None  # names are unique, so are their addresses
            self._agent(f"{first} {last}", email)
            self.agent_first_names.append(first)

    def _agent(self, name: str, email: str) -> None:
        user_id = self.zendesk_users.take(self.rng)
        self.seed.zendesk_users.append(SeedZendeskUser(user_id, name, email, None, None, "agent"))

    # -- accounts and their people --------------------------------------------------------------
    def _company(self, region: str, industry: str) -> tuple[str, str]:
        """A unique company name and web domain fitting the region and industry."""
        for attempt in range(200):
            stem = self.rng.choice(words.NAME_STEMS)
            noun = self.rng.choice(words.INDUSTRY_NOUNS[industry])
            if attempt >= 100:  # a crowded book: combine two stems
                stem = f"{stem} {self.rng.choice(words.NAME_STEMS)}"
            base = f"{stem} {noun}"
            tld = self.rng.choice(words.TOP_LEVEL_DOMAINS[region])
            domain = f"{_ascii_word(base)}.{tld}"
            if base in self.used_company_names or domain in self.used_domains:
                continue
            self.used_company_names.add(base)
            self.used_domains.add(domain)
            suffix = self.rng.choice(words.LEGAL_SUFFIXES[region])
            return (f"{base} {suffix}".strip(), domain)
        raise RuntimeError("ran out of distinct company names")  # pragma: no cover

    def _account(self) -> SeedAccount:
        region = self._weighted(REGIONS, REGION_WEIGHTS)
        industry = self.rng.choice(tuple(words.INDUSTRY_NOUNS))
        tier = self._weighted(TIERS, TIER_WEIGHTS)
        name, domain = self._company(region, industry)
        owners = [user_id for user_id, r in self.ae_regions.items() if r == region]
        low, high = ARR_RANGES[tier]
        arr = round(math.exp(self.rng.uniform(math.log(low), math.log(high))), -2)
        today = self.end.date()
        created = today - timedelta(days=self.rng.randint(365, 6 * 365))
        days_to_anniversary = (created - today).days % 365
        renewal = today + timedelta(days=days_to_anniversary + self.rng.randint(1, 30))
        account = SeedAccount(
            id=self._sf_id("001"),
            name=name,
            owner_id=self.rng.choice(owners),
            tier=tier,
            industry=industry,
            region=region,
            arr=arr,
            renewal_date=renewal,
            website=f"https://www.{domain}",
            domain=domain,
            created_date=created,
            zendesk_organization_id=self.zendesk_orgs.take(self.rng),
        )
        self.seed.accounts.append(account)
        self.seed.organizations.append(
            SeedOrganization(account.zendesk_organization_id, name, account.id, (domain,))
        )
        if self.rng.random() < AT_RISK_RATE:
            self.at_risk.add(account.id)
        return account

    def _contacts(self, account: SeedAccount, average: int) -> None:
        count = max(1, average + self.rng.choice((-1, 0, 0, 1))) if average else 0
        taken: set[tuple[str, str]] = set()
        titles = self.rng.sample(words.CONTACT_TITLES, k=min(count, len(words.CONTACT_TITLES)))
        for index in range(count):
            first, last = self._unique_person_name(taken)
            email = self._claim_email(email_local_part(first, last), account.domain)
            if email is None:
                continue
            contact = SeedContact(
                id=self._sf_id("003"),
                account_id=account.id,
                owner_id=account.owner_id,
                first_name=first,
                last_name=last,
                email=email,
                title=titles[index % len(titles)],
                zendesk_user_id=self.zendesk_users.take(self.rng),
            )
            self.seed.contacts.append(contact)
            self.seed.zendesk_users.append(
                SeedZendeskUser(
                    contact.zendesk_user_id,
                    f"{first} {last}",
                    email,
                    account.zendesk_organization_id,
                    contact.id,
                )
            )

    def _leads(self, count: int) -> None:
        executives = list(self.ae_regions)
        taken: set[tuple[str, str]] = set()
        for _ in range(count):
            region = self._weighted(REGIONS, REGION_WEIGHTS)
            company, domain = self._company(region, self.rng.choice(tuple(words.INDUSTRY_NOUNS)))
            first, last = self._unique_person_name(taken)
            email = self._claim_email(email_local_part(first, last), domain)
            assert email is not None  # the domain is new
            self.seed.leads.append(
                SeedLead(
                    self._sf_id("00Q"), self.rng.choice(executives), first, last, email, company
                )
            )

    # -- Zendesk tickets ------------------------------------------------------------------------
    def _tickets(self) -> None:
        people_by_org: dict[int, list[SeedZendeskUser]] = {}
        for person in self.seed.zendesk_users:
            if person.organization_id is not None:
                people_by_org.setdefault(person.organization_id, []).append(person)
        drafts: list[SeedTicket] = []
        for org in self.seed.organizations:
            people = people_by_org.get(org.id)
            if not people:
                continue
            for _ in range(self._weighted((0, 1, 2, 3, 5), (35, 30, 20, 10, 5))):
                drafts.append(self._ticket(self.rng.choice(people), org.id))
        drafts.sort(key=lambda ticket: ticket.created_at)
        ticket_ids = _IdCounter(1001, 3)
        self.seed.tickets.extend(replace(draft, id=ticket_ids.take(self.rng)) for draft in drafts)

    def _ticket(self, requester: SeedZendeskUser, organization_id: int) -> SeedTicket:
        subject, tags = self.rng.choice(words.TICKET_SUBJECTS)
        created = self._moment(self.start, self.end - timedelta(hours=1))
        age = self.end - created
        if age > timedelta(days=30):
            status = self._weighted(("closed", "solved", "pending", "open"), (60, 30, 5, 5))
        else:
            status = self._weighted(("new", "open", "pending", "solved"), (20, 40, 20, 20))
        updated = self._moment(created, min(created + timedelta(days=10), self.end))
        first_name = requester.name.split(" ", 1)[0]
        description = f"Hi team,\n\n{subject}. Could you take a look?\n\nThanks,\n{first_name}"
        priority = self._weighted(("low", "normal", "high", "urgent"), (20, 55, 20, 5))
        return SeedTicket(
            id=0,  # numbered once all tickets are sorted by creation
            requester_id=requester.id,
            organization_id=organization_id,
            subject=subject,
            description=description,
            status=status,
            priority=priority,
            tags=tags,
            created_at=created,
            updated_at=updated,
        )

    # -- survey responses -----------------------------------------------------------------------
    def _responses(self, total: int) -> None:
        contacts = self.seed.contacts
        unknown_count = round(total * self.unknown_rate) if contacts else total
        accounts = {account.id: account for account in self.seed.accounts}
        picks: dict[str, list[SeedContact]] = {}
        if self.distinct_respondents:
            if total - unknown_count > len(contacts):
                raise ValueError(
                    f"{total - unknown_count} distinct respondents need as many contacts, "
                    f"there are {len(contacts)}"
                )
            for contact in self.rng.sample(contacts, k=total - unknown_count):
                picks[contact.id] = [contact]
        for _ in range(0 if self.distinct_respondents else total - unknown_count):
            contact = self.rng.choice(contacts)
            picks.setdefault(contact.id, []).append(contact)
        drafts: list[tuple[datetime, _Person]] = []
        latest = self.end - timedelta(hours=2)
        for chosen in picks.values():
            # Repeat respondents answer in different parts of the year, not twice in a week.
            slot = (latest - self.start) / len(chosen)
            for index, contact in enumerate(chosen):
                low = self.start + slot * index
                person = _Person(
                    contact.email,
                    f"{contact.first_name} {contact.last_name}",
                    contact,
                    accounts[contact.account_id],
                )
                drafts.append((self._moment(low, low + slot), person))
        for _ in range(unknown_count):
            drafts.append((self._moment(self.start, latest), self._unknown_person()))
        drafts.sort(key=lambda draft: (draft[0], draft[1].email))
        known_indexes = [i for i, (_, person) in enumerate(drafts) if person.contact is not None]
        mixed = set(self.rng.sample(known_indexes, k=round(len(known_indexes) * MIXED_CASE_RATE)))
        response_ids = _IdCounter(180_000_000, 40)
        person_ids: dict[str, str] = {}
        person_counter = _IdCounter(52_000_000, 30)
        for index, (created, person) in enumerate(drafts):
            email = mixed_case_email(person.email) if index in mixed else person.email
            person_id = person_ids.setdefault(person.email, str(person_counter.take(self.rng)))
            self.seed.responses.append(
                self._response(str(response_ids.take(self.rng)), person_id, email, person, created)
            )

    def _unknown_person(self) -> _Person:
        """Someone not in the CRM: a new colleague at a customer, or a personal address."""
        for _ in range(1000):
            first, last = (self.rng.choice(words.FIRST_NAMES), self.rng.choice(words.LAST_NAMES))
            if self.seed.accounts and self.rng.random() < 1 / 3:
                domain = self.rng.choice(self.seed.accounts).domain
            else:
                domain = self.rng.choice(words.PERSONAL_EMAIL_DOMAINS)
            local = email_local_part(first, last)
            if domain in words.PERSONAL_EMAIL_DOMAINS:
                local += str(self.rng.randint(1, 99))
            email = self._claim_email(local, domain)
            if email is not None:
                name = f"{first} {last}" if self.rng.random() < 0.8 else ""
                return _Person(email, name)
        raise RuntimeError("ran out of distinct unknown addresses")  # pragma: no cover

    def _response(
        self, response_id: str, person_id: str, email: str, person: _Person, created: datetime
    ) -> SeedSurveyResponse:
        account = person.account
        if account is None:
            weights = BASE_WEIGHTS
        else:
            weights = AT_RISK_WEIGHTS if account.id in self.at_risk else HEALTHY_WEIGHTS
        category = self._weighted(("detractor", "passive", "promoter"), weights)
        score = self._score(category)
        comment = self._comment(category, account)
        updated = created
        if comment and self.rng.random() < 0.3:  # the comment arrived after the score
            updated = created + timedelta(minutes=self.rng.randint(2, 90))
        properties: dict[str, str] = {}
        tags: tuple[str, ...] = ()
        if person.contact is not None and account is not None:
            roll = self.rng.random()
            if roll < 0.6:
                properties = {"plan": account.tier, "Salesforce Contact Id": person.contact.id}
            elif roll < 0.8:
                properties = {"plan": account.tier}
            if account.tier == "Enterprise" and self.rng.random() < 0.2:
                tags = ("strategic",)
        return SeedSurveyResponse(
            id=response_id,
            person_id=person_id,
            email=email,
            name=person.name,
            score=score,
            comment=comment,
            created_at=created,
            updated_at=updated,
            properties=properties,
            tags=tags,
        )

    def _score(self, category: str) -> int:
        if category == "detractor":
            return self._weighted(range(7), (1, 1, 2, 3, 4, 7, 9))
        if category == "passive":
            return self._weighted((7, 8), (5, 6))
        return self._weighted((9, 10), (5, 6))

    def _comment(self, category: str, account: SeedAccount | None) -> str | None:
        empty_rate = {"promoter": 0.35, "passive": 0.25, "detractor": 0.1}[category]
        if self.rng.random() < empty_rate:
            return None
        local = words.LOCAL_LANGUAGE_COMMENTS.get(account.region if account else "")
        if local and self.rng.random() < 0.15:
            return self.rng.choice(local[category])
        themes = words.COMMENTS[category]
        sentences = [self._fill(self.rng.choice(themes[self.rng.choice(tuple(themes))]), account)]
        roll = self.rng.random()
        if roll < 0.15:
            sentences.append(self._fill(self.rng.choice(themes["general"]), account))
        elif roll < 0.45:
            sentences.append(self.rng.choice(words.FOLLOW_UPS[category]))
        separator = "\n\n" if self.rng.random() < 0.1 else " "
        return separator.join(dict.fromkeys(sentences))

    def _fill(self, template: str, account: SeedAccount | None) -> str:
        industry = account.industry.lower() if account else "software"
        text = template.format(
            feature=self.rng.choice(words.FEATURES),
            missing=self.rng.choice(words.MISSING_FEATURES),
            agent=self.rng.choice(self.agent_first_names),
            csm=self.rng.choice(self.manager_first_names),
            weeks=self.rng.randint(2, 12),
            month=self.rng.choice(words.MONTHS),
            industry=industry,
        )
        return text[0].upper() + text[1:]
