"""Fault test: with more than one call in ten failing, the sync still ends as a clean run does.

The emulators answer 429 with a Retry-After, 5xx, reset connections, hang past the client's
timeout, expire the Salesforce session, fail single records with UNABLE_TO_LOCK_ROW, and take a
create into effect while its answer is lost. The engine runs in this process, pass after pass,
until nothing is left; the final state must equal a clean run's, with nothing created twice and
no request sent before a Retry-After expired.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from emulators.base import Fault
from emulators.world import LIVE_JOBS, EmulatedWorld
from tests.reliability.conftest import fast_engine, quiet_end, snapshot, unfinished
from tests.support import QueryCutter, poll

SEED = 77
ACCOUNTS = 30
RESPONSES = 400
TIMEOUT = 0.5

SF_CALLS = "^(query|composite_.*)$"
#: Every kind of fault on every system: each fires at least once (``count``) and then at random
#: (``rate``). Logins are spared: a failed login is a configuration error by design, and
#: simple-salesforce re-logs in through them when the session expires.
FAULTS = {
    "salesforce": [
        Fault("invalid_session", count=1, endpoint="^query$"),
        Fault("hang", count=1, endpoint="^query$", hang_seconds=TIMEOUT * 2),
        Fault("reset", count=1, endpoint="^composite_create$"),
        Fault("late", count=1, endpoint="^composite_create$", hang_seconds=TIMEOUT * 2),
        Fault("503", count=1, endpoint="^composite_update$"),
        Fault("invalid_session", rate=0.04, endpoint=SF_CALLS),
        Fault("503", rate=0.03, endpoint=SF_CALLS),
        Fault("reset", rate=0.03, endpoint=SF_CALLS),
        Fault("hang", rate=0.02, endpoint=SF_CALLS, hang_seconds=TIMEOUT * 2),
        Fault("late", rate=0.05, endpoint="^composite_create$", hang_seconds=TIMEOUT * 2),
        Fault("lock", rate=0.10, endpoint="^composite_(create|update)$"),
    ],
    "zendesk": [
        Fault("late", count=1, endpoint="^tickets_create", hang_seconds=TIMEOUT * 2),
        Fault("hang", count=1, endpoint="^job_statuses_show_many$", hang_seconds=TIMEOUT * 2),
        Fault("429", count=1, endpoint="^users_search$", retry_after=1),
        Fault("429", rate=0.02, retry_after=1),
        Fault("500", rate=0.04),
        Fault("reset", rate=0.04),
        Fault("hang", rate=0.02, hang_seconds=TIMEOUT * 2),
        Fault("late", rate=0.05, endpoint="^tickets_create", hang_seconds=TIMEOUT * 2),
    ],
    "delighted": [
        Fault("429", count=1, retry_after=1),
        Fault("503", count=1),
        Fault("reset", count=1),
        Fault("429", rate=0.05, retry_after=1),
        Fault("503", rate=0.05),
        Fault("reset", rate=0.03),
    ],
}


@pytest.mark.timeout(300)  # up to twelve passes through hanging and failing emulators
def test_rel_injected_faults_change_nothing_in_the_end(tmp_path: Path) -> None:
    end = quiet_end(SEED, ACCOUNTS, RESPONSES)
    with EmulatedWorld(
        seed=SEED, accounts=ACCOUNTS, responses=RESPONSES, end=end, zendesk_options=LIVE_JOBS
    ) as clean:
        report = fast_engine(clean, f"sqlite:///{tmp_path / 'clean.db'}").run_once()
        assert report.errors == []
        expected = snapshot(clean)
    assert expected.tasks
    assert expected.tickets

    # Passes follow each other within seconds, and a Task create that got no answer waits a
    # pass: more exports than Zendesk's ten a minute are allowed, so that only the injected 429s
    # (not the export budget) answer with a Retry-After here.
    # Bulk jobs take effect when they run, as in a real account: a create_many whose answer was
    # lost is held until its job may no longer run, then found.
    exports = {"incremental_rate_limit_per_minute": 100, **LIVE_JOBS}
    with EmulatedWorld(
        seed=SEED, accounts=ACCOUNTS, responses=RESPONSES, end=end, zendesk_options=exports
    ) as world:
        apps = {"salesforce": world.salesforce, "zendesk": world.zendesk}
        apps["delighted"] = world.delighted
        for system, faults in FAULTS.items():
            for fault in faults:
                apps[system].inject(fault)
        overrides: dict[str, Any] = {
            "salesforce": {"timeout_seconds": TIMEOUT},
            "zendesk": {"timeout_seconds": TIMEOUT},
            "retry_backoff_seconds": 0.05,
            "max_attempts": 20,
        }
        url = f"sqlite:///{tmp_path / 'faults.db'}"
        passes = []

        def one_pass() -> dict[str, int]:
            engine = fast_engine(world, url, **overrides)
            passes.append(engine.run_once())
            left = unfinished(engine.store)
            engine.store.close()
            return left

        started = time.monotonic()
        # Pass after pass, 0.3 s apart so that backed-off actions fall due, until nothing is left.
        left = poll(one_pass, until=lambda left: not left, attempts=12, interval=0.3)
        seconds = time.monotonic() - started
        for app in apps.values():
            app.clear_faults()
        actual = snapshot(world)
        served = {name: app.total_calls() for name, app in apps.items()}
        # ``lock`` fails single records inside a batch call; the rate counts failed calls only.
        faulted = {
            name: sum(kind != "lock" for _, kind in app.fault_log) for name, app in apps.items()
        }
        locked = sum(kind == "lock" for _, kind in world.salesforce.fault_log)
        kinds = {name: {kind for _, kind in app.fault_log} for name, app in apps.items()}
        expired = sum(kind == "invalid_session" for _, kind in world.salesforce.fault_log)
        logins = world.salesforce.calls["login_soap"]
        early = {name: app.early_requests for name, app in apps.items()}

    rate = sum(faulted.values()) / sum(served.values())
    print(
        f"\n{len(passes)} passes in {seconds:.1f}s; failed calls {faulted} of {served} "
        f"({rate:.0%}), {locked} records locked; errors reported on the way: "
        f"{sum(len(p.errors) for p in passes)}"
    )
    print("\n".join(sorted({e[:90] for p in passes for e in p.errors})[:30]))
    assert left == {}
    assert rate >= 0.10
    assert locked > 0
    assert kinds == {
        "salesforce": {"invalid_session", "hang", "reset", "late", "503", "lock"},
        "zendesk": {"late", "429", "500", "reset", "hang"},
        "delighted": {"429", "503", "reset"},
    }
    # Each expired session made simple-salesforce log in again, once.
    assert logins == len(passes) + expired
    assert early == {"salesforce": [], "zendesk": [], "delighted": []}
    assert actual.duplicate_tasks == []
    assert actual.duplicate_tickets == []
    assert actual.duplicate_comments == ()
    assert actual.differences(expected) == []


def test_rel_a_flaky_link_does_not_stop_the_open_tasks_being_read(tmp_path: Path) -> None:
    """Thousands of open Tasks take many queries to read. Every third query of the org is cut
    off: each query, retried on its own, gets through; retried as one read, every try of it met
    the third query and the pass stopped, pass after pass."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    end = quiet_end(SEED, ACCOUNTS, 1200)
    with EmulatedWorld(SEED, ACCOUNTS, 1200, end, zendesk_options=LIVE_JOBS) as world:
        first = fast_engine(world, url).run_once()
        tasks = world.salesforce.records("Task")
        assert first.errors == []
        assert len(tasks) > 3 * 200  # read in four queries or more

        every_third_query_cut = QueryCutter(every=3)
        world.salesforce.observers.append(every_third_query_cut)
        engine = fast_engine(world, url)
        try:
            second = engine.run_once()  # reads the Tasks the first pass made
        finally:
            engine.store.close()
    assert second.errors == [], second.errors
    assert every_third_query_cut.queries > 3
    with sqlite3.connect(tmp_path / "state.db") as db:
        (read,) = db.execute("SELECT count(*) FROM nps_task_status").fetchone()
    assert read == len(tasks)


