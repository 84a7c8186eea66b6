"""The connector's batched reads and writes, through zenpy and our session, against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import RecordError
from connectors.models import TicketSpec
from connectors.zendesk.client import COMMENT_SEPARATOR, ZendeskConnector, merged
from connectors.zendesk.records import CommentSpec, RequesterSpec
from emulators.zendesk import ZendeskEmulator
from tests.zendesk.conftest import ACME_ACCOUNT, ACME_ORG, ANA, BEN, CAL, GLOBEX_ACCOUNT, GLOBEX_ORG


def spec(key: str, requester_id: int, subject: str = "NPS") -> TicketSpec:
    return TicketSpec(key=key, subject=subject, body="Body", requester_id=requester_id)


def test_open_ticket_counts_come_from_one_sideloaded_request(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    results = desk.create_tickets(
        [spec("k1", ANA.user_id), spec("k2", ANA.user_id), spec("k3", BEN.user_id)]
    )
    emulator.solve_ticket(int(results[2].external_id))
    emulator.reset_counters()

    counts = desk.open_ticket_counts([ANA.user_id, BEN.user_id, CAL.user_id])

    assert counts == {ANA.user_id: 2, BEN.user_id: 0, CAL.user_id: 0}
    assert dict(emulator.calls) == {"users_show_many": 1}


def test_ticket_states_come_in_one_request_per_hundred(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    results = desk.create_tickets([spec(f"k{i}", ANA.user_id) for i in range(3)])
    ids = [int(r.external_id) for r in results]
    emulator.solve_ticket(ids[1])
    emulator.reset_counters()

    states = desk.tickets_by_id([*ids, 999999])

    statuses = {i: s.status for i, s in states.items()}
    assert statuses == {ids[0]: "new", ids[1]: "solved", ids[2]: "new"}
    assert states[ids[0]].external_id == "k0"
    assert states[ids[0]].organization_id == ACME_ORG
    assert dict(emulator.calls) == {"tickets_show_many": 1}


def test_comments_for_one_ticket_are_joined_into_one_note_and_visibilities_kept_apart(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    created = desk.create_tickets([spec("a", ANA.user_id), spec("b", BEN.user_id)])
    a, b = (int(r.external_id) for r in created)
    emulator.reset_counters()
    comments = [
        CommentSpec("c1", a, "first on a"),
        CommentSpec("c2", b, "first on b"),
        CommentSpec("c3", a, "second on a"),
        CommentSpec("c4", a, "public on a", public=True),
    ]

    results = desk.add_comments(comments)

    assert [(r.record_id, r.ok, r.external_id) for r in results] == [
        ("c1", True, str(a)),
        ("c3", True, str(a)),
        ("c2", True, str(b)),
        ("c4", True, str(a)),
    ]
    notes = [(c["body"], c["public"]) for c in emulator.comments(a)][1:]
    assert notes == [(f"first on a{COMMENT_SEPARATOR}second on a", False), ("public on a", True)]
    assert emulator.calls["tickets_update_many"] == 1  # c1 with c3, and c2
    assert emulator.calls["tickets_update"] == 1  # c4: a's second update, alone in its wave
    assert desk.comment_bodies(a)[0] == "public on a"  # newest first


def test_recent_comments_of_many_tickets_come_from_one_export_request(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    created = desk.create_tickets([spec(f"k{i}", ANA.user_id) for i in range(4)])
    a, b, c, d = (int(r.external_id) for r in created)
    emulator.advance_clock(600)
    since = datetime.fromtimestamp(emulator.now() - 5, UTC)
    desk.add_comments([CommentSpec("c1", a, "note on a"), CommentSpec("c2", b, "note on b")])
    desk.add_comments([CommentSpec("c3", d, "note on d")])
    emulator.advance_clock(120)
    emulator.reset_counters()

    bodies = desk.recent_comment_bodies([a, b, c], since)

    assert bodies == {a: ["note on a"], b: ["note on b"]}  # not the first comments, nor d's
    assert dict(emulator.calls) == {"incremental_ticket_events": 1}


def test_a_joined_note_stays_under_its_length_limit() -> None:
    comments = [CommentSpec(f"c{i}", 7, "x" * 40) for i in range(5)]

    joined = merged(comments, max_chars=100)

    assert [j.keys for j in joined] == [("c0", "c1"), ("c2", "c3"), ("c4",)]
    assert all(len(j.body) <= 100 for j in joined)


def test_comments_joined_on_a_ticket_set_the_fields_the_last_one_gives() -> None:
    comments = [
        CommentSpec("c1", 7, "first answer", fields={10: 3, 11: "detractor"}),
        CommentSpec("c2", 7, "later answer", fields={10: 9}),
        CommentSpec("c3", 8, "elsewhere"),
    ]

    joined = merged(comments)

    assert [(j.keys, dict(j.fields)) for j in joined] == [
        (("c1", "c2"), {10: 9, 11: "detractor"}),
        (("c3",), {}),
    ]


@pytest.mark.parametrize("batch", [False, True], ids=["one-by-one", "in-a-job"])
def test_requesters_are_created_and_existing_users_left_as_they_are(
    emulator: ZendeskEmulator, desk: ZendeskConnector, batch: bool
) -> None:
    emulator.add_api_token("lead@acme.example", "x")
    specs = [
        RequesterSpec("NEW.one@acme.example", "New One", ACME_ORG),
        RequesterSpec("new.two@globex.example", "", GLOBEX_ORG),
        RequesterSpec(ANA.email, "Someone Else"),
        RequesterSpec("lead@acme.example", "Lead"),
    ]
    before = {u["email"]: u for u in emulator.users()}

    def create() -> dict[str, int]:
        if batch:
            return desk.create_users(specs)
        return {k: v for spec in specs for k, v in desk.create_users([spec]).items()}

    first = create()
    again = create()

    assert sorted(first) == ["new.one@acme.example", "new.two@globex.example"]
    assert again == {}  # nobody is created twice
    users = {u["email"]: u for u in emulator.users()}
    assert users["new.one@acme.example"]["id"] == first["new.one@acme.example"]
    assert users["new.one@acme.example"]["organization_id"] == ACME_ORG
    assert users["new.one@acme.example"]["role"] == "end-user"
    assert users["new.two@globex.example"]["name"] == "new.two"
    # Existing users, an agent among them, are never edited.
    assert users[ANA.email] == before[ANA.email]
    assert users["lead@acme.example"] == before["lead@acme.example"]


def test_organizations_are_found_by_mirrored_account_id_and_by_name(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    emulator.reset_counters()
    found = desk.organizations_by_external_id([ACME_ACCOUNT, GLOBEX_ACCOUNT.lower(), "001nope"])
    assert found == {ACME_ACCOUNT.lower(): ACME_ORG, GLOBEX_ACCOUNT.lower(): GLOBEX_ORG}
    assert dict(emulator.calls) == {"organizations_show_many": 1}
    assert desk.organization_ids_by_name(["acme corp", "Nobody Inc"]) == {"acme corp": ACME_ORG}


def test_only_staff_are_agents(emulator: ZendeskEmulator, desk: ZendeskConnector) -> None:
    emulator.add_api_token("lead@acme.example", "x")
    agents = desk.agents_by_email(["Lead@acme.example", ANA.email, "ghost@acme.example"])
    assert list(agents) == ["lead@acme.example"]
    assert agents["lead@acme.example"].role == "admin"


@pytest.mark.parametrize(
    "address",
    [
        'a@b.example" OR role:admin',
        "x y@acme.example",
        "*@acme",
        "*@acme.example",
        "a*b@acme.example",
        "ann@acme.*",
        "{ann}@acme.example",
        "ann:x@acme.example",
    ],
)
def test_unsafe_addresses_are_never_searched(
    emulator: ZendeskEmulator, desk: ZendeskConnector, address: str
) -> None:
    emulator.reset_counters()
    assert desk.find_user_by_email(address) is None
    assert desk.agents_by_email([address]) == {}
    assert emulator.total_calls() == 0


def test_the_field_catalogue_is_described(desk: ZendeskConnector) -> None:
    ticket_fields = {f.title: f for f in desk.ticket_fields()}
    assert ticket_fields["NPS Category"].type == "tagger"
    assert ticket_fields["NPS Category"].options == ("promoter", "passive", "detractor")
    assert {f.key: f.type for f in desk.user_fields()}["nps_date"] == "date"
    assert "nps_account_score" in {f.key for f in desk.organization_fields()}


def test_the_export_pages_through_tickets_by_cursor(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    desk.create_tickets([spec("k1", ANA.user_id), spec("k2", BEN.user_id)])
    start = int(emulator.now()) - 3600

    page = desk.export_tickets(start_time=start)

    assert {t.external_id for t in page.tickets} == {"k1", "k2"}
    assert page.end_of_stream
    assert page.after_cursor
    again = desk.export_tickets(cursor=page.after_cursor)
    assert again.tickets == ()
    with pytest.raises(ValueError, match="either"):
        desk.export_tickets()


def test_a_bad_request_is_a_record_error(desk: ZendeskConnector) -> None:
    with pytest.raises(RecordError):
        desk.export_tickets(start_time=2**40)  # in the future: Zendesk refuses it


def test_a_ticket_refused_in_a_small_batch_fails_alone(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    """Created one request each, the tickets before and after a refused one are made and
    reported made: none is marked failed for another's fault (and so made twice later)."""
    blank = TicketSpec(key="d2", subject="NPS", body="  ", requester_id=BEN.user_id)
    results = desk.create_tickets(
        [spec("d1", ANA.user_id), blank, spec("d3", CAL.user_id)], direct_up_to=3
    )
    assert [(r.record_id, r.ok, r.tier) for r in results] == [
        ("d1", True, None),
        ("d2", False, "skip"),
        ("d3", True, None),
    ]
    assert "RecordInvalid" in results[1].error
    made = {t["external_id"]: str(t["id"]) for t in emulator.tickets()}
    assert made == {"d1": results[0].external_id, "d3": results[2].external_id}


def test_a_small_batch_can_be_created_without_a_job_to_wait_for(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    emulator.reset_counters()
    results = desk.create_tickets(
        [spec("d1", ANA.user_id), spec("d2", BEN.user_id), spec("d3", CAL.user_id)],
        direct_up_to=3,
    )
    assert [r.ok for r in results] == [True, True, True]
    assert {t["external_id"]: t["id"] for t in emulator.tickets()} == {
        r.record_id: int(r.external_id) for r in results
    }
    assert not any("job" in name or "many" in name for name in emulator.calls)

    emulator.reset_counters()
    desk.create_tickets([spec(f"j{i}", ANA.user_id) for i in range(4)], direct_up_to=3)
    assert any("job" in name for name in emulator.calls)  # a larger batch still is one job
