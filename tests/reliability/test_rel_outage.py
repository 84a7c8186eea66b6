"""Outage test: while Zendesk cannot be reached, only the work that needs Zendesk waits.

A new process (cron's ``nps-sync sync``, a restarted daemon) resolves the groups, agents and
fields the rules name before it routes. It used to stop there when Zendesk was down, and with
it every Salesforce Task of the responses that kept arriving; now it routes with the ids the
last process resolved, makes the Salesforce Tasks, and leaves the tickets due for when Zendesk
answers again.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulators.base import Fault
from emulators.world import EmulatedWorld
from sync.app.engine import RunReport
from sync.commands.run import build_engine
from sync.core.config import Config
from tests.reliability.conftest import (
    FAST_RETRY,
    MARKER,
    fast_engine,
    quiet_end,
    snapshot,
    unfinished,
    world_config,
    write_config,
)
from tests.support import dropping_port, poll, run_cli

ZENDESK = "https://acme.zendesk.com"

SEED = 5
ACCOUNTS = 10
RESPONSES = 60
OUTAGE = Fault("503", rate=1.0)


def new_detractor(world: EmulatedWorld, *, new_contact: bool = False) -> str:
    """A detractor's answer, two hours old, from a contact with no earlier answer (no cooldown
    holds its Task back), one made now with ``new_contact``; returns the contact's id."""
    answered = {r.email.lower() for r in world.book.responses}
    contact = next(c for c in world.salesforce.records("Contact") if c["Email"] not in answered)
    if new_contact:
        account = next(
            a["Id"] for a in world.salesforce.records("Account") if a["Id"] != contact["AccountId"]
        )
        email = "new.buyer@example.org"
        fields = {"FirstName": "New", "LastName": "Buyer", "Email": email, "AccountId": account}
        contact = {"Id": world.salesforce.insert_record("Contact", fields), "Email": email}
    now = datetime.now(UTC)
    world.delighted.add_response(
        email=contact["Email"],
        score=2,
        comment="Sync broke twice this week",
        created_at=now - timedelta(hours=2),
        updated_at=now,
    )
    return str(contact["Id"])


def tasks_for(world: EmulatedWorld, contact_id: str) -> list[str]:
    return [t[MARKER] for t in world.salesforce.records("Task") if t.get("WhoId") == contact_id]


def one_pass(world: EmulatedWorld, url: str) -> RunReport:
    """A pass of a new engine, as a new ``nps-sync sync`` process runs one."""
    return passes_until_done(world, url, attempts=1)[0]


def passes_until_done(world: EmulatedWorld, url: str, attempts: int) -> list[RunReport]:
    """Passes of new engines, a moment apart (backed-off actions fall due), until the store
    holds no work or ``attempts`` passes ran; their reports."""
    reports: list[RunReport] = []

    def attempt() -> dict[str, int]:
        engine = fast_engine(world, url, retry_backoff_seconds=0.05)
        try:
            reports.append(engine.run_once())
            return unfinished(engine.store)
        finally:
            engine.store.close()

    poll(attempt, until=lambda left: not left, attempts=attempts, interval=0.5)
    return reports


def test_rel_a_zendesk_outage_holds_back_only_zendesk_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        assert one_pass(world, url).errors == []
        tickets_before = len(snapshot(world).tickets)
        contact = new_detractor(world)
        world.zendesk.inject(OUTAGE)
        during = one_pass(world, url)
        tasks_during = tasks_for(world, contact)
        tickets_during = len(snapshot(world).tickets)

        world.zendesk.clear_faults()
        after = passes_until_done(world, url, attempts=10)
        state = snapshot(world)

    assert (during.pulled, during.routed, during.unavailable) == (1, 1, True)
    assert during.errors
    assert all("zendesk" in e for e in during.errors)
    assert len(tasks_during) == 1  # the account manager's follow-up did not wait for Zendesk
    assert tickets_during == tickets_before
    assert [r.errors for r in after] == [[]] * len(after)
    assert sum(r.tickets_created for r in after) == 1
    assert sum(r.tasks_created for r in after) == 0
    assert len(state.tickets) == tickets_before + 1
    assert state.duplicate_tasks == []
    assert state.duplicate_tickets == []


