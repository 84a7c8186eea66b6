"""A transactional survey's answer lands on the ticket it names, through a whole pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.models import TicketSpec
from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
actions:
  survey_note:
    type: zendesk_ticket
    subject: "NPS {{ response.score }} after a ticket"
    body: "{{ response.comment }}"
    create_requester: true
    named_ticket: {reopen: true}
rules:
  - name: detractors
    when: {score: {lte: 6}}
    actions: [survey_note]
  - name: rest
    actions: []
"""


def test_a_detractor_answer_reopens_the_ticket_it_names_with_an_internal_note(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = make_engine(rules=rules)
    assert engine.run_once().errors == []
    user = world.book.zendesk_users[0]
    (made,) = engine.conn.helpdesk.create_tickets(
        [TicketSpec("support-7", "Export fails", "It fails", requester_id=user.id)]
    )
    ticket_id = int(made.external_id)
    world.zendesk.solve_ticket(ticket_id)
    named = world.delighted.add_response(
        email=user.email,
        score=2,
        comment="Took a week.",
        properties={"Zendesk Ticket Id": str(ticket_id)},
    )
    gone = world.delighted.add_response(
        email=user.email,
        score=3,
        comment="Still slow.",
        properties={"Zendesk Ticket Id": "999999999"},
    )
    tickets_before = len(world.zendesk.tickets())

    assert make_engine(rules=rules).run_once().errors == []

    ticket = world.zendesk.ticket(ticket_id)
    assert ticket["status"] == "open"
    notes = [c for c in world.zendesk.comments(ticket_id) if "Took a week." in c["body"]]
    assert len(notes) == 1
    assert notes[0]["public"] is False
    by_response = {
        a.response_id: a for a in engine.store.outbox.actions() if a.kind == "zendesk_ticket"
    }
    assert by_response[named].external_id == str(ticket_id)
    # the ticket that does not exist: a ticket of its own instead
    assert by_response[gone].status == "done"
    assert by_response[gone].external_id != str(ticket_id)
    assert len(world.zendesk.tickets()) == tickets_before + 1

    assert make_engine(rules=rules).run_once().errors == []  # nothing twice
    assert len([c for c in world.zendesk.comments(ticket_id) if "Took a week." in c["body"]]) == 1


def test_the_default_rules_note_a_detractor_answer_on_the_support_ticket_it_names(
    world: EmulatedWorld, make_engine: EngineFactory
) -> None:
    default_rules = Path(__file__).parents[2] / "rules" / "examples" / "default.yaml"
    engine = make_engine(rules=default_rules)
    assert engine.run_once().errors == []
    user = world.book.zendesk_users[1]
    (made,) = engine.conn.helpdesk.create_tickets(
        [TicketSpec("support-8", "Invoices wrong", "Wrong again", requester_id=user.id)]
    )
    ticket_id = int(made.external_id)
    world.zendesk.solve_ticket(ticket_id)
    world.delighted.add_response(
        email=user.email,
        score=1,
        comment="Fixed only after three emails.",
        properties={"Zendesk Ticket Id": str(ticket_id)},
        created_at=datetime.now(UTC) - timedelta(hours=1),  # past the detractors' settle time
    )
    tickets_before = len(world.zendesk.tickets())

    assert make_engine(rules=default_rules).run_once().errors == []

    assert world.zendesk.ticket(ticket_id)["status"] == "open"
    notes = [c for c in world.zendesk.comments(ticket_id) if "three emails" in c["body"]]
    assert [n["public"] for n in notes] == [False]
    assert len(world.zendesk.tickets()) == tickets_before
