"""create_missing with a settle window: a create that got no answer is held, not sent again, until
the window has passed since it was sent; what turns up meanwhile is adopted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors.errors import DeferError, RetryableError, WriteInDoubtError
from connectors.models import SurveyResponse, WriteResult
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, create_missing, deferred, result_of
from sync.stages.settle import RECHECK_AFTER, SettleWindow
from sync.state import ActionIntent, ClaimedAction, StateStore

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=11)
FAST = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0)
MAX_ATTEMPTS = 8


class Org:
    """Records created by key; a create may be answered, lost, or refused."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.sends: list[list[str]] = []
        self.lost = 0  # creates whose answer never comes
        self.land = True  # whether a lost create took effect (before the lookup)
        self.refused = 0  # creates refused before they were carried out
        self.noted: list[list[str]] = []  # keys noted as sent, in order

    def lookup(self, keys: list[str]) -> dict[str, str]:
        return {k: self.records[k] for k in keys if k in self.records}

    def create(self, todo: list[ClaimedAction]) -> list[WriteResult]:
        keys = [a.key for a in todo]
        assert self.noted[-1:] == [keys]  # noted in the store before the request leaves
        self.sends.append(keys)
        if self.refused:
            self.refused -= 1
            raise RetryableError("503: server unavailable")
        if self.lost:
            self.lost -= 1
            if self.land:
                self.records.update({k: f"id-{k}" for k in keys})
            raise WriteInDoubtError("did not answer in time")
        self.records.update({k: f"id-{k}" for k in keys})
        return [WriteResult(k, True, external_id=f"id-{k}") for k in keys]


def action(
    key: str, *, attempts: int = 1, since: datetime | None = None, failures: int = 0
) -> ClaimedAction:
    return ClaimedAction(
        key,
        "salesforce_task",
        {},
        attempts,
        failures,
        "delighted",
        key,
        "r",
        None,
        in_doubt_since=since,
    )


def response(rid: str) -> SurveyResponse:
    return SurveyResponse("delighted", rid, f"{rid}@example.com", 3, "", T0, T0)


def run(
    org: Org,
    actions: list[ClaimedAction],
    now: datetime,
    recheck: Callable[[list[str], datetime], dict[str, str]] | None = None,
) -> dict[str, Outcome]:
    settle = SettleWindow(
        lambda: now,
        WINDOW,
        lambda keys, _at: org.noted.append(list(keys)),
        system="Salesforce",
        max_failures=MAX_ATTEMPTS,
    )
    outcomes = create_missing(
        actions, lookup=org.lookup, create=org.create, retry=FAST, settle=settle, recheck=recheck
    )
    return {o.key: o for o in outcomes}


def test_an_unanswered_create_that_landed_is_adopted_at_once() -> None:
    org = Org()
    org.lost = 1
    outcomes = run(org, [action("a"), action("b")], T0)
    assert {k: (o.result, o.found_existing) for k, o in outcomes.items()} == {
        "a": ("done", True),
        "b": ("done", True),
    }
    assert org.sends == [["a", "b"]]


def test_an_unanswered_create_not_found_is_held_from_when_it_was_sent() -> None:
    org = Org()
    org.lost, org.land = 1, False
    outcomes = run(org, [action("a")], T0)
    held = outcomes["a"]
    assert (held.result, held.in_doubt_since, held.not_before) == ("defer", T0, T0 + RECHECK_AFTER)
    assert org.sends == [["a"]]  # not sent again in the same call


def test_within_the_window_an_action_in_doubt_is_looked_up_and_held_never_sent() -> None:
    org = Org()
    later = T0 + WINDOW - timedelta(seconds=30)
    outcomes = run(org, [action("a", attempts=2, since=T0)], later)
    assert (outcomes["a"].result, outcomes["a"].not_before) == ("defer", T0 + WINDOW)
    assert outcomes["a"].in_doubt_since == T0
    assert org.sends == []

    org.records["a"] = "id-late"  # it landed late: adopted on the next look
    outcomes = run(org, [action("a", attempts=3, since=T0)], later)
    assert (outcomes["a"].result, outcomes["a"].external_id) == ("done", "id-late")
    assert org.sends == []


