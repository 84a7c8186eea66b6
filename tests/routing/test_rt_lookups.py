"""Lookups a pass makes, counted by the emulators: each value asked for once, and a Zendesk
user looked up by email only when an action needs it (here by search, as
``zendesk.matching.user_lookup: search`` does; the mirror of the user export is in
test_rt_user_mirror.py).

The real simple-salesforce and zenpy clients talk to the emulators over loopback sockets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.zendesk.client import ZendeskConnector
from emulators.world import EmulatedWorld
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.stages.match_users import UserFinder
from tests.routing.conftest import FAST_RETRY, EngineFactory, write_rules

DETRACTOR_TICKETS = """
version: 1
actions:
  detractor_ticket:
    type: zendesk_ticket
    subject: "NPS {{ response.score }}"
    body: "{{ response.comment }}"
    tags: [nps]
    create_requester: CREATE
    expect_skip: SKIPS
  thank_you:
    type: salesforce_task
    owner: account_owner
    subject: "Thank {{ response.person_email }}"
    description: "Score {{ response.score }}"
    due_in: 5d
rules:
  - name: detractors
    when: {category: detractor}
    actions: [detractor_ticket]
  - name: promoters
    when: {category: promoter}
    actions: [thank_you]
"""

ACTING = {"act_on_responses_newer_than": "45d"}


def rules(create_requester: bool) -> str:
    text = DETRACTOR_TICKETS.replace("CREATE", "true" if create_requester else "false")
    return text.replace("SKIPS", "[]" if create_requester else "[no_requester]")


def answer(world: EmulatedWorld, email: str, score: int) -> str:
    return world.delighted.add_response(
        email=email, score=score, comment="Why", created_at=datetime.now(UTC) - timedelta(hours=1)
    )


def searches(world: EmulatedWorld) -> int:
    return world.zendesk.calls["users_search"]


def test_respondents_unknown_to_zendesk_are_not_searched_when_nothing_needs_them(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    known = world.book.contacts[0]
    answer(world, known.email, 10)
    for n in range(5):  # promoters and passives nobody knows: no action needs their user
        answer(world, f"stranger{n}@unknown-customer.example", 10 if n % 2 else 8)

    report = make_engine(routing=ACTING, zendesk=zendesk_with(world, lookup="search")).run_once()

    assert report.routed == 6
    assert not report.errors
    assert searches(world) == 0
    assert world.zendesk.calls["users_show_many"] >= 1  # the known one, by contact id


def test_a_ticket_for_an_unknown_respondent_gets_a_new_requester(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=True))
    stranger = "stranger@unknown-customer.example"
    answer(world, stranger, 2)

    engine = make_engine(routing=ACTING, zendesk=zendesk_with(world, lookup="search"))
    report = engine.run_once()

    assert report.tickets_created == 1
    assert not report.errors
    assert searches(world) == 1  # the ticket needed a requester: searched once, not found
    user = next(u for u in world.zendesk.users() if u["email"] == stranger)
    ticket = next(t for t in world.zendesk.tickets() if t.get("external_id"))
    assert ticket["requester_id"] == user["id"]
    # The miss is forgotten once the user exists: the next need searches (and finds) them.
    assert (
        engine.store.user_misses.recent([stranger], datetime.now(UTC) - timedelta(days=1)) == set()
    )


def test_a_remembered_miss_is_not_searched_again_by_the_next_pass(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    stranger = "stranger@unknown-customer.example"
    answer(world, stranger, 3)
    answer(world, stranger, 4)  # twice in one pass: searched once

    searching = zendesk_with(world, lookup="search")
    first = make_engine(routing=ACTING, zendesk=searching).run_once()
    assert first.skipped == {"no_requester": 2}
    assert searches(world) == 1

    answer(world, stranger, 1)
    second = make_engine(routing=ACTING, zendesk=searching).run_once()
    assert second.routed == 1
    assert second.skipped == {"no_requester": 1}
    assert searches(world) == 1  # "no such user" was remembered

    answer(world, stranger, 0)
    forgetful = make_engine(
        routing=ACTING, zendesk=zendesk_with(world, lookup="search", remember_days=0)
    )
    forgetful.run_once()
    assert searches(world) == 2  # with nothing remembered, every pass asks


def zendesk_with(
    world: EmulatedWorld, *, lookup: str = "export", remember_days: float = 7, **matching: object
) -> dict[str, object]:
    """The world's ``zendesk`` section with these ``matching`` settings."""
    section = dict(world.config_data(state_url="sqlite://")["zendesk"])
    settings = dict(section.get("matching") or {})
    settings.update(matching, user_lookup=lookup, remember_unknown_users_days=remember_days)
    section["matching"] = settings
    return section


def test_a_remembered_miss_expires(world: EmulatedWorld, tmp_path: Path) -> None:
    config = Config.model_validate(world.config_data(state_url=f"sqlite:///{tmp_path / 's.db'}"))
    store = open_store(config)
    helpdesk = connect_all(config).helpdesk
    assert isinstance(helpdesk, ZendeskConnector)
    stranger = "stranger@unknown-customer.example"
    t0 = datetime.now(UTC)

    def one_pass(at: datetime) -> int:
        before = searches(world)
        finder = UserFinder(helpdesk, FAST_RETRY, store.user_misses, timedelta(days=7))
        assert finder.find([stranger], at) == {}
        return searches(world) - before

    try:
        assert one_pass(t0) == 1
        assert one_pass(t0 + timedelta(days=6)) == 0
        assert one_pass(t0 + timedelta(days=8)) == 1  # expired: asked again
        assert one_pass(t0 + timedelta(days=9)) == 0  # and remembered from then on
    finally:
        store.close()


def test_salesforce_lookups_are_not_repeated_across_routing_batches(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    write_rules(rules_path, rules(create_requester=False))
    contacts = world.book.contacts[:6]
    for contact in contacts:
        answer(world, contact.email, 9)
        answer(world, contact.email, 10)
    answer(world, "someone@unknown-customer.example", 9)
    answer(world, "someone@unknown-customer.example", 10)

    # 14 responses in routing batches of 2: the lookups are still planned once for the pass.
    report = make_engine(routing=ACTING, batch_size=2).run_once()

    assert report.routed == 14
    assert not report.errors
    queries = world.salesforce.calls["query"] + world.salesforce.calls["query_more"]
    # contacts by email, accounts by domain, the Task owners' users: one query each at most
    assert queries <= 3, world.salesforce.calls
    assert world.zendesk.calls["users_show_many"] <= 2, world.zendesk.calls


def test_a_settling_detractor_is_searched_when_it_is_routed_not_before(
    world: EmulatedWorld, make_engine: EngineFactory, rules_path: Path
) -> None:
    text = rules(create_requester=False).replace(
        "actions: [detractor_ticket]", "actions: [detractor_ticket]\n    settle: 15m"
    )
    write_rules(rules_path, text)
    world.delighted.add_response(
        email="stranger@unknown-customer.example",
        score=2,
        comment="Why",
        created_at=datetime.now(UTC) - timedelta(minutes=1),
    )

    report = make_engine(routing=ACTING, zendesk=zendesk_with(world, lookup="search")).run_once()

    assert report.routed == 0  # waiting for the comment that often follows the score
    assert searches(world) == 0
