"""Surveying a person again through Delighted's people API, and the resurvey executor's rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connectors.errors import RecordError
from connectors.models import SurveyResponse
from connectors.surveys import DelightedPeople
from connectors.transport import make_session
from emulators.base import EmulatorServer, Fault
from emulators.delighted import DelightedEmulator
from sync.core.retry import RetryPolicy
from sync.stages.act import result_of
from sync.stages.executors.resurvey import LOOP_PROPERTY, ResurveyExecutor
from sync.state import ActionIntent, RoutingOutcome, StateStore
from sync.state.loops import Loop

KEY = "DELIGHTED_KEY"
FAST = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(DelightedEmulator(api_key=KEY)) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> DelightedEmulator:
    app = server.app
    assert isinstance(app, DelightedEmulator)
    app.clear()
    return app


@pytest.fixture
def people(server: EmulatorServer) -> DelightedPeople:
    session = make_session({"https://api.delighted.com": server.url})
    return DelightedPeople(KEY, session=session)


def test_a_survey_is_scheduled_with_its_delay_and_properties(
    emulator: DelightedEmulator, people: DelightedPeople
) -> None:
    made = people.schedule_survey(
        "Ana@Example.com", name="Ana", delay_seconds=3600, properties={"Plan": "Pro"}
    )

    (survey,) = emulator.scheduled_surveys()
    assert survey["email"] == "Ana@Example.com"
    assert survey["properties"] == {"Plan": "Pro"}
    assert made.send_at is not None
    assert abs(made.send_at.timestamp() - survey["send_at"]) < 1
    assert abs(survey["send_at"] - emulator.clock() - 3600) < 5
    pending = people.pending_survey("ana@example.com")
    assert pending is not None
    assert pending.person_id == made.person_id
    answer = emulator.answer_scheduled("ana@example.com", score=9)
    assert emulator.response_payload(answer)["person_properties"] == {"Plan": "Pro"}
    assert people.pending_survey("ana@example.com") is None


def test_form_fields_are_read_as_delighted_reads_them(
    server: EmulatorServer, emulator: DelightedEmulator
) -> None:
    answer = requests.post(
        f"{server.url}/v1/people.json",
        data={"email": "ben@example.com", "delay": "60", "properties[Team]": "Ops"},
        auth=(KEY, ""),
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["survey_scheduled_at"] is not None
    assert emulator.scheduled_surveys()[0]["properties"] == {"Team": "Ops"}
    refused = requests.post(
        f"{server.url}/v1/people.json", data={"delay": "5"}, auth=(KEY, ""), timeout=5
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "email", "code": "invalid"}]
    unauthorized = requests.post(f"{server.url}/v1/people.json", data={"email": "x@y.z"}, timeout=5)
    assert unauthorized.status_code == 401


def test_a_refused_person_is_a_record_error(people: DelightedPeople) -> None:
    with pytest.raises(RecordError, match="invalid email"):
        people.schedule_survey("not an email", name="", delay_seconds=0, properties={})


# -- the executor ----------------------------------------------------------------------------------
class Queue:
    """Routes responses with a resurvey intent and records outcomes as the drain does."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.now = T0

    def add(self, rid: str, email: str, *, after: timedelta = 14 * DAY, **extra: Any) -> None:
        response = SurveyResponse("delighted", rid, email, 3, "slow", T0 - DAY, T0 - DAY)
        self.store.inbox.ingest_page("delighted", [response], None, T0)
        (stored,) = [s for s in self.store.inbox.pending(1000, T0) if s.response.response_id == rid]
        payload = {
            "email": email,
            "person_name": "",
            "submitted_at": (T0 - DAY).isoformat(),
            "after_seconds": int(after.total_seconds()),
            "cooldown_seconds": int((90 * DAY).total_seconds()),
            "properties": {"Campaign": "win-back"},
            **extra,
        }
        intent = ActionIntent(
            f"k-{rid}", "delighted", rid, "r", "win_back", "resurvey", payload, "h"
        )
        outcome = RoutingOutcome(
            "delighted", rid, stored.version, "matched", None, None, None, None, {}, {}, [intent]
        )
        self.store.record_routing([outcome], T0)

    def loop(self, rid: str, state: str, ended: datetime | None) -> None:
        self.store.loops.save([Loop("delighted", rid, state, T0 - DAY, ended_at=ended)], [], T0)

    def run(self, executor: ResurveyExecutor) -> dict[str, Any]:
        claimed = self.store.outbox.claim(
            "w", limit=100, lease=timedelta(minutes=5), now=self.now, kinds=["resurvey"]
        )
        outcomes = executor.execute(claimed)
        by_key = {a.key: a for a in claimed}
        results = [
            result_of(by_key[o.key], o, 8, timedelta(seconds=30), self.now) for o in outcomes
        ]
        self.store.outbox.record_results("w", results, self.now)
        return {o.key: o for o in outcomes}


