"""A transactional survey's response noted on the ticket it names, through the real client."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.models import TicketSpec
from connectors.zendesk.client import ZendeskConnector
from emulators.zendesk import ZendeskEmulator
from sync.stages.executors.zendesk import TicketSettings, ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import ANA, BEN, CAL, FAST_RETRY, Outbox, Person, ticket_payload


def executor(desk: ZendeskConnector, store: StateStore, outbox: Outbox) -> ZendeskTicketExecutor:
    # Public comments on: the note on a named ticket stays internal all the same.
    settings = TicketSettings(public_comments=True)
    return ZendeskTicketExecutor(
        desk, FAST_RETRY, store=store, settings=settings, clock=lambda: outbox.now
    )


def support_ticket(desk: ZendeskConnector) -> int:
    """The support ticket the transactional survey was sent about."""
    spec = TicketSpec("support-1", "Cannot export", "Export fails", requester_id=ANA.user_id)
    (made,) = desk.create_tickets([spec])
    return int(made.external_id)


def named(
    ticket: object,
    *,
    reopen: bool = False,
    if_missing: str = "new_ticket",
    person: Person = ANA,
) -> Any:
    return {
        **ticket_payload(person, attach=True, comment="Took a week."),
        "named_ticket": str(ticket),
        "named_ticket_property": "Zendesk Ticket Id",
        "reopen_named": reopen,
        "if_named_missing": if_missing,
    }


@pytest.mark.parametrize(("reopen", "status"), [(True, "open"), (False, "solved")])
def test_the_response_is_an_internal_note_on_its_ticket_and_reopens_it_by_rule(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    reopen: bool,
    status: str,
) -> None:
    ticket_id = support_ticket(desk)
    emulator.solve_ticket(ticket_id)
    key = outbox.add(ANA, named(ticket_id, reopen=reopen))

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert (outcome.result, outcome.external_id, outcome.attached) == ("done", str(ticket_id), True)
    assert len(emulator.tickets()) == 1
    note = emulator.comments(ticket_id)[-1]
    assert marker(key) in note["body"]
    assert "Took a week." in note["body"]
    assert note["public"] is False
    assert emulator.ticket(ticket_id)["status"] == status


def test_a_note_is_not_added_twice_after_a_crash(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    ticket_id = support_ticket(desk)
    emulator.solve_ticket(ticket_id)
    key = outbox.add(ANA, named(ticket_id, reopen=True))
    run = executor(desk, store, outbox)
    run.execute(outbox.claim())  # notes and reopens, then the worker dies before recording

    outbox.pass_lease()
    (outcome,) = outbox.run(run)

    assert (outcome.result, outcome.external_id) == ("done", str(ticket_id))
    notes = [c for c in emulator.comments(ticket_id) if marker(key) in c["body"]]
    assert len(notes) == 1
    assert len(emulator.tickets()) == 1


@pytest.mark.parametrize(
    ("given", "why"),
    [("abc", "which is not a ticket id"), ("987654", "which does not exist"), ("", "")],
)
def test_a_bad_ticket_id_falls_back_to_a_new_ticket(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    given: str,
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Whatever level an earlier command in this process left the root logger at.
    caplog.set_level(logging.WARNING, logger="sync.stages.executors.zendesk")
    ticket_id = support_ticket(desk)
    payload = named(given) if given else ticket_payload(ANA, attach=True)
    key = outbox.add(ANA, payload)

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert outcome.result == "done"
    assert outcome.external_id != str(ticket_id)
    assert [t["external_id"] for t in emulator.tickets()] == ["support-1", key]
    if why:
        assert f"response delighted:r1 names Zendesk ticket {given!r}" in caplog.text
        assert why in caplog.text


def test_a_closed_ticket_is_skipped_by_configuration_with_the_response_named(
    emulator: ZendeskEmulator, desk: ZendeskConnector, store: StateStore, outbox: Outbox
) -> None:
    ticket_id = support_ticket(desk)
    emulator.close_ticket(ticket_id)
    outbox.add(ANA, named(ticket_id, reopen=True, if_missing="skip"))

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert outcome.result == "dead"
    assert outcome.error == (
        f"response delighted:r1 names Zendesk ticket '{ticket_id}', which is closed; no ticket made"
    )
    assert len(emulator.tickets()) == 1


@pytest.mark.parametrize("if_missing", ["new_ticket", "skip"])
def test_another_customers_ticket_is_never_noted_or_reopened(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    if_missing: str,
) -> None:
    """The id comes from a survey link the respondent can edit: Cal (another organization)
    naming Ana's solved ticket leaves it as it was."""
    ticket_id = support_ticket(desk)
    emulator.solve_ticket(ticket_id)
    key = outbox.add(CAL, named(ticket_id, reopen=True, if_missing=if_missing, person=CAL))

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert emulator.ticket(ticket_id)["status"] == "solved"
    assert not [c for c in emulator.comments(ticket_id) if marker(key) in c["body"]]
    why = f"names Zendesk ticket '{ticket_id}', which another customer requested"
    if if_missing == "skip":
        assert outcome.result == "dead"
        assert why in (outcome.error or "")
    else:
        assert outcome.result == "done"
        assert outcome.external_id != str(ticket_id)


@pytest.mark.parametrize(
    "respondent",
    [
        pytest.param({}, id="a colleague in the same organization"),
        pytest.param(
            {"requester_id": None, "organization_id": None, "email": "ana@acme.example"},
            id="the requester, known by email only",
        ),
    ],
)
def test_the_respondents_own_or_organizations_ticket_takes_the_note(
    emulator: ZendeskEmulator,
    desk: ZendeskConnector,
    store: StateStore,
    outbox: Outbox,
    respondent: dict[str, Any],
) -> None:
    ticket_id = support_ticket(desk)
    key = outbox.add(BEN, {**named(ticket_id, person=BEN), **respondent})

    (outcome,) = outbox.run(executor(desk, store, outbox))

    assert (outcome.result, outcome.external_id) == ("done", str(ticket_id))
    assert [c for c in emulator.comments(ticket_id) if marker(key) in c["body"]]
