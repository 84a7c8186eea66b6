"""The mirrors of Zendesk's users and unsolved tickets in the state store, on both backends:
what a page of the export adds, changes and removes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.zendesk.records import ExportedUser, OpenTicket, TicketState
from sync.state import StateStore

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def user(user_id: int, email: str, *, external_id: str = "", active: bool = True) -> ExportedUser:
    return ExportedUser(user_id, email, external_id, None, f"User {user_id}", active)


def test_a_user_page_adds_changes_and_removes_users(store: StateStore) -> None:
    mirror = store.zendesk_users
    mirror.save_page(
        [user(1, "ana@x.test", external_id="003a"), user(2, "ben@x.test")],
        "c1",
        NOW,
        caught_up=False,
    )
    assert mirror.caught_up_at() is None  # a partial mirror is not trusted yet

    later = NOW + timedelta(minutes=1)
    mirror.save_page(
        [user(1, "ana@y.test", external_id="003A"), user(2, "", active=False)],
        "c2",
        later,
        caught_up=True,
    )

    assert mirror.cursor() == "c2"
    assert mirror.caught_up_at() == later
    assert set(mirror.by_emails(["ANA@Y.test", "ana@x.test", "ben@x.test"])) == {"ana@y.test"}
    assert mirror.by_external_ids(["003a"])["003a"].id == 1


def ticket(ticket_id: int, requester_id: int, status: str) -> TicketState:
    return TicketState(ticket_id, status, requester_id=requester_id, subject=f"Ticket {ticket_id}")


def test_only_unsolved_tickets_stay_in_the_mirror(store: StateStore) -> None:
    mirror = store.open_tickets
    mirror.save_page(
        [ticket(10, 1, "open"), ticket(11, 1, "pending"), ticket(12, 2, "solved")],
        "c1",
        NOW,
        caught_up=True,
    )
    mirror.save_page([ticket(10, 1, "solved"), ticket(12, 2, "open")], "c2", NOW, caught_up=True)

    assert mirror.of_requesters([1, 2, 3]) == {
        1: [OpenTicket(11, "Ticket 11")],
        2: [OpenTicket(12, "Ticket 12")],
        3: [],
    }
    assert mirror.cursor() == "c2"
