"""Bulk-write jobs as real Zendesk runs them: queued at submission, done after one to three polls.

The poll counts and status sequences are checked against the job statuses in recorded traffic
(``../shared/oracles/zendesk``) where it is available.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import requests

from emulators.zendesk import ZendeskEmulator
from emulators.zendesk.errors import ApiError
from emulators.zendesk.jobs import REALISTIC_POLLS, STATUS_TTL_SECONDS, JobBoard
from tests.emulators.zendesk.test_zd_fidelity import ORACLES, body_of
from tests.support import require

API = "https://acme.zendesk.com/api/v2"
JOB_ID = re.compile(r"V3-[0-9a-f]{32}")
JOB_KEYS = {"id", "url", "total", "progress", "status", "message", "results"}


def submit(http: requests.Session, tickets: int = 1) -> dict[str, Any]:
    body = {"tickets": [{"subject": f"s{i}", "comment": {"body": "b"}} for i in range(tickets)]}
    answer = http.post(f"{API}/tickets/create_many.json", json=body)
    answer.raise_for_status()
    job: dict[str, Any] = answer.json()["job_status"]
    return job


def statuses_until_done(http: requests.Session, job: dict[str, Any]) -> tuple[str, ...]:
    """The status at submission, then at each poll until ``completed`` (at most 5 polls)."""
    seen = [job["status"]]
    for _ in range(5):
        polled = http.get(job["url"]).json()["job_status"]
        assert set(polled) == JOB_KEYS
        seen.append(polled["status"])
        if polled["status"] == "completed":
            break
    return tuple(seen)


def test_jobs_are_queued_at_submission_and_done_after_one_to_three_polls(
    http: requests.Session,
) -> None:
    sequences = [statuses_until_done(http, submit(http)) for _ in range(30)]

    assert {s[0] for s in sequences} == {"queued"}
    assert {s[-1] for s in sequences} == {"completed"}
    assert {len(s) - 1 for s in sequences} == {1, 2, 3}  # polls taken, each count drawn
    assert all(set(s[1:-1]) <= {"working"} for s in sequences)


def test_a_job_reports_progress_and_results_only_when_completed(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    _, url = serve(job_polls_to_complete=3)
    http = make_raw(url)
    job = submit(http, tickets=6)

    polls = [http.get(job["url"]).json()["job_status"] for _ in range(3)]

    assert (job["progress"], job["results"]) == (None, None)
    assert [(p["status"], p["progress"]) for p in polls] == [
        ("working", 2),
        ("working", 4),
        ("completed", 6),
    ]
    assert polls[0]["message"] == "Creating ticket #2"
    assert [p["results"] is None for p in polls] == [True, True, False]
    assert [r["index"] for r in polls[-1]["results"]] == list(range(6))


def test_show_many_polls_up_to_100_jobs_at_once_and_skips_unknown_ids(
    http: requests.Session, emulator: ZendeskEmulator
) -> None:
    jobs = [submit(http)["id"] for _ in range(3)]
    ids = ",".join([jobs[2], "V3-0123456789abcdef0123456789abcdef", jobs[0], jobs[1]])

    rounds = []
    for _ in range(REALISTIC_POLLS[1]):
        answer = http.get(f"{API}/job_statuses/show_many.json", params={"ids": ids}).json()
        rounds.append({j["id"]: j["status"] for j in answer["job_statuses"]})
    too_many = http.get(f"{API}/job_statuses/show_many.json", params={"ids": ",".join(jobs * 34)})

    assert [list(r) for r in rounds] == [[jobs[2], jobs[0], jobs[1]]] * len(rounds)
    assert rounds[-1] == dict.fromkeys(jobs, "completed")
    assert emulator.calls["job_statuses_show_many"] == len(rounds) + 1  # one call a round
    assert too_many.status_code == 400
    assert too_many.json()["error"] == "TooManyValues"


def test_job_ids_are_random_and_never_repeat_after_a_restart(
    serve: Callable[..., tuple[ZendeskEmulator, str]],
    make_raw: Callable[[str], requests.Session],
) -> None:
    """A client holding a job id from before a restart must not find someone else's job."""
    ids = []
    for _ in range(2):  # the same seed both times, as a restarted emulator would have
        _, url = serve(seed=7)
        http = make_raw(url)
        ids.append([submit(http)["id"] for _ in range(3)])
    _, url = serve(seed=7)
    stale = make_raw(url).get(f"{API}/job_statuses/{ids[0][0]}.json")

    assert all(JOB_ID.fullmatch(job_id) for job_id in ids[0] + ids[1])
    assert not set(ids[0]) & set(ids[1])
    assert stale.status_code == 404


def recorded_job_sequences() -> list[tuple[str, ...]]:
    """Each recorded job's statuses: at submission, then at every poll."""
    folder = require(ORACLES, "NO ZENDESK ORACLES: recorded Zendesk traffic")
    sequences = []
    for cassette in sorted(folder.glob("*.json")):
        jobs: dict[str, list[str]] = defaultdict(list)
        for interaction in json.loads(cassette.read_text(encoding="utf-8"))["http_interactions"]:
            body = body_of(interaction["response"].get("body"))
            if isinstance(body, dict) and isinstance(body.get("job_status"), dict):
                jobs[body["job_status"]["id"]].append(body["job_status"]["status"])
        sequences += [tuple(s) for s in jobs.values() if s[-1] == "completed"]
    return sequences


def test_recorded_jobs_took_the_polls_the_emulator_draws_from(http: requests.Session) -> None:
    recorded = recorded_job_sequences()
    emulated = {statuses_until_done(http, submit(http)) for _ in range(30)}

    polls = {len(s) - 1 for s in recorded}
    assert min(polls) == REALISTIC_POLLS[0]
    assert max(polls) == REALISTIC_POLLS[1]
    assert {s[0] for s in recorded} == {"queued"}  # never done at submission
    assert emulated <= set(recorded)


def test_jobs_applied_on_completion_take_effect_in_order_and_their_status_expires() -> None:
    applied: list[str] = []
    board = JobBoard((2, 2), random.Random(0), apply="on_completion", seconds_to_complete=10.0)

    def work(name: str) -> Callable[[], list[dict[str, Any]]]:
        def apply() -> list[dict[str, Any]]:
            applied.append(name)
            return [{"index": 0, "id": len(applied)}]

        return apply

    first = board.submit("Creating ticket", 1, work("first"), now=0.0)
    second = board.submit("Creating ticket", 1, work("second"), now=1.0)
    board.settle(5.0)
    assert applied == []  # accepted, not run: nothing to find yet

    board.poll(second.id, now=6.0)
    assert applied == []
    board.poll(second.id, now=6.0)  # its second poll: it completes, after the one before it
    assert applied == ["first", "second"]
    assert first.completed_at == second.completed_at == 6.0

    late = board.submit("Creating ticket", 1, work("late"), now=7.0)
    board.settle(17.0)  # nobody polled it; it ran anyway
    assert applied == ["first", "second", "late"]
    assert late.results == [{"index": 0, "id": 3}]

    board.settle(6.0 + STATUS_TTL_SECONDS + 1)
    with pytest.raises(ApiError):
        board.poll(first.id, now=6.0 + STATUS_TTL_SECONDS + 1)
    assert [job.id for job in board.all()] == [late.id]