@pytest.fixture
def queue(store: StateStore) -> Queue:
    return Queue(store)


def executor(people: DelightedPeople, store: StateStore, queue: Queue) -> ResurveyExecutor:
    return ResurveyExecutor({"delighted": people}, store, FAST, clock=lambda: queue.now)


def test_only_a_resolved_loop_is_resurveyed_and_a_person_once_per_cooldown(
    emulator: DelightedEmulator, people: DelightedPeople, store: StateStore, queue: Queue
) -> None:
    run = executor(people, store, queue)
    queue.add("open", "open@example.com")
    queue.add("closed", "closed@example.com")
    queue.add("first", "twice@example.com")
    queue.add("second", "twice@example.com")
    queue.loop("open", "contacted", None)
    queue.loop("closed", "closed", T0)
    queue.loop("first", "resolved", T0 - 2 * DAY)

    outcomes = queue.run(run)

    assert outcomes["k-open"].result == "defer"
    assert (outcomes["k-closed"].result, outcomes["k-closed"].external_id) == ("done", "")
    assert outcomes["k-first"].result == "done"
    assert outcomes["k-first"].external_id
    (survey,) = emulator.scheduled_surveys()
    assert survey["properties"] == {"Campaign": "win-back", LOOP_PROPERTY: "delighted:first"}
    # 14 days after the loop ended, which was two days ago
    assert abs(survey["send_at"] - emulator.clock() - 12 * 86_400) < 5

    queue.loop("second", "resolved", T0)
    queue.now += DAY
    second = queue.run(run)["k-second"]
    assert (second.result, second.external_id) == ("done", "")  # within the cooldown
    assert len(emulator.scheduled_surveys()) == 1


def test_a_request_that_landed_before_a_crash_is_not_sent_again(
    emulator: DelightedEmulator, people: DelightedPeople, store: StateStore, queue: Queue
) -> None:
    queue.add("r1", "ana@example.com")
    queue.loop("r1", "resolved", T0)
    run = executor(people, store, queue)
    claimed = store.outbox.claim(
        "w", limit=10, lease=timedelta(minutes=5), now=queue.now, kinds=["resurvey"]
    )
    run.execute(claimed)  # asked, then the worker dies before recording it

    queue.now += timedelta(minutes=6)
    (outcome,) = queue.run(run).values()

    assert outcome.result == "done"
    assert outcome.external_id
    assert len(emulator.scheduled_surveys()) == 1
    assert emulator.calls["people_create"] == 1


def test_a_late_answer_is_retried_and_finds_the_survey_it_scheduled(
    emulator: DelightedEmulator, people: DelightedPeople, store: StateStore, queue: Queue
) -> None:
    queue.add("r1", "ana@example.com")
    queue.loop("r1", "resolved", T0)
    run = ResurveyExecutor(
        {"delighted": people}, store, RetryPolicy(attempts=1), clock=lambda: queue.now
    )
    emulator.inject(Fault("late", count=1, endpoint="people_create", hang_seconds=0.2))

    (first,) = queue.run(run).values()
    queue.now += timedelta(minutes=5)
    (second,) = queue.run(run).values()

    assert first.result == "retry"
    assert second.result == "done"
    assert emulator.calls["people_create"] == 1
    assert len(emulator.scheduled_surveys()) == 1
