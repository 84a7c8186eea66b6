"""Deterministic generator of a believable B2B book of business for the emulators.

``generate_seed(7)`` always returns the same data: every random choice comes from one
``random.Random(seed)`` and the time window is fixed unless given, so tests, the demo and the
benchmark can name records and rely on distributions without a fixture file. The book of
business is drawn by :mod:`emulators.seed_book`, then the survey responses by
:mod:`emulators.seed_responses`, from that one stream.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Final

from emulators.seed_book import BookBuilder
from emulators.seed_draw import (
    email_local_part,
    extend_salesforce_id,
    mixed_case_email,
    salesforce_id,
)
from emulators.seed_model import Seed
from emulators.seed_opportunities import add_opportunities
from emulators.seed_responses import UNKNOWN_RATE, ResponseBuilder

__all__ = [
    "REFERENCE_END",
    "email_local_part",
    "extend_salesforce_id",
    "generate_seed",
    "mixed_case_email",
    "salesforce_id",
]

REFERENCE_END: Final = datetime(2026, 11, 1, tzinfo=UTC)
"""End of the default one-year window; fixed so the seed never depends on the clock."""


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
    opportunity_effect: bool = True,
) -> Seed:
    """A consistent book of business, identical for identical arguments.

    ``contacts_per_account`` is the average (each account gets one more or fewer at random).
    Survey responses fall in ``[start, end)``; by default the year before :data:`REFERENCE_END`.
    ``unknown_rate`` of them come from people not in the CRM; with ``distinct_respondents``
    every other response comes from a different contact (the benchmark's shape).
    Opportunities' outcomes depend on the account's answers unless ``opportunity_effect`` is
    false (:mod:`emulators.seed_opportunities`).
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
    book = BookBuilder(random.Random(seed), window_start, window_end)
    book.build(accounts, contacts_per_account)
    ResponseBuilder(
        book.rng,
        window_start,
        window_end,
        used_emails=book.used_emails,
        seed=book.seed,
        at_risk=book.at_risk,
        agent_first_names=book.agent_first_names,
        manager_first_names=book.manager_first_names,
        distinct_respondents=distinct_respondents,
        unknown_rate=unknown_rate,
    ).build(responses)
    add_opportunities(book.seed, seed_value=seed, end=window_end, effect=opportunity_effect)
    return book.seed
