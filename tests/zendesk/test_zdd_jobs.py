"""Bulk jobs in flight together: one ``job_statuses/show_many`` poll a round, backing off.

Each call of the connector that needs several ``create_many`` / ``update_many`` jobs submits them
and polls them together; every job's per-item results still reach the records they belong to.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from connectors.errors import RetryableError
from connectors.models import FieldUpdate, TicketSpec
from connectors.transport import make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials, connect
from connectors.zendesk.jobs import JobsRunningError
from connectors.zendesk.records import CommentSpec
from emulators.base import Fault
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from sync.stages.executors.zendesk import ZendeskTicketExecutor
from sync.stages.executors.zendesk_comments import marker
from sync.state import StateStore
from tests.zendesk.conftest import (
    ACME_ORG,
    ANA,
    BEN,
    CAL,
    DEE,
    FAST_RETRY,
    PUBLIC,
    Outbox,
    Serve,
    ticket_payload,
)

POLLS = "job_statuses_show_many"


def connector(url: str, waits: list[float], **options: Any) -> ZendeskConnector:
    """The real connector whose sleeps (job polls, rate-limit waits) are recorded, not slept."""
    session = make_session({PUBLIC: url}, label="zendesk")
    credentials = ZendeskCredentials("acme", email=DEFAULT_AGENT_EMAIL, token=DEFAULT_TOKEN)
    client = connect(credentials, session=session, sleep=waits.append)
    return ZendeskConnector(client, sleep=waits.append, **options)


def specs(count: int) -> list[TicketSpec]:
    return [
        TicketSpec(key=f"key-{i:04d}", subject=f"NPS {i}", body="3", requester_id=ANA.user_id)
        for i in range(count)
    ]


def test_jobs_of_one_call_are_polled_together_and_results_reach_their_records(
    serve: Serve,
) -> None:
    emulator, url = serve(job_polls_to_complete=2)
    waits: list[float] = []
    desk = connector(url, waits)

    results = desk.create_tickets(specs(450))  # five create_many jobs

    assert emulator.calls["tickets_create_many"] == 5
    assert emulator.calls[POLLS] == 2  # two rounds of one poll each, not ten
    assert emulator.calls["job_statuses"] == 0
    tickets = {t["external_id"]: t for t in emulator.tickets()}
    assert [r.record_id for r in results] == [s.key for s in specs(450)]
    for result in results:
        assert result.ok
        assert tickets[result.record_id]["id"] == int(result.external_id)
        assert tickets[result.record_id]["subject"] == f"NPS {int(result.record_id[4:])}"


def test_jobs_started_earlier_are_polled_with_those_of_a_later_call(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=2)
    desk = connector(url, [])
    tickets = [int(r.external_id) for r in desk.create_tickets(specs(3))]
    emulator.reset_counters()

    finish = desk.start_comments(
        [CommentSpec(f"note-{t}", t, "Again.", False) for t in tickets], on_job=None
    )
    created = desk.create_tickets(specs(150)[3:])  # two create_many jobs
    commented = finish()

    assert emulator.calls["tickets_update_many"] == 1
    assert emulator.calls[POLLS] == 2  # the three jobs waited for in one round
    assert all(r.ok for r in created + commented)
    assert [r.record_id for r in commented] == [f"note-{t}" for t in tickets]


def test_a_batch_of_new_tickets_and_comments_waits_for_its_jobs_once(
    serve: Serve, store: StateStore, outbox: Outbox
) -> None:
    emulator, url = serve(job_polls_to_complete=2)
    executor = ZendeskTicketExecutor(connector(url, []), FAST_RETRY, store=store)
    outbox.add(ANA, ticket_payload(ANA, attach=True, comment="First."))
    outbox.add(BEN, ticket_payload(BEN, attach=True, comment="First."))
    outbox.run(executor)  # Ana and Ben have an open ticket each
    emulator.reset_counters()
    again = [outbox.add(p, ticket_payload(p, attach=True, comment="Again.")) for p in (ANA, BEN)]
    new = {p.email: outbox.add(p, ticket_payload(p, attach=True)) for p in (CAL, DEE)}
    joining = {p.email: outbox.add(p, ticket_payload(p, attach=True)) for p in (CAL, DEE)}

    outcomes = {o.key: o for o in outbox.run(executor)}

    assert {o.result for o in outcomes.values()} == {"done"}
    assert emulator.calls["tickets_create_many"] == 1  # Cal's and Dee's tickets
    assert emulator.calls["tickets_update_many"] == 1  # Ana's and Ben's notes
    assert emulator.calls[POLLS] == 2  # both jobs waited for together, once
    for email, key in joining.items():  # a later answer of the batch is in the first comment
        ticket_id = int(outcomes[new[email]].external_id)
        assert outcomes[key].external_id == str(ticket_id)
        (first,) = emulator.comments(ticket_id)
        assert marker(key) in first["body"]
    for key in again:
        comments = emulator.comments(int(outcomes[key].external_id))
        assert [marker(key) in c["body"] for c in comments] == [False, True]


def test_a_poll_asks_for_at_most_the_ids_the_api_takes(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=3)
    desk = connector(url, [])
    desk.jobs.ids_per_poll = 2

    desk.create_tickets(specs(500))

    rounds = 3
    assert emulator.calls[POLLS] == rounds * math.ceil(5 / 2)


def test_jobs_beyond_the_queue_limit_start_as_others_end(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    desk = connector(url, [])
    desk.jobs.max_in_flight = 2

    results = desk.create_tickets(specs(500))

    assert emulator.calls[POLLS] == 3  # 2 + 2 + 1 jobs
    assert all(r.ok for r in results)
    assert {t["external_id"] for t in emulator.tickets()} == {s.key for s in specs(500)}


def test_updates_keep_each_record_s_own_result(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=(1, 3))
    desk = connector(url, [])
    missing = [FieldUpdate("organization", str(9000 + i), {"nps": i}) for i in range(150)]
    real = FieldUpdate("organization", str(ACME_ORG), {"nps_account_score": 42})

    results = desk.update_organizations([*missing[:120], real, *missing[120:]])

    assert emulator.calls["organizations_update_many"] == 2
    assert {r.record_id for r in results if r.ok} == {str(ACME_ORG)}
    assert len(results) == 151
    assert emulator.calls[POLLS] <= 3


def test_polls_back_off_from_a_short_first_wait(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=5)
    waits: list[float] = []
    desk = connector(url, waits, poll_interval=0.5)

    (result,) = desk.create_tickets(specs(2))[:1]

    assert result.ok
    assert emulator.calls[POLLS] == 5
    assert waits == pytest.approx([0.5, 0.75, 1.125, 1.6875, 2.53125])


def test_the_wait_between_polls_stops_growing_at_its_cap(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=12)
    waits: list[float] = []
    desk = connector(url, waits, poll_interval=0.5)

    desk.create_tickets(specs(2))

    assert emulator.calls[POLLS] == 12
    assert max(waits) == 5.0
    assert waits[-3:] == [5.0, 5.0, 5.0]


def test_a_rate_limited_poll_waits_as_told_and_the_job_is_still_read(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    emulator.inject(Fault("429", count=1, endpoint=f"^{POLLS}$", retry_after=3))
    waits: list[float] = []
    desk = connector(url, waits, poll_interval=0.5)

    results = desk.create_tickets(specs(3))

    assert all(r.ok for r in results)
    assert 3.0 in waits
    assert emulator.calls[POLLS] == 2  # the refused poll, then the one that read the job


def test_a_failed_poll_of_field_jobs_is_asked_again_and_no_job_is_sent_twice(
    serve: Serve,
) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    emulator.inject(Fault("503", count=1, endpoint=f"^{POLLS}$"))
    desk = connector(url, [], poll_interval=0.5)
    others = [FieldUpdate("organization", str(9000 + i), {"nps": i}) for i in range(150)]
    acme = FieldUpdate("organization", str(ACME_ORG), {"nps_account_score": 7})

    results = desk.update_organizations([acme, *others])

    assert [r.record_id for r in results if r.ok] == [str(ACME_ORG)]
    assert emulator.calls["organizations_update_many"] == 2
    assert emulator.calls[POLLS] == 2  # the refused poll, then the one that read both jobs
    org = next(o for o in emulator.organizations() if o["id"] == ACME_ORG)
    assert org["organization_fields"]["nps_account_score"] == 7


def org_updates(count: int) -> list[FieldUpdate]:
    """Acme's score first, then organizations Zendesk does not have (each job a result)."""
    acme = FieldUpdate("organization", str(ACME_ORG), {"nps_account_score": 7})
    return [acme, *(FieldUpdate("organization", str(9000 + i), {"nps": i}) for i in range(count))]