#: A world whose respondents take more than one query of 200 values to look up.
MANY_ACCOUNTS = 120
MANY_RESPONSES = 500


def test_rel_a_flaky_link_does_not_stop_responses_being_matched(tmp_path: Path) -> None:
    """Matching a window looks its respondents up in several queries. Every second query of the
    org is cut off: each query, retried on its own, gets through; retried as one lookup, every
    try of it met a cut and the pass stopped, pass after pass, before anything was routed."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    end = quiet_end(SEED, MANY_ACCOUNTS, MANY_RESPONSES)
    with EmulatedWorld(
        SEED, MANY_ACCOUNTS, MANY_RESPONSES, end, zendesk_options=LIVE_JOBS
    ) as world:
        world.salesforce.observers.append(QueryCutter(every=2))
        engine = fast_engine(world, url)
        try:
            report = engine.run_once()
            left = unfinished(engine.store)
        finally:
            engine.store.close()
    assert (report.errors, report.unavailable) == ([], False)
    assert report.routed == MANY_RESPONSES
    assert report.tasks_created > 0
    assert left == {}


def test_rel_a_lookup_that_keeps_failing_holds_back_only_its_responses(tmp_path: Path) -> None:
    """One query of the respondents' lookup fails on every try (a 503) while the others are
    answered: the responses it was asked for wait, unrouted, and the pass goes on with the rest
    (it stopped before, routing nothing). The next pass, once the query is answered, routes
    them, and nothing is made twice."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    end = quiet_end(SEED, MANY_ACCOUNTS, MANY_RESPONSES)
    with EmulatedWorld(
        SEED, MANY_ACCOUNTS, MANY_RESPONSES, end, zendesk_options=LIVE_JOBS
    ) as world:
        emails = sorted({r.email.lower() for r in world.book.responses})
        assert len(emails) > 200  # looked up in two queries or more
        poisoned = emails[-1]
        world.salesforce.fail_queries_naming(poisoned)
        engine = fast_engine(world, url)
        try:
            first = engine.run_once()
            waiting = engine.store.inbox.counts().get("pending", 0)
        finally:
            engine.store.close()
        world.salesforce.fail_queries_naming(poisoned, failing=False)
        engine = fast_engine(world, url)
        try:
            second = engine.run_once()
            left = unfinished(engine.store)
        finally:
            engine.store.close()
        state = snapshot(world)
    assert first.unavailable is False
    assert 0 < waiting < MANY_RESPONSES // 2
    assert first.routed == MANY_RESPONSES - waiting
    assert first.tasks_created > 0
    assert [e for e in first.errors if "not routed" in e] == [
        f"{waiting} responses not routed, matched again next pass: no answer: salesforce: "
        "SERVER_UNAVAILABLE: Server temporarily unavailable"
    ]
    assert (second.errors, second.routed) == ([], waiting)
    assert left == {}
    assert state.duplicate_tasks == []
    assert state.duplicate_tickets == []
