"""A synthetic ruleset and responses to measure routing throughput (`python -m bench`).

The ruleset mimics a large real one: most rules test a region or tier first (so they fail fast),
some combine score ranges, regexes on the comment and ``any`` groups, a few ``continue``, and a
catch-all closes the list. Responses are random but seeded, so runs are comparable.
"""

from __future__ import annotations

import random
import time

from rules.loader import parse_rules
from rules.router import Ruleset

_REGIONS = ("emea", "amer", "apac", "latam")
_TIERS = ("Enterprise", "Mid-Market", "SMB", "Startup")
_COMMENTS = (
    "",
    "Great support team, thanks!",
    "The billing page is confusing and we want a refund",
    "Too slow since the last release",
    "Would recommend to a friend",
)


def synthetic_rules(n_rules: int) -> str:
    """A valid rules file with ``n_rules`` rules (the last one a catch-all)."""
    lines = [
        "version: 1",
        "actions:",
        "  followup: {type: salesforce_task, subject: 'NPS {{ response.score }}', due_in: 1d}",
        "rules:",
    ]
    for index in range(n_rules - 1):
        region = _REGIONS[index % len(_REGIONS)]
        tier = _TIERS[(index // len(_REGIONS)) % len(_TIERS)]
        low = index % 7
        extra = (
            "{comment: {regex: 'refund|cancel'}}",
            "{any: [{account.arr: {gte: 50000}}, {support.open_tickets: {gt: 2}}]}",
            "{not: {labels.theme: {in: [pricing, onboarding]}}}",
        )[index % 3]
        lines += [
            f"  - name: rule-{index}",
            f"    when: {{all: [{{account.region: {region}-{index}}}, {{account.tier: {tier}}},",
            f"                  {{score: {{between: [{low}, {low + 3}]}}}}, {extra}]}}",
            "    actions: [followup]",
            f"    continue: {'true' if index % 10 == 0 else 'false'}",
        ]
    lines += ["  - name: catch-all", "    actions: []"]
    return "\n".join(lines) + "\n"


def synthetic_responses(n_responses: int, n_rules: int, seed: int = 7) -> list[dict[str, object]]:
    """Field mappings that hit rules all along the list (and the catch-all)."""
    pick = random.Random(seed)
    responses: list[dict[str, object]] = []
    for _ in range(n_responses):
        index = pick.randrange(n_rules)
        score = pick.randrange(11)
        responses.append(
            {
                "score": score,
                "category": "detractor" if score <= 6 else "passive" if score <= 8 else "promoter",
                "comment": pick.choice(_COMMENTS),
                "account.region": f"{_REGIONS[index % len(_REGIONS)]}-{index}",
                "account.tier": pick.choice(_TIERS),
                "account.arr": pick.choice((None, 12000.0, 80000.0)),
                "support.open_tickets": pick.randrange(5),
                "labels.theme": pick.choice((None, "pricing", "support")),
            }
        )
    return responses


def route_throughput(n_rules: int = 100, n_responses: int = 20_000) -> float:
    """Responses routed per second by one core through ``n_rules`` rules."""
    ruleset: Ruleset = parse_rules(synthetic_rules(n_rules), "<bench>")
    responses = synthetic_responses(n_responses, n_rules)
    route = ruleset.route
    started = time.perf_counter()
    for fields in responses:
        route(fields)
    elapsed = time.perf_counter() - started
    return n_responses / elapsed if elapsed > 0 else float("inf")