def test_after_the_window_a_lookup_that_finds_nothing_lets_it_be_created() -> None:
    org = Org()
    outcomes = run(org, [action("a", attempts=2, since=T0)], T0 + WINDOW)
    assert (outcomes["a"].result, outcomes["a"].found_existing) == ("done", False)
    assert outcomes["a"].in_doubt_since is None
    assert org.sends == [["a"]]


def test_a_refused_create_is_not_in_doubt_but_one_held_stays_held() -> None:
    """A 503 says the create was not carried out: retried as before. An action still in doubt
    from an earlier attempt keeps its hold whatever happens to the rest of the batch."""
    org = Org()
    org.refused = 5
    now = T0 + timedelta(minutes=2)
    outcomes = run(org, [action("new"), action("old", attempts=2, since=T0)], now)
    assert (outcomes["new"].result, outcomes["new"].in_doubt_since) == ("retry", None)
    assert (outcomes["old"].result, outcomes["old"].in_doubt_since) == ("defer", T0)
    assert all("old" not in keys for keys in org.sends)


def test_only_sends_large_enough_to_queue_a_job_are_noted() -> None:
    noted: list[list[str]] = []
    now = datetime(2026, 1, 1, tzinfo=UTC)
    settle = SettleWindow(lambda: now, WINDOW, lambda keys, _at: noted.append(list(keys)), 2)

    assert settle.sending(["one"]) == now  # one request, answered when done: nothing queued
    settle.sending(["a", "b"])

    assert noted == [["a", "b"]]


def test_a_held_create_is_not_a_failure_until_the_window_passes_with_nothing_found() -> None:
    """Holding counts nothing; a create that got no answer and had not landed by the end of
    the window failed: the deferral after it is sent again (and held again) counts it."""
    org = Org()
    org.lost, org.land = 1, False
    held = run(org, [action("a", attempts=2, since=T0)], T0 + WINDOW - timedelta(seconds=1))
    assert (held["a"].result, held["a"].counts_failure) == ("defer", False)

    outcomes = run(org, [action("a", attempts=3, since=T0)], T0 + WINDOW)
    again = outcomes["a"]
    assert (again.result, again.counts_failure, again.in_doubt_since) == (
        "defer",
        True,
        T0 + WINDOW,
    )
    assert org.sends == [["a"]]
    claimed = action("a", attempts=3, since=T0, failures=2)
    recorded = result_of(claimed, again, MAX_ATTEMPTS, timedelta(seconds=30), T0 + WINDOW)
    assert (recorded.status, recorded.failed, recorded.in_doubt_since) == (
        "pending",
        True,
        T0 + WINDOW,
    )


def test_the_failure_that_reaches_max_attempts_ends_it_unsent_saying_it_never_answered() -> None:
    org = Org()
    last = action("a", attempts=9, since=T0, failures=MAX_ATTEMPTS - 1)
    outcomes = run(org, [last, action("b", attempts=9, since=T0, failures=2)], T0 + WINDOW)
    assert outcomes["a"].result == "dead"
    assert outcomes["a"].error.startswith("Salesforce never answered")
    assert "response delighted/a" in outcomes["a"].error
    assert org.sends == [["b"]]  # only the one with failures to spare is sent again


def test_what_turns_up_by_the_last_lookup_is_adopted_however_often_it_failed() -> None:
    org = Org()
    org.records["a"] = "id-late"
    last = action("a", attempts=9, since=T0, failures=MAX_ATTEMPTS - 1)
    outcomes = run(org, [last], T0 + WINDOW)
    assert (outcomes["a"].result, outcomes["a"].external_id) == ("done", "id-late")
    assert org.sends == []


def test_held_actions_are_rechecked_together_and_only_the_lookup_after_the_window_decides() -> None:
    org = Org()
    org.records["b"] = "id-b"
    asked: list[tuple[list[str], datetime]] = []

    def recheck(keys: list[str], since: datetime) -> dict[str, str]:
        asked.append((keys, since))
        return {}  # a look that misses what exists keeps it held, never lets it be sent

    later = T0 + timedelta(minutes=3)
    held = [action("a", attempts=2, since=T0), action("b", attempts=2, since=T0 + RECHECK_AFTER)]
    outcomes = run(org, held, later, recheck)
    assert asked == [(["a", "b"], T0)]
    assert {k: o.result for k, o in outcomes.items()} == {"a": "defer", "b": "defer"}

    outcomes = run(org, [action("b", attempts=3, since=T0)], T0 + WINDOW, recheck)
    assert len(asked) == 1  # past the window: looked up by ``lookup``, found, adopted
    assert (outcomes["b"].result, outcomes["b"].external_id) == ("done", "id-b")
    assert org.sends == []