def test_polls_that_keep_failing_leave_the_jobs_to_send_again(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    emulator.inject(Fault("500", count=3, endpoint=f"^{POLLS}$"))
    desk = connector(url, [], poll_interval=0.5)

    with pytest.raises(RetryableError) as raised:
        desk.update_organizations(org_updates(150))

    assert raised.value.results == (None,) * 151  # nothing known to be written
    assert emulator.calls["organizations_update_many"] == 2
    assert emulator.calls[POLLS] == 3


def test_a_submit_told_to_wait_holds_back_the_submits_after_it(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    fault = Fault("503", count=1, endpoint="^organizations_update_many$", retry_after=4)
    emulator.inject(fault)
    desk = connector(url, [], poll_interval=0.5)

    with pytest.raises(RetryableError) as raised:
        desk.update_organizations(org_updates(250))

    assert raised.value.retry_after == 4
    assert emulator.calls["organizations_update_many"] == 1
    assert raised.value.results == (None,) * 251


def test_a_job_zendesk_refuses_fails_its_own_records_only(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1)
    emulator.inject(Fault("422", count=1, endpoint="^organizations_update_many$"))
    desk = connector(url, [], poll_interval=0.5)

    results = desk.update_organizations(org_updates(150))

    assert {r.tier for r in results[:100]} == {"skip"}  # the first job's, Acme's among them
    assert [r.record_id for r in results if r.ok] == []
    # the second job ran: no such records, which no retry changes
    assert {(r.code, r.tier) for r in results[100:]} == {("job_refused", "skip")}
    assert emulator.calls["organizations_update_many"] == 2


def test_a_job_that_outlives_the_timeout_is_waited_for_not_retried(serve: Serve) -> None:
    emulator, url = serve(job_polls_to_complete=1000)
    desk = connector(url, [], poll_interval=0.001, job_timeout=0.05)
    with pytest.raises(JobsRunningError, match="still working") as raised:
        desk.update_organizations([FieldUpdate("organization", str(ACME_ORG), {"nps": 1})] * 2)
    assert emulator.calls[POLLS] >= 1
    assert desk.wait_for_jobs(raised.value.job_ids) == set(raised.value.job_ids)


def test_one_item_is_still_written_directly(emulator: ZendeskEmulator, desk: Any) -> None:
    emulator.reset_counters()
    (result,) = desk.create_tickets(specs(1))
    assert result.ok
    assert emulator.calls[POLLS] == 0


def test_a_job_item_refused_for_what_it_names_is_skipped_not_sent_again(serve: Serve) -> None:
    """A ticket naming a group Zendesk does not have fails in every job it is sent in: it is
    skipped (the admin fixes the rules), while the batch's other tickets are made."""
    _emulator, url = serve(job_polls_to_complete=1)
    desk = connector(url, [], poll_interval=0.5)
    good, bad = specs(2)
    results = desk.create_tickets([good, replace(bad, group_id=999_999)])
    by_key = {r.record_id: r for r in results}
    assert by_key[good.key].ok
    refused = by_key[bad.key]
    assert (refused.ok, refused.code, refused.tier) == (False, "job_refused", "skip")
    assert refused.error.startswith("TicketCreateFailed")
