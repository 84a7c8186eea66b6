"""The survey responses of the seed: who answers, when, with which score and comment.

Accounts at risk answer mostly as detractors; repeat respondents answer in different parts of
the year; a few responses come from people not in the CRM, and some addresses are typed in mixed
case. Drawn after the book of business (:mod:`emulators.seed_book`), from the same random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from emulators import seed_words as words
from emulators.seed_draw import Draw, IdCounter, email_local_part, mixed_case_email
from emulators.seed_model import Seed, SeedAccount, SeedContact, SeedSurveyResponse

UNKNOWN_RATE: Final = 0.05
MIXED_CASE_RATE: Final = 0.05
# (detractor, passive, promoter) weights; with AT_RISK_RATE of accounts at risk, the mix keeps
# the book near 15/30/55.
AT_RISK_WEIGHTS: Final = (0.45, 0.35, 0.20)
HEALTHY_WEIGHTS: Final = (0.117, 0.294, 0.589)
BASE_WEIGHTS: Final = (0.15, 0.30, 0.55)


@dataclass
class _Person:
    email: str
    name: str
    contact: SeedContact | None = None
    account: SeedAccount | None = None


@dataclass
class ResponseBuilder(Draw):
    """Draws the responses into ``seed``, whose book of business is complete."""

    seed: Seed = field(default_factory=Seed)
    at_risk: set[str] = field(default_factory=set)
    agent_first_names: list[str] = field(default_factory=list)
    manager_first_names: list[str] = field(default_factory=list)
    distinct_respondents: bool = False
    unknown_rate: float = UNKNOWN_RATE

    def build(self, total: int) -> None:
        """Add ``total`` responses to the seed, in order of submission."""
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
        response_ids = IdCounter(180_000_000, 40)
        person_ids: dict[str, str] = {}
        person_counter = IdCounter(52_000_000, 30)
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