def test_a_create_in_doubt_is_held_through_a_batch_told_to_wait_and_fails_once_when_lapsed(
    store: StateStore,
) -> None:
    """A batch deferred as a whole (a 429 before the lookup) learns nothing of an unanswered
    create: the next pass within the window still holds it. The lookup after the window settles
    it (a failure, counted once); a 429 on the create sent again then (one request, not noted)
    learns nothing new, so the passes after neither hold it again nor count the lapse twice."""
    store.inbox.ingest_page("delighted", [response("r")], None, T0)
    intent = ActionIntent("a", "delighted", "r", "rule", "task", "salesforce_task", {}, "h")
    store.outbox.enqueue([intent], T0)
    clock = [T0]
    store.outbox.claim("w", limit=1, lease=timedelta(minutes=5), now=T0)
    store.outbox.note_sent(["a"], T0)  # sent, no answer; then the worker died
    org = Org()
    told_to_wait = DeferError("429", system="Salesforce")
    answers: list[Exception | None] = [told_to_wait, told_to_wait, None]

    def create(todo: list[ClaimedAction]) -> list[WriteResult]:
        org.sends.append([a.key for a in todo])
        if (error := answers.pop(0)) is not None:
            raise error
        return [WriteResult(a.key, True, external_id=f"id-{a.key}") for a in todo]

    def act_pass(at: datetime, told_to_wait: bool = False) -> None:
        clock[0] = at
        (claimed,) = store.outbox.claim("w", limit=1, lease=timedelta(minutes=5), now=at)
        settle = SettleWindow(lambda: clock[0], WINDOW, store.outbox.note_sent, note_from=2)
        outcomes = (
            deferred([claimed], DeferError("429: retry after 60s", not_before=at))
            if told_to_wait
            else create_missing(
                [claimed], lookup=org.lookup, create=create, retry=FAST, settle=settle
            )
        )
        results = [result_of(claimed, o, MAX_ATTEMPTS, timedelta(seconds=30), at) for o in outcomes]
        store.outbox.record_results("w", results, at)

    act_pass(T0 + timedelta(minutes=6), told_to_wait=True)
    act_pass(T0 + timedelta(minutes=7))
    assert org.sends == []  # still held: the create sent at T0 may still land
    act_pass(T0 + WINDOW)  # not found after the window: sent again, told to wait
    act_pass(T0 + WINDOW + timedelta(minutes=10))  # told to wait again
    act_pass(T0 + WINDOW + timedelta(minutes=20))

    (row,) = store.outbox.actions(keys=["a"])
    assert (row.status, row.failures, row.external_id) == ("done", 1, "id-a")
    assert org.sends == [["a"], ["a"], ["a"]]


def test_a_pass_that_outlasts_the_window_counts_its_unanswered_create_once() -> None:
    """The lookup right after a lost create ends when the window has passed (a slow pass). That
    lookup came too soon to say the create failed: the action waits, counting nothing, and the
    lookup of the next pass counts the failure, once."""
    org = Org()
    org.lost, org.land = 2, False
    clock = [T0]
    settle = SettleWindow(
        lambda: clock[0],
        WINDOW,
        lambda keys, _at: org.noted.append(list(keys)),
        system="Salesforce",
        max_failures=MAX_ATTEMPTS,
    )

    def slow_lookup(keys: list[str]) -> dict[str, str]:
        clock[0] = T0 + WINDOW + timedelta(seconds=1)
        return org.lookup(keys)

    (first,) = create_missing(
        [action("a")], lookup=slow_lookup, create=org.create, retry=FAST, settle=settle
    )
    recorded = result_of(action("a"), first, MAX_ATTEMPTS, timedelta(seconds=30), clock[0])
    assert (recorded.status, recorded.failed, recorded.in_doubt_since) == ("pending", False, T0)

    clock[0] = later = T0 + WINDOW + timedelta(minutes=1)
    (second,) = create_missing(
        [action("a", attempts=2, since=T0)],
        lookup=org.lookup,
        create=org.create,
        retry=FAST,
        settle=settle,
    )
    assert (second.result, second.counts_failure, second.in_doubt_since) == ("defer", True, later)
    assert org.sends == [["a"], ["a"]]
