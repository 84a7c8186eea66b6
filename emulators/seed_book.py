"""The book of business of the seed: Salesforce users, accounts, contacts and leads, and the
Zendesk organizations, people, groups and tickets that mirror them.

:func:`emulators.seed.generate_seed` draws it first; the survey responses
(:mod:`emulators.seed_responses`) are drawn from the same random stream afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Final

from emulators import seed_words as words
from emulators.seed_draw import Draw, IdCounter, ascii_word, email_local_part, salesforce_id
from emulators.seed_model import (
    Seed,
    SeedAccount,
    SeedContact,
    SeedGroup,
    SeedLead,
    SeedOrganization,
    SeedTicket,
    SeedUser,
    SeedZendeskUser,
)

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

AT_RISK_RATE: Final = 0.10
"""Share of accounts whose people answer mostly as detractors."""


@dataclass
class BookBuilder(Draw):
    """Draws the book of business into ``seed``, and keeps what the responses are drawn from:
    the accounts at risk, the addresses taken and the staff named in comments."""

    seed: Seed = field(default_factory=Seed)
    ae_regions: dict[str, str] = field(default_factory=dict)
    at_risk: set[str] = field(default_factory=set)
    used_company_names: set[str] = field(default_factory=set)
    used_domains: set[str] = field(default_factory=set)
    staff_names: set[tuple[str, str]] = field(default_factory=set)
    agent_first_names: list[str] = field(default_factory=list)
    manager_first_names: list[str] = field(default_factory=list)
    sf_numbers: dict[str, IdCounter] = field(default_factory=dict)
    zendesk_orgs: IdCounter = field(default_factory=lambda: IdCounter(9_100_000_000_000, 97))
    zendesk_users: IdCounter = field(default_factory=lambda: IdCounter(9_200_000_000_000, 97))
    zendesk_groups: IdCounter = field(default_factory=lambda: IdCounter(9_300_000_000_000, 97))

    def build(self, accounts: int, contacts_per_account: int) -> Seed:
        self._users()
        self._groups_and_agents()
        for _ in range(accounts):
            account = self._account()
            self._contacts(account, contacts_per_account)
        self._leads(max(3, accounts // 25))
        self._tickets()
        return self.seed

    # -- helpers ----------------------------------------------------------------------------
    def _sf_id(self, prefix: str) -> str:
        counter = self.sf_numbers.setdefault(prefix, IdCounter(3_000_000, 5))
        return salesforce_id(prefix, counter.take(self.rng))

    def _unique_person_name(self, taken: set[tuple[str, str]]) -> tuple[str, str]:
        for _ in range(1000):
            pair = (self.rng.choice(words.FIRST_NAMES), self.rng.choice(words.LAST_NAMES))
            if pair not in taken:
                taken.add(pair)
                return pair
        raise RuntimeError("ran out of distinct names")  # pragma: no cover - 6,800 pairs

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
            domain = f"{ascii_word(base)}.{tld}"
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
        ticket_ids = IdCounter(1001, 3)
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
