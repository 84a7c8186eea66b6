"""Forgetting respondents in the store, on both backends: what goes, what waits, and that a
forgotten answer is never stored again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from connectors.models import SurveyResponse, WriteResult
from sync.core.config import Config
from sync.core.errors import UnavailableError
from sync.core.retry import RetryPolicy
from sync.ops.forget import forget
from sync.stages.executors.erase import RecordEraseExecutor
from sync.state import ActionIntent, ClaimedAction, RoutingOutcome, StateStore
from sync.state.forgotten import FollowUp
from tests.support import wait_for

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
CONFIG = Config.model_validate(
    {
        "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
        "zendesk": {"subdomain": "acme"},
        "rules": "rules.yaml",
    }
)


def answered(store: StateStore, rid: str, email: str, contact: str = "003A") -> None:
    """An answer, routed with one Task for it."""
    response = SurveyResponse("delighted", rid, email, 2, "Call me.", T0, T0)
    store.inbox.ingest_page("delighted", [response], None, T0)
    stored = store.inbox.get("delighted", rid)
    assert stored is not None
    task = ActionIntent(f"task-{rid}", "delighted", rid, "rule", "task", "salesforce_task", {}, "h")
    outcome = RoutingOutcome(
        "delighted", rid, stored.version, "matched", contact, "001A", 42, None, {}, {}, [task]
    )
    assert store.record_routing([outcome], T0).intents == 1


def test_a_follow_up_being_made_holds_forgetting_back_until_its_lease_ends(
    store: StateStore,
) -> None:
    answered(store, "r1", "ana@example.com")
    (claimed,) = store.outbox.claim("worker", limit=5, lease=timedelta(minutes=5), now=T0)

    with pytest.raises(UnavailableError, match="being made right now"):
        forget(store, CONFIG, ["ana@example.com"], T0 + timedelta(minutes=1), dry_run=False)
    assert store.inbox.get("delighted", "r1") is not None
    assert [a.key for a in store.outbox.actions()] == [claimed.key]

    done = forget(store, CONFIG, ["ANA@example.com"], T0 + timedelta(minutes=6), dry_run=False)
    assert done.person.answers == [("delighted", "r1")]
    # Its worker died mid-create: the Task may exist, and is listed by the key it would carry.
    assert done.person.follow_ups == [FollowUp("salesforce_task", "", claimed.key)]
    assert store.inbox.get("delighted", "r1") is None
    assert [a.kind for a in store.outbox.actions()] == ["clear_fields", "clear_fields"]


def test_a_forgotten_answer_is_not_stored_again_but_a_new_one_is(store: StateStore) -> None:
    answered(store, "r1", "ana@example.com")
    forget(store, CONFIG, ["ana@example.com"], T0, dry_run=False)

    edited = SurveyResponse("delighted", "r1", "ana@example.com", 9, "Fine now.", T0, T0 + DAY)
    later = SurveyResponse("delighted", "r2", "ana@example.com", 8, "", T0 + DAY, T0 + DAY)
    stats = store.inbox.ingest_page("delighted", [edited, later], "c", T0 + DAY)
    history = store.inbox.ingest_history("delighted", [edited], T0 + DAY)

    assert (stats.new, stats.updated, history.new) == (1, 0, 0)
    assert store.inbox.get("delighted", "r1") is None
    assert store.inbox.get("delighted", "r2") is not None
    assert store.forgotten.count() == 1


def test_a_contact_keeping_answers_under_another_address_is_recomputed_not_cleared(
    store: StateStore,
) -> None:
    answered(store, "r1", "ana@example.com")
    answered(store, "r2", "ana.work@example.com")

    result = forget(store, CONFIG, ["ana@example.com"], T0, dry_run=False)

    assert [c.object for c in result.clears] == []
    assert result.recomputed == [("Account", "001A"), ("Contact", "003A")]
    queued = store.write_backs.queued()
    assert (set(queued.contacts), set(queued.accounts)) == ({"003A"}, {"001A"})
    assert store.inbox.get("delighted", "r2") is not None


def test_one_answer_given_by_mistake_is_forgotten_and_the_person_kept(
    store: StateStore,
) -> None:
    answered(store, "r1", "ana@example.com")
    answered(store, "r2", "ana@example.com")

    result = forget(store, CONFIG, [], T0, dry_run=False, responses=[("delighted", "r1")])

    assert result.person.answers == [("delighted", "r1")]
    assert [c.object for c in result.clears] == []  # the contact keeps r2: recomputed
    assert result.recomputed == [("Account", "001A"), ("Contact", "003A")]
    assert store.inbox.get("delighted", "r1") is None
    assert store.inbox.get("delighted", "r2") is not None
    assert [a.key for a in store.outbox.actions()] == ["task-r2"]


def test_forgetting_waits_for_a_write_back_another_process_runs(
    store: StateStore, store_url: str
) -> None:
    answered(store, "r1", "ana@example.com")
    with subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", HOLD_LOCK, store_url, "write-back"],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(UnavailableError, match="write-back"):
                forget(store, CONFIG, ["ana@example.com"], T0, dry_run=False)
            assert store.inbox.get("delighted", "r1") is not None
        finally:
            holder.kill()

    def forgotten() -> bool:
        # PostgreSQL frees a killed session's advisory locks once it sees the connection gone.
        try:
            return forget(store, CONFIG, ["ana@example.com"], T0, dry_run=False).removed > 0
        except UnavailableError:
            return False

    assert wait_for(forgotten, timeout=20)


def test_many_addresses_at_once_are_looked_up_in_parts(store: StateStore) -> None:
    answered(store, "r1", "ana@example.com")
    many = [f"person{i}@example.com" for i in range(1_200)] + ["ana@example.com"]

    result = forget(store, CONFIG, many, T0, dry_run=False)

    assert result.person.answers == [("delighted", "r1")]


HOLD_LOCK = """
import sys, time
from sync.state import StateStore
store = StateStore(sys.argv[1])
with store.locks.singleton(sys.argv[2]) as mine:
    print("held" if mine else "taken", flush=True)
    time.sleep(60)
