"""Ticket status tracking from the incremental export: solved and reopened, per action."""

from __future__ import annotations

from dataclasses import replace

from connectors.models import TicketSpec
from connectors.zendesk.client import ZendeskConnector
from connectors.zendesk.records import ExportPage
from emulators.zendesk import ZendeskEmulator
from sync.loop.tracking import CURSOR_SOURCE, track_tickets
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.state import StateStore, schema
from tests.zendesk.conftest import ANA, BEN, FAST_RETRY, Outbox, ticket_payload


def run_executor(desk: ZendeskConnector, store: StateStore, outbox: Outbox) -> dict[str, int]:
    executor = ZendeskTicketExecutor(
        desk, FAST_RETRY, store=store, settings=TicketSettings(), clock=lambda: outbox.now
    )
    return {o.key: int(o.external_id) for o in outbox.run(executor)}


def test_nothing_is_read_before_the_first_ticket_action(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    emulator.reset_counters()
    stats = track_tickets(store, desk, outbox.now)
    assert stats.caught_up
    assert stats.pages == 0
    assert emulator.total_calls() == 0
    assert store.cursors.get(CURSOR_SOURCE) is None


def test_solved_and_reopened_tickets_are_recorded_per_action(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    ana_key = outbox.add(ANA, ticket_payload(ANA, attach=True))
    ben_key = outbox.add(BEN, ticket_payload(BEN))
    tickets = run_executor(desk, store, outbox)
    joined_key = outbox.add(ANA, ticket_payload(ANA, attach=True))  # a comment on Ana's ticket
    run_executor(desk, store, outbox)
    desk.create_tickets([TicketSpec("not-ours", "Other", "Body", requester_id=BEN.user_id)])
    emulator.solve_ticket(tickets[ana_key])

    first = track_tickets(store, desk, outbox.now)

    ledger = store.tickets
    statuses = ledger.statuses()
    assert set(statuses) == {ana_key, ben_key, joined_key}
    assert statuses[ana_key].status == statuses[joined_key].status == "solved"
    assert statuses[ana_key].ticket_id == statuses[joined_key].ticket_id == tickets[ana_key]
    assert statuses[ana_key].solved_at is not None
    assert statuses[ben_key].status == "new"
    assert (first.solved, first.reopened, first.caught_up) == (2, 0, True)
    cursor = store.cursors.get(CURSOR_SOURCE)
    assert cursor

    quiet = track_tickets(store, desk, outbox.now)
    assert (quiet.tracked, quiet.solved) == (0, 0)
    assert ledger.statuses() == statuses

    emulator.reopen_ticket(tickets[ana_key])
    emulator.close_ticket(tickets[ben_key])
    later = track_tickets(store, desk, outbox.now)

    statuses = ledger.statuses()
    assert (later.reopened, later.solved) == (2, 1)  # Ana's ticket holds two actions
    assert statuses[ana_key].status == "open"
    assert statuses[ana_key].solved_at is None
    assert statuses[ana_key].reopened == 1
    assert statuses[ben_key].status == "closed"
    assert store.cursors.get(CURSOR_SOURCE) != cursor


def test_reading_a_page_again_changes_nothing(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    key = outbox.add(ANA, ticket_payload(ANA))
    tickets = run_executor(desk, store, outbox)
    emulator.solve_ticket(tickets[key])
    track_tickets(store, desk, outbox.now)
    before = store.tickets.statuses()

    # A crash after Zendesk answered but before the cursor was stored: the page comes again.
    with store.transaction() as conn:
        conn.execute(schema.cursors.delete())
    again = track_tickets(store, desk, outbox.now)

    assert again.solved == 0
    assert store.tickets.statuses() == before


def test_a_long_export_is_read_a_few_pages_per_pass(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    outbox.add(ANA, ticket_payload(ANA))
    run_executor(desk, store, outbox)
    pages = [0]

    class EndlessExport:
        """Every page claims there is more to come."""

        def export_tickets(
            self, *, cursor: str | None = None, start_time: int | None = None, metrics: bool = False
        ) -> ExportPage:
            pages[0] += 1
            page = desk.export_tickets(cursor=cursor, start_time=start_time, metrics=metrics)
            return replace(page, end_of_stream=False)

    stats = track_tickets(store, EndlessExport(), outbox.now, max_pages=3)
    assert (stats.pages, stats.caught_up, pages[0]) == (3, False, 3)