def test_rel_without_ids_resolved_before_responses_wait_for_zendesk(tmp_path: Path) -> None:
    """A state database that never saw Zendesk answer has no ids to route with: the responses
    are pulled and wait, and the next pass that reaches Zendesk routes them."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        world.zendesk.inject(OUTAGE)
        during = one_pass(world, url)
        tasks_during = snapshot(world).tasks
        world.zendesk.clear_faults()
        after = one_pass(world, url)

    assert (during.pulled, during.routed, during.unavailable) == (RESPONSES, 0, True)
    assert tasks_during == {}
    assert (after.errors, after.routed) == ([], RESPONSES)


def test_rel_an_outage_longer_than_the_retries_uses_up_no_tries(tmp_path: Path) -> None:
    """Passes go on through a Zendesk outage, each trying the ticket and the Zendesk fields
    again, more often than ``max_attempts`` allows failures: nothing goes to the dead letters,
    the write-back stays queued (also while Salesforce fails to take its part of it), and once
    Zendesk answers the ticket and fields go out once."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        assert one_pass(world, url).errors == []
        tickets_before = len(snapshot(world).tickets)
        new_detractor(world)
        world.zendesk.inject(OUTAGE)
        world.salesforce.inject(Fault("500", rate=1.0, endpoint="^composite_update$"))
        during: list[RunReport] = []
        for _ in range(4):
            engine = fast_engine(world, url, max_attempts=2, retry_backoff_seconds=0.01)
            try:
                during.append(engine.run_once())
                queued = engine.store.write_backs.queued()
            finally:
                engine.store.close()
            time.sleep(0.05)  # the deferred ticket falls due again
        world.zendesk.clear_faults()
        world.salesforce.clear_faults()
        after = passes_until_done(world, url, attempts=10)
        state = snapshot(world)

    assert [r.unavailable for r in during] == [True] * 4
    assert all(any(e.startswith("salesforce") for e in r.errors) for r in during)
    assert [r.dead for r in during + after] == [0] * len(during + after)
    assert queued.contacts  # the contact's Zendesk user is still to be written
    assert [r.errors for r in after] == [[]] * len(after)
    assert sum(r.tickets_created for r in after) == 1
    assert len(state.tickets) == tickets_before + 1
    assert state.duplicate_tickets == []


def test_rel_an_unreachable_zendesk_costs_a_pass_one_connect_timeout(tmp_path: Path) -> None:
    """Zendesk behind a firewall that drops connections: ``nps-sync sync`` waits for one
    connection attempt, then every other call to it fails at once; the Salesforce Task is made
    and the pass ends unavailable (exit 75), naming the host."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        up = write_config(tmp_path / "up.yaml", world, url)
        assert run_cli("sync", "--json", "--config", up).returncode == 0
        contact = new_detractor(world)
        routes = {**world.routes, ZENDESK: f"http://127.0.0.1:{dropping_port()}"}
        down = write_config(
            tmp_path / "down.yaml",
            world,
            url,
            loopback_routes=routes,
            zendesk={"timeout_seconds": 1.0},
        )
        result = run_cli("sync", "--json", "--config", down)
        tasks = tasks_for(world, contact)

    assert result.returncode == 75, result.stderr
    errors = json.loads(result.stdout)["errors"]
    timed_out = "zendesk: cannot connect to acme.zendesk.com: the connection timed out"
    assert errors
    assert all(timed_out in e for e in errors), errors
    # The first call's retries, and every stage after it, did not try to connect again.
    assert all("(not tried again for 60 s)" in e for e in errors), errors
    assert len(tasks) == 1


def test_rel_a_survey_source_that_stays_down_makes_the_pass_unavailable(tmp_path: Path) -> None:
    """Delighted failing past the retries is an outage (exit 75 for ``sync``, not the exit 1 of
    a failed record), and the error names the source once."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        world.delighted.inject(OUTAGE)
        report = one_pass(world, url)

    assert (report.pulled, report.unavailable) == (0, True)
    (error,) = report.errors
    assert error.startswith("delighted: ")
    assert not error.startswith("delighted: delighted")


