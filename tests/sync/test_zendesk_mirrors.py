"""The mirrors of Zendesk's users and unsolved tickets in the state store, on both backends:
what a page of the export adds, changes and removes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from connectors.zendesk.records import ExportedUser, OpenTicket, TicketState
from sync.state import StateStore, TicketStatus
from sync.state import schema as t

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


def dated(
    ticket_id: int,
    status: str,
    created: datetime,
    *,
    solved: datetime | None = None,
    updated: datetime | None = None,
) -> TicketState:
    return TicketState(
        ticket_id,
        status,
        requester_id=1,
        created_at=created,
        updated_at=updated or solved or created,
        solved_at=solved,
        subject=f"Ticket {ticket_id}",
    )


def test_solved_tickets_stay_with_their_dates_for_support_history(store: StateStore) -> None:
    mirror = store.open_tickets
    day = timedelta(days=1)
    mirror.save_page(
        [
            dated(20, "open", NOW - 5 * day),
            dated(21, "solved", NOW - 50 * day, solved=NOW - 40 * day),
            dated(22, "closed", NOW - 60 * day, updated=NOW - 30 * day),  # no metric set
            dated(23, "solved", NOW - 900 * day, solved=NOW - 800 * day),  # past the horizon
            dated(24, "deleted", NOW - 3 * day),
            TicketState(25, "open", requester_id=1, subject="no dates"),
        ],
        "c1",
        NOW,
        caught_up=True,
    )

    spans = mirror.history([1, 2])
    assert spans[2] == []
    assert [(s.created_at, s.solved_at) for s in spans[1]] == [
        (NOW - 60 * day, NOW - 30 * day),
        (NOW - 50 * day, NOW - 40 * day),
        (NOW - 5 * day, None),
    ]
    # The context still lists only what is unsolved now.
    assert mirror.of_requesters([1]) == {
        1: [OpenTicket(20, "Ticket 20"), OpenTicket(25, "no dates")]
    }

    # Solved since: it leaves the context and keeps its dates; once past the horizon it goes.
    mirror.save_page([dated(20, "solved", NOW - 5 * day, solved=NOW)], "c2", NOW, caught_up=True)
    assert mirror.of_requesters([1]) == {1: [OpenTicket(25, "no dates")]}
    assert (NOW - 5 * day, NOW) in [(s.created_at, s.solved_at) for s in mirror.history([1])[1]]
    much_later = NOW + 500 * day
    mirror.save_page([], "c3", much_later, caught_up=True)
    assert mirror.history([1])[1] == []  # only ticket 25 is left, and it has no dates


def test_support_history_can_leave_out_the_nps_tickets_nps_sync_made(store: StateStore) -> None:
    mirror = store.open_tickets
    day = timedelta(days=1)
    mirror.save_page(
        [dated(40, "open", NOW - 9 * day), dated(41, "open", NOW - 2 * day)],
        "c1",
        NOW,
        caught_up=True,
    )
    store.tickets.save_statuses([TicketStatus("k" * 40, 41, "open", None, None, 0)], NOW)

    assert [s.created_at for s in mirror.history([1])[1]] == [NOW - 9 * day, NOW - 2 * day]
    assert [s.created_at for s in mirror.history([1], without_ours=True)[1]] == [NOW - 9 * day]


def test_the_v13_step_adds_the_dates_and_reads_the_ticket_export_again(store: StateStore) -> None:
    store.open_tickets.save_page([ticket(30, 1, "open")], "c1", NOW, caught_up=True)
    with store.transaction() as conn:
        for column in ("solved_at", "created_at"):
            conn.execute(sa.text("DROP INDEX IF EXISTS ix_nps_zendesk_open_tickets_solved_at"))
            conn.execute(sa.text(f"ALTER TABLE nps_zendesk_open_tickets DROP COLUMN {column}"))
        conn.execute(t.schema_version.update().values(version=12))

    assert store.migrate() == t.LATEST_VERSION

    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("nps_zendesk_open_tickets")}
    assert {"created_at", "solved_at"} <= columns
    assert store.open_tickets.cursor() is None  # the export is read from the start again
    assert store.open_tickets.caught_up_at() is None  # and history waits for its end
    assert store.open_tickets.of_requesters([1]) == {1: [OpenTicket(30, "Ticket 30")]}