"""


def test_a_dry_run_changes_nothing(store: StateStore) -> None:
    answered(store, "r1", "ana@example.com")

    result = forget(store, CONFIG, ["ana@example.com"], T0, dry_run=True)

    assert [(c.object, c.record_id) for c in result.clears] == [
        ("Contact", "003A"),
        ("user", "42"),
    ]
    assert store.inbox.get("delighted", "r1") is not None
    assert store.forgotten.count() == 0
    assert [a.kind for a in store.outbox.actions()] == ["salesforce_task"]


class Eraser:
    def __init__(self, *results: WriteResult) -> None:
        self.results = list(results)

    def delete_by_external_id(
        self, object_type: str, external_id_field: str, keys: Sequence[str]
    ) -> list[WriteResult]:
        return self.results


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([WriteResult("a", ok=True), WriteResult("b", ok=True)], "done"),
        ([WriteResult("a", ok=True), WriteResult("b", ok=False, error="x", tier="retry")], "retry"),
        ([WriteResult("a", ok=False, error="x", tier="defer")], "defer"),
        (
            [
                WriteResult("a", ok=False, error="busy", tier="retry"),
                WriteResult("b", ok=False, error="no access", tier="skip"),
            ],
            "dead",
        ),
    ],
    ids=["all deleted", "one to retry", "deferred", "one refused for good"],
)
def test_a_history_erase_ends_as_its_worst_record(
    results: list[WriteResult], expected: str
) -> None:
    action = ClaimedAction(
        "k",
        "erase_records",
        {"object": "NPS_Response__c", "external_id_field": "Response_Id__c", "keys": ["a", "b"]},
        1,
        0,
        "forget",
        "NPS_Response__c a",
        "forget",
        None,
    )
    executor = RecordEraseExecutor(Eraser(*results), RetryPolicy(attempts=1))

    (outcome,) = executor.execute([action])

    assert outcome.result == expected


DAY = timedelta(days=1)
