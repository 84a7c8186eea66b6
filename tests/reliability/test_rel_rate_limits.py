"""A rate limit or a spent API allowance defers work; it never ends the pass, nothing is lost.

Each proof runs ``nps-sync sync`` through the CLI on a world whose Zendesk (or Salesforce) lets
only part of the work through, then again after the limit resets, until nothing is left. The end
state is compared with a clean run on a second world built from the same seed: every Task,
ticket and field write-back is there exactly once.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from emulators.world import ZD_HOST, EmulatedWorld
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN
from sync.cli import main
from sync.core.errors import EXIT_TEMPORARY
from sync.stages.executors.salesforce import SalesforceTaskExecutor
from sync.state import StateStore
from sync.state.outbox import DETRACTOR_FIRST
from tests.reliability.conftest import (
    MARKER,
    WorldState,
    fast_engine,
    quiet_end,
    snapshot,
    unfinished,
    write_config,
)

SEED, ACCOUNTS, RESPONSES = 11, 40, 300
#: Zendesk lets this many requests through per window of this many seconds; the pass does not
#: sleep on it (no wait budget), so every 429 defers the work that needed Zendesk.
ZENDESK_LIMIT, ZENDESK_WINDOW = 100, 12
#: Requests another integration on the account spends just before the first pass: the pass
#: meets the limit within its first requests (it looks Zendesk users up only as needed, so its
#: requests come less densely than one search per respondent did).
SPENT_ELSEWHERE = 92
NO_WAITING = {"zendesk": {"rate_limit": {"wait_budget_seconds": 0}}}
MAX_PASSES = 8


@dataclass
class Pass:
    exit_code: int
    document: dict[str, Any]
    output: str


def sync(config: Path) -> Pass:
    result = CliRunner().invoke(
        main, ["sync", "--config", str(config), "--json"], env={"NO_COLOR": "1"}
    )
    start = result.output.find("{")
    # The document, then (mixed in here) the logs and the closing message on stderr.
    document = json.JSONDecoder().raw_decode(result.output[start:])[0] if start >= 0 else {}
    return Pass(result.exit_code, document, result.output)


def status(config: Path) -> str:
    result = CliRunner().invoke(
        main, ["status", "--config", str(config)], env={"COLUMNS": "250", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def wait_until(stamps: dict[str, str]) -> None:
    """Sleep until the latest time a system gave (the emulators reset on wall-clock time)."""
    latest = max(datetime.fromisoformat(s) for s in stamps.values())
    time.sleep(max((latest - datetime.now(UTC)).total_seconds(), 0) + 0.2)


def spend_zendesk_window(world: EmulatedWorld, requests_made: int) -> None:
    """Another integration spends most of a fresh rate-limit window of the account."""
    time.sleep(ZENDESK_WINDOW - time.time() % ZENDESK_WINDOW + 0.05)  # a window just began
    url = world.routes[ZD_HOST] + "/api/v2/groups.json"
    with requests.Session() as session:
        session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
        for _ in range(requests_made):
            assert session.get(url, timeout=10).status_code == 200


def end_of_the_year() -> datetime:
    return quiet_end(SEED, ACCOUNTS, RESPONSES)


def answered(state: WorldState) -> Counter[str]:
    """The action key of every ticket and of every answer added to one as a comment."""
    keys = Counter(state.tickets.keys())
    for ticket in state.tickets.values():
        keys.update(key for key, _ in ticket[-1] if key)
    return keys


def assert_same_work(actual: WorldState, expected: WorldState, figures: str = "") -> None:
    """Every Task and field exactly as in the clean run, every ticket answer there once.

    Two answers of one respondent become a ticket and a comment on it (``attach_to_open``);
    which of them opens the ticket depends on which pass routed it first, so tickets are
    compared by the answers they hold.
    """
    assert actual.duplicate_tasks == actual.duplicate_tickets == [], figures
    others = [d for d in actual.differences(expected, limit=1000) if " ticket " not in f" {d}"]
    assert others == [], figures
    assert answered(actual) == answered(expected), figures
    assert max(answered(actual).values()) == 1, figures


def clean_state(tmp_path: Path, end: datetime) -> WorldState:
    """What one unthrottled pass leaves in a world built from the same seed."""
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end) as clean:
        url = f"sqlite:///{tmp_path / 'clean.db'}"
        first = sync(write_config(tmp_path / "clean.yaml", clean, url))
        assert first.exit_code == 0, first.output
        assert not first.document["deferred_until"], first.output
        return snapshot(clean)


def test_rel_a_zendesk_rate_limit_defers_work_and_later_passes_finish_it(
    tmp_path: Path, store_url: str
) -> None:
    state_url = store_url
    end = end_of_the_year()
    expected = clean_state(tmp_path, end)
    zendesk = {"rate_limit_per_minute": ZENDESK_LIMIT, "rate_limit_window_seconds": ZENDESK_WINDOW}
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end, zendesk_options=zendesk) as world:
        config = write_config(tmp_path / "throttled.yaml", world, state_url, **NO_WAITING)
        spend_zendesk_window(world, SPENT_ELSEWHERE)
        first = sync(config)
        # The pass went on past the limit: Salesforce work was done, the rest deferred (75: run
        # again later).
        assert first.exit_code == EXIT_TEMPORARY, first.output
        doc = first.document
        assert set(doc["deferred_until"]) == {"zendesk"}, first.output
        assert doc["errors"] == [], first.output
        assert doc["tasks_created"] > 0
        waiting = doc["waiting"]
        assert waiting["responses"] + waiting["actions"] + waiting["write_backs"] > 0, waiting
        shown = status(config)
        assert "Deferred (rate limit or API allowance): zendesk until" in shown, shown
        assert f"{waiting['actions']} actions" in shown, shown

        passes, calls = [first], [doc["api_calls"].get("zendesk", 0)]
        while passes[-1].document["deferred_until"] and len(passes) < MAX_PASSES:
            wait_until(passes[-1].document["deferred_until"])
            passes.append(sync(config))
            deferred = passes[-1].document["deferred_until"]
            assert passes[-1].exit_code == (EXIT_TEMPORARY if deferred else 0), passes[-1].output
            assert passes[-1].document["errors"] == [], passes[-1].output
            calls.append(passes[-1].document["api_calls"].get("zendesk", 0))
        store = StateStore(state_url)
        try:
            left = unfinished(store)
        finally:
            store.close()
        assert left == {}, left
        actual = snapshot(world)
    figures = (
        f"{len(passes)} passes; first routed {doc['routed']} of {RESPONSES}, created "
        f"{doc['tasks_created']} tasks and {doc['tickets_created']} tickets; Zendesk calls "
        f"per pass {calls}"
    )
    assert len(passes) > 1, figures  # the limit did bite
    assert not passes[-1].document["deferred_until"], figures
    assert_same_work(actual, expected, figures)
    assert "Deferred" not in status(config)


def test_rel_a_spent_salesforce_allowance_defers_work_and_the_next_pass_finishes_it(
    tmp_path: Path,
) -> None:
    end = end_of_the_year()
    expected = clean_state(tmp_path, end)
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end) as world:
        org = world.salesforce
        org.daily_limit, line = 10_000, 8_000  # the default reserve keeps 20% for others
        org.api_used = line - 1  # one call left: the first lookups of the pass meet the reserve
        config = write_config(tmp_path / "spent.yaml", world, f"sqlite:///{tmp_path / 's.db'}")
        first = sync(config)
        assert first.exit_code == EXIT_TEMPORARY, first.output
        assert set(first.document["deferred_until"]) == {"salesforce"}, first.output
        assert first.document["errors"] == [], first.output
        assert first.document["budget"]["stopped"] is True
        assert first.document["waiting"]["responses"] > 0
        assert "Deferred (rate limit or API allowance): salesforce until" in status(config)

        org.api_used = 0  # the rolling 24 hours moved on
        second = sync(config)
        assert second.exit_code == 0, second.output
        assert second.document["deferred_until"] == {}, second.output
        actual = snapshot(world)
    assert_same_work(actual, expected)


def test_rel_detractors_actions_go_first_when_the_allowance_runs_out_mid_way(
    tmp_path: Path, store_url: str
) -> None:
    with EmulatedWorld(SEED, ACCOUNTS, RESPONSES, end_of_the_year()) as world:
        engine = fast_engine(world, store_url)
        try:
            engine.poll()  # routed: every action is in the outbox
            actions = engine.store.outbox.actions(status="pending")
            tasks = [a for a in actions if a.kind == "salesforce_task"]
            detractors = {a.key for a in tasks if a.priority == DETRACTOR_FIRST}
            assert 0 < len(detractors) < SalesforceTaskExecutor.batch_size < len(tasks)
            org = world.salesforce
            org.daily_limit = 10_000
            org.api_used = 8_000 - 1  # one call left under the reserve: one batch of Tasks
            report = engine.drain()
            created = {t[MARKER] for t in org.records("Task")}
            assert report.deferred_until.keys() == {"salesforce"}
            assert detractors <= created, "every detractor's Task went in the one batch"
            assert len(created) == SalesforceTaskExecutor.batch_size
        finally:
            engine.store.close()


#: A backlog of tickets larger than one window of Zendesk's limit, every one claimed before: a
#: worker took them and died, so each may exist already and costs a request to check.
BACKLOG_RESPONSES, BACKLOG_LIMIT, BACKLOG_WINDOW = 600, 80, 6


def test_rel_a_ticket_backlog_left_by_a_crash_gets_through_a_limit_smaller_than_it(
    tmp_path: Path,
) -> None:
    zendesk = {"rate_limit_per_minute": BACKLOG_LIMIT, "rate_limit_window_seconds": BACKLOG_WINDOW}
    url = f"sqlite:///{tmp_path / 'state.db'}"
    end = quiet_end(SEED, ACCOUNTS, BACKLOG_RESPONSES)
    with EmulatedWorld(SEED, ACCOUNTS, BACKLOG_RESPONSES, end, zendesk_options=zendesk) as world:
        config = write_config(tmp_path / "backlog.yaml", world, url, **NO_WAITING)
        engine = fast_engine(world, url, zendesk=NO_WAITING["zendesk"])
        try:
            engine.poll()  # routed: the tickets wait in the outbox
            crashed = engine.store.outbox.claim(
                "crashed-worker",
                limit=10_000,
                lease=timedelta(0),
                now=datetime.now(UTC),
                kinds=["zendesk_ticket"],
            )
        finally:
            engine.store.close()
        assert len(crashed) > BACKLOG_LIMIT

        passes = [sync(config)]
        while len(passes) < MAX_PASSES:
            if passes[-1].document["deferred_until"]:
                wait_until(passes[-1].document["deferred_until"])
            elif passes[-1].document["held_until"]:
                # Creates that got no answer on a loaded machine, held until they can no
                # longer land (the rate limit is not the only thing that makes a pass wait).
                wait_until(passes[-1].document["held_until"])
            else:
                break
            passes.append(sync(config))
        made = [p.document["tickets_created"] + p.document["tickets_attached"] for p in passes]
        store = StateStore(url)
        try:
            left = unfinished(store)
        finally:
            store.close()
        actual = snapshot(world)
    figures = f"{len(crashed)} ticket actions; made per pass {made}"
    print(f"\nbacklog after a crash: {figures}")
    assert left == {}, figures
    assert not passes[-1].document["deferred_until"], figures
    assert actual.duplicate_tickets == [], figures
    assert set(answered(actual)) == {a.key for a in crashed}, figures
    assert max(answered(actual).values()) == 1, figures
