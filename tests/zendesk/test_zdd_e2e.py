"""End to end through the engine: real zenpy, Salesforce and Delighted clients, the emulators.

The engine's own wiring is under test: its Zendesk executor gets the state store (attach to open
tickets, score history) and the ticket settings from the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.world import DEFAULT_RULES, EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.loop.tracking import track_tickets
from sync.stages.executors.zendesk import ticket_fields
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.support import acting_on_the_seeded_year
from tests.zendesk.conftest import FAST_RETRY

EngineFactory = Callable[[], Engine]


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=11, accounts=40, responses=150) as w:
        yield w


@pytest.fixture
def attach_rules() -> Path:
    """The default rules: their detractor tickets attach to an open NPS ticket."""
    assert "    attach_to_open: true\n" in DEFAULT_RULES.read_text(encoding="utf-8")
    return DEFAULT_RULES


@pytest.fixture
def store(world: EmulatedWorld, tmp_path: Path) -> Iterator[StateStore]:
    s = open_store(
        Config.model_validate(
            world.config_data(
                state_url=f"sqlite:///{tmp_path / 'state.db'}",
                routing=acting_on_the_seeded_year(),
            )
        )
    )
    yield s
    s.close()


@pytest.fixture
def make_engine(
    world: EmulatedWorld,
    store: StateStore,
    attach_rules: Path,
) -> EngineFactory:
    config = Config.model_validate(
        world.config_data(
            state_url=store.url, rules=attach_rules, routing=acting_on_the_seeded_year()
        )
    )

    def build() -> Engine:
        return Engine(
            config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY
        )

    return build


def our_tickets(world: EmulatedWorld) -> list[dict[str, Any]]:
    return [t for t in world.zendesk.tickets() if t.get("external_id")]


def score_of(ticket: dict[str, Any], field_id: int) -> object:
    return next(f["value"] for f in ticket["custom_fields"] if f["id"] == field_id)


def test_a_second_response_with_an_open_ticket_adds_a_comment_not_a_ticket(
    world: EmulatedWorld, make_engine: EngineFactory, store: StateStore
) -> None:
    first = make_engine().run_once()
    assert first.errors == []
    tickets = our_tickets(world)
    assert tickets
    score_field = world.zendesk.ticket_field_id("NPS Score")
    ticket = next(t for t in tickets if score_of(t, score_field) != 1)
    requester = next(u for u in world.zendesk.users() if u["id"] == ticket["requester_id"])
    comments_before = len(world.zendesk.comments(ticket["id"]))

    now = datetime.now(UTC) - timedelta(minutes=20)  # past the detractor rules' settle delay
    world.delighted.add_response(
        email=requester["email"],
        score=1,
        comment="Second time I write: still no answer.",
        created_at=now,
        updated_at=now,
    )
    second = make_engine().run_once()

    assert second.errors == []
    assert (second.tickets_created, second.tickets_attached) == (0, 1)
    assert len(our_tickets(world)) == len(tickets)
    comments = world.zendesk.comments(ticket["id"])
    assert len(comments) == comments_before + 1
    added = comments[-1]["body"]
    assert "Second time I write: still no answer." in added
    assert added.rstrip().endswith("]")
    (action,) = [a for a in store.outbox.actions() if marker(a.key) in added]
    assert (action.status, action.external_id) == ("done", str(ticket["id"]))
    # The ticket's score field shows the latest answer, as its comments do.
    (now_shown,) = [t for t in world.zendesk.tickets() if t["id"] == ticket["id"]]
    assert score_of(now_shown, score_field) == 1

    third = make_engine().run_once()
    assert len(world.zendesk.comments(ticket["id"])) == comments_before + 1
    assert third.tickets_created == 0


def test_ticket_bodies_carry_the_customer_context(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    make_engine().run_once()
    bodies = [world.zendesk.comments(t["id"])[0]["body"] for t in our_tickets(world)]
    assert all("-- Customer context (nps-sync) --" in body for body in bodies)
    assert all("Open tickets of the requester:" in body for body in bodies)
    with_history = [b for b in bodies if "Score history: this is the first response" not in b]
    assert with_history  # the seed's people answered before


def test_nps_fields_reach_zendesk_users_and_organizations(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    report = make_engine().run_once()
    assert report.errors == []
    users = [u for u in world.zendesk.users() if u["user_fields"].get("nps_score") is not None]
    assert users
    for user in users:
        fields = user["user_fields"]
        score = fields["nps_score"]
        expected = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        assert fields["nps_category"] == expected
        assert fields["nps_date"]
    orgs = world.zendesk.organizations()
    assert [o for o in orgs if o["organization_fields"].get("nps_account_score") is not None]


def test_solved_tickets_are_tracked(
    world: EmulatedWorld, make_engine: EngineFactory, store: StateStore
) -> None:
    engine = make_engine()
    engine.run_once()
    keys = [t["external_id"] for t in our_tickets(world)]
    assert set(store.tickets.statuses(keys)) == set(keys)  # the pass followed the export
    ticket = our_tickets(world)[0]
    world.zendesk.solve_ticket(ticket["id"])

    stats = track_tickets(store, engine.conn.helpdesk, datetime.now(UTC))

    on_ticket = [a for a in store.outbox.actions() if a.external_id == str(ticket["id"])]
    assert stats.solved == len(on_ticket)  # the ticket and the responses attached to it
    assert stats.tracked == 1  # only the solved ticket changed since the pass
    status = store.tickets.statuses([ticket["external_id"]])[ticket["external_id"]]
    assert (status.status, status.ticket_id) == ("solved", ticket["id"])


def after_a_pass_someone_new(
    world: EmulatedWorld, make_engine: EngineFactory
) -> tuple[str, set[int]]:
    """After a first pass: the email of a contact who has not answered, and our tickets."""
    assert make_engine().run_once().errors == []
    answered = {r.email.lower() for r in world.book.responses}
    contact = next(c for c in world.book.contacts if c.email.lower() not in answered)
    return contact.email, {t["id"] for t in our_tickets(world)}


def test_two_answers_in_one_pass_make_one_ticket_showing_the_later_score(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    email, before = after_a_pass_someone_new(world, make_engine)
    at = datetime.now(UTC) - timedelta(hours=2)
    for score, moment in ((5, at), (2, at + timedelta(hours=1))):
        world.delighted.add_response(
            email=email,
            score=score,
            comment=f"I gave {score}.",
            created_at=moment,
            updated_at=moment,
        )

    assert make_engine().run_once().errors == []

    (ticket,) = [t for t in our_tickets(world) if t["id"] not in before]
    bodies = " ".join(c["body"] for c in world.zendesk.comments(ticket["id"]))
    assert "I gave 5." in bodies
    assert "I gave 2." in bodies
    assert score_of(ticket, world.zendesk.ticket_field_id("NPS Score")) == 2


def test_an_edit_of_either_joined_answer_sets_the_field_only_for_the_later_one(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    email, before = after_a_pass_someone_new(world, make_engine)
    at = datetime.now(UTC) - timedelta(hours=3)
    first, later = (
        world.delighted.add_response(email=email, score=score, created_at=moment, updated_at=moment)
        for score, moment in ((4, at), (1, at + timedelta(hours=1)))
    )
    assert make_engine().run_once().errors == []
    (ticket,) = [t for t in our_tickets(world) if t["id"] not in before]
    field = world.zendesk.ticket_field_id("NPS Score")

    def shown() -> object:
        (now,) = [t for t in world.zendesk.tickets() if t["id"] == ticket["id"]]
        return score_of(now, field)

    assert shown() == 1
    world.delighted.update_response(first, score=8, at=at + timedelta(hours=2))
    assert make_engine().run_once().errors == []
    assert shown() == 1  # the earlier answer's edit is noted, the later score still shown
    world.delighted.update_response(later, score=3, at=at + timedelta(hours=2, minutes=1))
    assert make_engine().run_once().errors == []
    assert shown() == 3


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        (False, {10: 3, 11: "detractor"}),
        (True, {10: 3, 11: "detractor", 12: None}),
    ],
    ids=["a new ticket", "a later answer on a ticket"],
)
def test_a_later_answer_without_a_link_empties_the_earlier_answers_link(
    later: bool, expected: dict[int, object]
) -> None:
    fields = {"score": 3, "category": "detractor", "response_link": None, "account_arr": None}
    ids = {"score": 10, "category": 11, "response_link": 12, "account_arr": 13}
    # The account's ARR unknown is no reason to empty it: only the answer's own fields go.
    assert ticket_fields({"fields": fields}, ids, later=later) == expected


def test_an_earlier_answer_put_on_the_ticket_late_leaves_the_later_score_shown(
    world: EmulatedWorld, make_engine: EngineFactory, store: StateStore
) -> None:
    """An answer routed after a later one of the same customer (read late from the source, or
    kept waiting by retries) still goes on the open ticket, but the ticket's score, category
    and link keep showing the later answer, as a pass that read them in order would."""
    assert make_engine().run_once().errors == []
    score_field = world.zendesk.ticket_field_id("NPS Score")
    ticket = next(t for t in our_tickets(world) if score_of(t, score_field) != 1)
    shown = score_of(ticket, score_field)
    requester = next(u for u in world.zendesk.users() if u["id"] == ticket["requester_id"])
    last = store.tickets.last_told([ticket["id"]])[ticket["id"]]
    (told,) = [a for a in store.outbox.actions() if a.key == last]
    answered = next(r.created_at for r in world.book.responses if r.id == told.response_id)

    world.delighted.add_response(
        email=requester["email"],
        score=1,
        comment="Written before my last answer, sent late.",
        created_at=answered - timedelta(minutes=1),
        updated_at=datetime.now(UTC),
    )
    late = make_engine().run_once()

    assert (late.errors, late.tickets_attached) == ([], 1)
    (now_shown,) = [t for t in world.zendesk.tickets() if t["id"] == ticket["id"]]
    assert "Written before my last answer" in world.zendesk.comments(ticket["id"])[-1]["body"]
    assert score_of(now_shown, score_field) == shown