def test_rel_a_salesforce_outage_at_start_holds_back_only_salesforce_work(tmp_path: Path) -> None:
    """A process that cannot log in to Salesforce still pulls, makes the tickets that were
    queued and writes Zendesk's fields; the new response waits to be matched, and the first
    pass that reaches Salesforce routes it and makes its Task."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        config = Config.model_validate(world_config(world, url, retry_backoff_seconds=0.05))
        assert one_pass(world, url).errors == []
        tickets_before = len(snapshot(world).tickets)
        first = new_detractor(world)
        world.zendesk.inject(OUTAGE)
        one_pass(world, url)  # its Task is made; its ticket waits for Zendesk
        world.zendesk.clear_faults()
        second = new_detractor(world, new_contact=True)
        world.salesforce.inject(OUTAGE)  # the logins too
        engine = build_engine(config)  # as ``nps-sync sync`` starts
        engine.retry = FAST_RETRY
        during = engine.run_once()
        engine.store.close()
        tickets_during = len(snapshot(world).tickets)
        world.salesforce.clear_faults()
        after = passes_until_done(world, url, attempts=10)
        state = snapshot(world)

    assert (during.pulled, during.routed, during.unavailable) == (1, 0, True)
    assert during.errors
    assert all(e.startswith("salesforce") for e in during.errors)
    assert during.tickets_created == 1  # the first detractor's, queued while Zendesk was down
    assert during.waiting["responses"] == 1
    assert tickets_during == tickets_before + 1
    assert [r.errors for r in after] == [[]] * len(after)
    assert (len(tasks_for(world, first)), len(tasks_for(world, second))) == (1, 1)
    assert sum(r.routed for r in after) == 1
    assert len(state.tickets) == tickets_before + 1  # the new contact has no Zendesk user
    assert state.duplicate_tasks == []
    assert state.duplicate_tickets == []


def test_rel_a_long_zendesk_outage_routes_the_users_the_mirror_holds(tmp_path: Path) -> None:
    """Past the mirror's age limit, a pass Zendesk does not answer still routes the respondents
    the mirror of Zendesk's users holds (their Salesforce Tasks are made); one it lacks waits,
    rather than being decided to have no Zendesk user, and is routed once Zendesk answers."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    young = {"matching": {"user_mirror_max_age_minutes": 0.01}}  # old after a second
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        assert one_pass(world, url).errors == []
        known = new_detractor(world)  # a contact with a Zendesk user
        unknown = new_detractor(world, new_contact=True)  # none in Zendesk
        time.sleep(1.0)  # the mirror is now older than its limit
        world.zendesk.inject(OUTAGE)
        engine = fast_engine(world, url, retry_backoff_seconds=0.05, zendesk=young)
        try:
            during = engine.run_once()
            pending = engine.store.inbox.counts().get("pending", 0)
        finally:
            engine.store.close()
        tasks_during = (len(tasks_for(world, known)), len(tasks_for(world, unknown)))
        world.zendesk.clear_faults()
        after = passes_until_done(world, url, attempts=10)
        state = snapshot(world)

    assert (during.pulled, during.routed, during.unavailable) == (2, 1, True)
    assert tasks_during == (1, 0)  # the known respondent's follow-up did not wait
    assert pending == 1
    assert sum(r.routed for r in after) == 1
    assert len(tasks_for(world, unknown)) == 1
    assert sum(r.skipped.get("no_requester", 0) for r in after) == 1  # decided once it answered
    assert state.duplicate_tasks == []
    assert state.duplicate_tickets == []


def test_rel_real_time_passes_route_on_the_mirror_a_poll_found_stuck(tmp_path: Path) -> None:
    """The real-time engine never reads the export itself: it learns from the poll that
    Zendesk did not answer it, and routes a known respondent's new answer all the same."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    young = {"matching": {"user_mirror_max_age_minutes": 0.01}}
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, quiet_end(SEED, ACCOUNTS, RESPONSES)) as world:
        assert one_pass(world, url).errors == []
        time.sleep(1.0)  # the mirror is now older than its limit
        world.zendesk.inject(OUTAGE)
        engine = fast_engine(world, url, retry_backoff_seconds=0.05, zendesk=young)
        twin = engine.sibling()
        try:
            engine.poll()  # reads the export: Zendesk does not answer
            known = new_detractor(world)
            engine.pull(RunReport(), datetime.now(UTC))  # as a webhook stores it
            realtime = twin.respond()
        finally:
            engine.store.close()

    assert realtime.routed == 1
    assert len(tasks_for(world, known)) == 1
