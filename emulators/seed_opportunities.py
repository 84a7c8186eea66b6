"""The seed's Salesforce opportunities: each account's renewals and upsells, with outcomes that
depend on what its people answered, so a revenue analysis has a known effect to find.

An account's sentiment is the category of its contacts' average score over the seeded answers
(none: no contact answered). Its renewal of the past year closes won with the chance of
:data:`RENEWAL_WON` for that sentiment, and it has a won upsell with the chance of
:data:`UPSELL_WON`; a renewed account has its next renewal open. With ``effect=False`` every
account has the same chances (:data:`FLAT_RENEWAL_WON`, :data:`FLAT_UPSELL_WON`): there is
nothing to find.

The opportunities are drawn from their own random stream, after everything else, so adding them
changed none of the other seeded records.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Final

from emulators.seed_draw import IdCounter, salesforce_id
from emulators.seed_model import Seed, SeedAccount, SeedOpportunity

#: Chance that an account's renewal closes won, by its sentiment (the planted effect).
RENEWAL_WON: Final = {"promoter": 0.97, "passive": 0.9, "detractor": 0.55, "none": 0.85}
#: Chance that an account has a won upsell in the year, by its sentiment.
UPSELL_WON: Final = {"promoter": 0.5, "passive": 0.25, "detractor": 0.05, "none": 0.2}
FLAT_RENEWAL_WON: Final = 0.85
FLAT_UPSELL_WON: Final = 0.25
#: Stages an open renewal may be in.
OPEN_STAGES: Final = ("Proposal/Price Quote", "Negotiation/Review", "Perception Analysis")


def sentiment(scores: Iterable[int]) -> str:
    """The category of the average score; ``none`` without a score."""
    listed = list(scores)
    if not listed:
        return "none"
    average = sum(listed) / len(listed)
    return "promoter" if average >= 9 else "passive" if average >= 7 else "detractor"


def account_sentiments(seed: Seed) -> dict[str, str]:
    """Each account's sentiment from its contacts' seeded answers."""
    account_of = {c.email.lower(): c.account_id for c in seed.contacts}
    scores: dict[str, list[int]] = defaultdict(list)
    for response in seed.responses:
        account_id = account_of.get(response.email.lower())
        if account_id is not None:
            scores[account_id].append(response.score)
    return {a.id: sentiment(scores.get(a.id, ())) for a in seed.accounts}


def add_opportunities(seed: Seed, *, seed_value: int, end: datetime, effect: bool = True) -> None:
    """Draw every account's renewals and upsells into ``seed.opportunities``."""
    rng = random.Random(f"{seed_value}:opportunities")
    ids = IdCounter(3_000_000, 5)
    moods = account_sentiments(seed)
    for account in seed.accounts:
        renew = RENEWAL_WON[moods[account.id]] if effect else FLAT_RENEWAL_WON
        upsell = UPSELL_WON[moods[account.id]] if effect else FLAT_UPSELL_WON
        seed.opportunities.extend(_of_account(rng, ids, account, end.date(), renew, upsell))


def _of_account(
    rng: random.Random,
    ids: IdCounter,
    account: SeedAccount,
    today: date,
    renew: float,
    upsell: float,
) -> list[SeedOpportunity]:
    """Last year's renewal (closed by ``today``), the next one while the account stays, and
    maybe a won upsell in the year before ``today``."""
    out = []

    def add(kind: str, amount: float, stage: str, close: date) -> None:
        out.append(
            SeedOpportunity(
                id=salesforce_id("006", ids.take(rng)),
                account_id=account.id,
                owner_id=account.owner_id,
                name=f"{account.name} - {kind} {close:%Y}",
                type=kind,
                amount=amount,
                stage=stage,
                close_date=close,
            )
        )

    previous = account.renewal_date - timedelta(days=365)
    renewed = True
    if previous <= today:
        renewed = rng.random() < renew
        add("Renewal", account.arr, "Closed Won" if renewed else "Closed Lost", previous)
    if renewed:
        add("Renewal", account.arr, rng.choice(OPEN_STAGES), account.renewal_date)
    if rng.random() < upsell:
        close = today - timedelta(days=rng.randint(1, 364))
        add("Upsell", round(account.arr * rng.uniform(0.1, 0.4), -2), "Closed Won", close)
    return out
