"""Zendesk users found in the mirror of the incremental user export
(``zendesk.matching.user_lookup: export``, the default): respondents unknown to Zendesk cost no
request each, and what changes in Zendesk reaches the mirror on the next pass.

The real zenpy client talks to the Zendesk emulator over loopback sockets.
"""

from __future__ import annotations

import math
from pathlib import Path

from emulators.base import Fault
from emulators.world import EmulatedWorld
from tests.routing.conftest import EngineFactory, write_rules
from tests.routing.test_rt_lookups import ACTING, answer, rules, searches, zendesk_with
from tests.routing.test_rt_skips import create_zendesk_user


def exports(world: EmulatedWorld) -> int:
    return world.zendesk.calls["incremental_users"]


def test_unknown_respondents_cost_one_export_page_not_a_search_each(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    strangers = [f"stranger{n}@unknown-customer.example" for n in range(30)]
    for email in strangers:  # detractors whose ticket needs their Zendesk user
        answer(world, email, 2)

    report = make_engine(routing=ACTING).run_once()

    assert report.routed == len(strangers)
    assert report.skipped == {"no_requester": len(strangers)}
    assert not report.errors
    assert searches(world) == 0
    assert exports(world) + searches(world) <= math.ceil(len(strangers) / 1000) + 1


def test_a_user_added_in_zendesk_is_found_by_the_next_pass_from_one_more_page(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    stranger = "sam@unknown-customer.example"
    answer(world, stranger, 2)
    first = make_engine(routing=ACTING).run_once()
    assert first.skipped == {"no_requester": 1}
    pages = exports(world)

    user_id = create_zendesk_user(world, stranger, "Sam Stranger")
    answer(world, stranger, 1)
    second = make_engine(routing=ACTING).run_once()

    assert second.tickets_created == 1, second.errors
    assert exports(world) == pages + 1  # read on from the stored cursor: the new user only
    assert searches(world) == 0
    ticket = next(t for t in world.zendesk.tickets() if t.get("external_id"))
    assert ticket["requester_id"] == user_id


def test_matched_contacts_find_their_zendesk_user_in_the_mirror(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    contacts = [c for c in world.book.contacts if c.zendesk_user_id][:5]
    for contact in contacts:
        answer(world, contact.email, 1)

    report = make_engine(routing=ACTING).run_once()

    assert report.tickets_created == len(contacts), report.errors
    assert searches(world) == 0
    mirrored = {t["requester_id"] for t in world.zendesk.tickets() if t.get("external_id")}
    assert mirrored == {c.zendesk_user_id for c in contacts}


def test_without_the_export_respondents_are_searched(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    world.zendesk.inject(Fault("403", count=1, endpoint="^incremental_users$"))
    answer(world, "stranger@unknown-customer.example", 2)

    report = make_engine(routing=ACTING).run_once()

    assert report.skipped == {"no_requester": 1}
    assert not report.errors  # an account without admin rights still syncs
    assert searches(world) == 1


def test_a_mirror_that_did_not_reach_the_end_recently_is_not_trusted(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    answer(world, "stranger@unknown-customer.example", 2)
    make_engine(routing=ACTING).run_once()
    assert searches(world) == 0

    world.zendesk.inject(Fault("503", rate=1.0, endpoint="^incremental_users$"))
    answer(world, "other@unknown-customer.example", 2)
    stale = zendesk_with(world, user_mirror_max_age_minutes=0.0001)
    report = make_engine(routing=ACTING, zendesk=stale).run_once()

    assert report.skipped == {"no_requester": 1}
    assert searches(world) == 1  # the export failed and the mirror is too old: searched


def test_exports_told_to_wait_are_not_asked_again_before_then(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    answer(world, "stranger@unknown-customer.example", 2)
    world.zendesk.inject(Fault("429", count=1, endpoint="^incremental_users$", retry_after=120))

    first = make_engine(routing=ACTING).run_once()
    answer(world, "other@unknown-customer.example", 2)
    second = make_engine(routing=ACTING).run_once()

    assert (first.skipped, second.skipped) == ({"no_requester": 1}, {"no_requester": 1})
    assert exports(world) == 1  # the 429 itself; the next pass waits as it was told
    assert world.zendesk.calls["incremental_tickets"] == 0  # nor does the ticket export ask
    assert searches(world) == 2  # meanwhile respondents are searched
