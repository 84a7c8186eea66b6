"""The state store on SQLite and PostgreSQL: inbox, outbox, leases, cursors, written values."""

from __future__ import annotations

import random
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from more_itertools import chunked

from connectors.models import SourceProblem, SurveyResponse
from sync.state import ActionIntent, ActionResult, RoutingOutcome, StateFileError, StateStore
from sync.state import schema as t

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def response(rid: str, *, score: int = 3, comment: str = "", minutes: int = 0) -> SurveyResponse:
    return SurveyResponse(
        source="delighted",
        response_id=rid,
        email=f"{rid}@example.com",
        score=score,
        comment=comment,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    )


def routed(store: StateStore, rid: str, *keys: str) -> int:
    stored = store.inbox.get("delighted", rid)
    assert stored is not None
    intents = [
        ActionIntent(k, "delighted", rid, "rule", f"action-{k}", "salesforce_task", {"k": k}, "h")
        for k in keys
    ]
    outcome = RoutingOutcome(
        "delighted", rid, stored.version, "matched", "003A", "001A", None, None, {}, {}, intents
    )
    return store.record_routing([outcome], T0).intents


def test_ingest_counts_new_updated_and_unchanged_and_moves_the_cursor(store: StateStore) -> None:
    stats = store.inbox.ingest_page("delighted", [response("1"), response("2")], "100", T0)
    assert (stats.new, stats.updated, stats.unchanged) == (2, 0, 0)
    assert store.cursors.get("delighted") == "100"

    later = response("1", comment="arrived later", minutes=5)
    stats = store.inbox.ingest_page("delighted", [response("2"), later], "200", T0)
    assert (stats.new, stats.updated, stats.unchanged) == (0, 1, 1)
    assert store.cursors.get("delighted") == "200"
    stored = store.inbox.get("delighted", "1")
    assert stored is not None
    assert stored.response.comment == "arrived later"


def test_an_older_version_never_replaces_a_newer_one(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [response("1", comment="new", minutes=9)], None, T0)
    stats = store.inbox.ingest_page(
        "delighted", [response("1", comment="old", minutes=1)], None, T0
    )
    assert stats.unchanged == 1
    stored = store.inbox.get("delighted", "1")
    assert stored is not None
    assert stored.response.comment == "new"


def test_routing_is_not_repeated_for_an_edited_response(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    assert [s.response.response_id for s in store.inbox.pending(10, T0)] == ["1"]
    assert routed(store, "1", "k1") == 1
    assert store.inbox.pending(10, T0) == []

    store.inbox.ingest_page("delighted", [response("1", comment="edited", minutes=3)], None, T0)
    assert len(store.inbox.pending(10, T0)) == 1
    # Same rule and action again: the key exists, nothing new is enqueued.
    assert routed(store, "1", "k1", "k2") == 1
    assert sorted(a.key for a in store.outbox.actions()) == ["k1", "k2"]


def test_a_lease_is_exclusive_until_it_expires(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    routed(store, "1", "a", "b")
    first = store.outbox.claim("w1", limit=10, lease=LEASE, now=T0)
    assert [c.key for c in first] == ["a", "b"]
    assert all(c.attempts == 1 for c in first)
    assert store.outbox.claim("w2", limit=10, lease=LEASE, now=T0 + timedelta(minutes=1)) == []
    # w1 crashed: after the lease, w2 gets the work, knowing it was attempted before.
    again = store.outbox.claim("w2", limit=10, lease=LEASE, now=T0 + timedelta(minutes=6))
    assert [(c.key, c.attempts) for c in again] == [("a", 2), ("b", 2)]
    # The old owner can no longer record an outcome.
    assert not store.outbox.complete("a", "w1", "00T1", T0)
    assert store.outbox.complete("a", "w2", "00T1", T0)


def test_retry_defer_kill_and_revive(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    routed(store, "1", "a", "b", "c")
    store.outbox.claim("w", limit=10, lease=LEASE, now=T0)
    assert store.outbox.retry("a", "w", "503", T0 + timedelta(minutes=1), T0)
    assert store.outbox.defer("b", "w", "quota", T0 + timedelta(hours=1), T0)
    assert store.outbox.kill("c", "w", "FIELD_CUSTOM_VALIDATION_EXCEPTION: no", T0)

    due = store.outbox.claim("w", limit=10, lease=LEASE, now=T0 + timedelta(minutes=2))
    assert [(c.key, c.failures) for c in due] == [("a", 1)]
    assert store.outbox.counts() == {"claimed": 1, "pending": 1, "dead": 1}
    dead = store.outbox.actions(status="dead")
    assert dead[0].last_error == "FIELD_CUSTOM_VALIDATION_EXCEPTION: no"

    assert store.outbox.revive(None, T0) == 1
    assert store.outbox.actions(keys=["c"])[0].status == "pending"


def test_a_create_in_doubt_stays_in_doubt_until_a_result_resolves_it(store: StateStore) -> None:
    """A result that learnt nothing of an unanswered create (a batch told to wait, a lookup
    that failed) keeps its doubt; so does one of an earlier send, against the later send noted
    while the batch ran. Only a result that answers the send, or ``done``, clears it."""
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    routed(store, "1", "deferred", "retried", "answered", "resent", "done")
    keys = ["answered", "deferred", "done", "resent", "retried"]
    sent, resent = T0, T0 + timedelta(minutes=2)
    store.outbox.note_sent(keys, sent)
    store.outbox.claim("w", limit=10, lease=LEASE, now=T0)
    store.outbox.note_sent(["resent"], resent)  # sent again while the batch ran
    later = T0 + timedelta(minutes=3)
    results = [
        ActionResult.defer("deferred", "429: retry after 60s", later),
        ActionResult.retry("retried", "could not check whether it exists already", later),
        ActionResult.retry("answered", "UNABLE_TO_LOCK_ROW", later, settles_sent_by=sent),
        ActionResult.defer("resent", "held", later, sent, settles_sent_by=sent),
        ActionResult.done("done", "00T1"),
    ]
    assert store.outbox.record_results("w", results, T0) == 5

    due = store.outbox.claim("w", limit=10, lease=LEASE, now=later)
    assert {c.key: c.in_doubt_since for c in due} == {
        "answered": None,
        "deferred": sent,
        "resent": resent,
        "retried": sent,
    }


def test_release_gives_leases_back(store: StateStore) -> None:
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    routed(store, "1", "a")
    store.outbox.claim("w", limit=10, lease=LEASE, now=T0)
    assert store.outbox.release_leases("w", T0) == 1
    assert [c.key for c in store.outbox.claim("x", limit=10, lease=LEASE, now=T0)] == ["a"]


def test_written_values_are_upserted(store: StateStore) -> None:
    store.written.record("salesforce", "Contact", {"003A": {"Score": 3, "Cat": "detractor"}}, T0)
    store.written.record("salesforce", "Contact", {"003A": {"Score": 9}}, T0)
    assert store.written.get("salesforce", "Contact", ["003A", "003B"]) == {
        "003A": {"Score": 9, "Cat": "detractor"}
    }


def test_previous_score_is_the_persons_answer_before(store: StateStore) -> None:
    first = response("1", score=9)
    second = SurveyResponse(
        "delighted", "2", first.email, 2, "", T0 + timedelta(days=30), T0 + timedelta(days=30)
    )
    store.inbox.ingest_page("delighted", [first, second], None, T0)
    previous = store.inbox.previous_scores([(first.email, second.created_at), (first.email, T0)])
    assert previous == {(first.email, second.created_at): 9}


def test_migrate_is_idempotent_and_refuses_a_newer_schema(store_url: str) -> None:
    store = StateStore(store_url)
    assert store.migrate() == t.LATEST_VERSION
    assert store.migrate() == t.LATEST_VERSION
    with store.engine.begin() as conn:
        conn.execute(t.schema_version.update().values(version=t.LATEST_VERSION + 1))
    with pytest.raises(StateFileError, match="newer than this nps-sync"):
        store.migrate()
    store.close()


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.runs.start(datetime(2026, 1, 1))


def test_results_of_every_kind_are_recorded_together_each_on_its_own_action(
    store: StateStore,
) -> None:
    store.inbox.ingest_page("delighted", [response("1")], None, T0)
    routed(store, "1", "a", "b", "c", "d", "e")
    store.outbox.claim("w", limit=10, lease=LEASE, now=T0)
    store.outbox.release_leases("w", T0)
    store.outbox.claim("w", limit=4, lease=LEASE, now=T0)  # "e" is not w's
    later = T0 + timedelta(minutes=1)
    results = [
        ActionResult.done("a", "00T1"),
        ActionResult.retry("b", "503", later),
        ActionResult.defer("c", "quota", later + timedelta(hours=1)),
        ActionResult.dead("d", "FIELD_CUSTOM_VALIDATION_EXCEPTION: no"),
        ActionResult.done("e", "00T9"),
    ]

    assert store.outbox.record_results("w", results, later) == 4

    rows = {a.key: a for a in store.outbox.actions()}
    assert (rows["a"].status, rows["a"].external_id, rows["a"].last_error) == ("done", "00T1", None)
    assert (rows["b"].status, rows["b"].failures, rows["b"].next_attempt_at) == (
        "pending",
        1,
        later,
    )
    assert (rows["c"].status, rows["c"].failures, rows["c"].last_error) == ("pending", 0, "quota")
    assert rows["c"].next_attempt_at == later + timedelta(hours=1)
    assert (rows["d"].status, rows["d"].failures) == ("dead", 1)
    assert (rows["e"].status, rows["e"].external_id) == ("pending", None)


def test_a_page_of_new_versions_replaces_each_response_with_its_own(store: StateStore) -> None:
    page = [response(str(i), comment=f"first {i}") for i in range(30)]
    store.inbox.ingest_page("delighted", page, None, T0)
    edited = [response(str(i), comment=f"edited {i}", minutes=i + 1) for i in range(0, 30, 2)]

    stats = store.inbox.ingest_page("delighted", edited + page[1::2], None, T0)

    assert (stats.new, stats.updated, stats.unchanged) == (0, 15, 15)
    for i in range(30):
        stored = store.inbox.get("delighted", str(i))
        assert stored is not None
        assert stored.response.comment == (f"edited {i}" if i % 2 == 0 else f"first {i}")
    with store.engine.connect() as conn:
        versions = conn.execute(sa.select(sa.func.count()).select_from(t.response_versions))
        assert versions.scalar_one() == 45


def _answers(group: str, people: int, each: int) -> list[SurveyResponse]:
    """``each`` answers a day apart from each of ``people`` people."""
    return [
        SurveyResponse(
            "delighted",
            f"{group}{person}-{n}",
            f"{group}{person}@example.com",
            n % 11,
            "",
            T0 + timedelta(days=n),
            T0 + timedelta(days=n),
        )
        for person in range(people)
        for n in range(each)
    ]


def _peak_bytes_of_previous_scores(store: StateStore, group: str, people: int, each: int) -> int:
    for page in chunked(_answers(group, people, each), 2000):
        store.inbox.ingest_page("delighted", page, None, T0)
    asked = [
        (f"{group}{person}@example.com", T0 + timedelta(days=each)) for person in range(people)
    ]
    tracemalloc.start()
    try:
        previous = store.inbox.previous_scores(asked)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert previous == dict.fromkeys(asked, (each - 1) % 11)
    return peak


def test_previous_scores_do_not_read_each_persons_answers(store: StateStore) -> None:
    """An import asks about everyone at once, each person with hundreds of answers: the memory
    of the lookup must not grow with how many answers each person has."""
    few = _peak_bytes_of_previous_scores(store, "few", 60, 10)
    many = _peak_bytes_of_previous_scores(store, "many", 60, 100)
    assert many < 2 * few, (few, many)


def test_previous_scores_match_the_persons_history_ties_included(store: StateStore) -> None:
    """The latest answer strictly before each time asked, the higher score of a tie; none for
    a person's first answer or an unknown person; the same email asked at several times."""
    rng = random.Random(5)
    answers = [
        SurveyResponse(
            "delighted",
            str(n),
            f"p{rng.randrange(6)}@example.com",
            rng.randrange(11),
            "",
            T0 + timedelta(days=rng.randrange(8)),  # many share a day
            T0,
        )
        for n in range(120)
    ]
    store.inbox.ingest_page("delighted", answers, None, T0)
    asked = [(a.email, a.created_at) for a in answers[:80]]
    asked += [("p1@example.com", T0 + timedelta(days=30)), ("nobody@example.com", T0)]

    found = store.inbox.previous_scores(asked)

    expected = {}
    for email, at in asked:
        before = sorted(
            (a.created_at, a.score) for a in answers if a.email == email and a.created_at < at
        )
        if before:
            expected[(email, at)] = before[-1][1]
    assert found == expected
    assert ("nobody@example.com", T0) not in found


def test_a_record_rejected_again_keeps_its_one_row_seen_again(store: StateStore) -> None:
    """A source re-reads its bad tail each pass: each rejected record is stored and logged once,
    and a different reason at the same place is a new problem."""
    bad = SourceProblem("delighted", "delighted response 7", "score 11 is not a whole number")
    other = SourceProblem("delighted", "delighted response 8", "missing email")
    first = store.inbox.ingest_page("delighted", [], None, T0, problems=[bad, other])
    assert first.new_problems == (bad, other)

    changed = SourceProblem("delighted", "delighted response 8", "invalid email (no @)")
    later = T0 + timedelta(minutes=5)
    again = store.inbox.ingest_page("delighted", [], None, later, problems=[bad, changed, bad])
    assert again.new_problems == (changed,)
    assert store.inbox.record_problems([bad], later) == ()

    assert store.inbox.problem_count() == 3
    seen = {p.reason: at for at, p in store.inbox.recent_problems(10)}
    assert seen[bad.reason] == later
    assert seen[other.reason] == T0


def test_the_upgrade_folds_the_copies_earlier_passes_stored(store: StateStore) -> None:
    rows = [
        {"source": "delighted", "location": "delighted response 7", "reason": "bad", "seen_at": at}
        for at in (T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    ]
    rows.append({**rows[0], "reason": "another reason"})
    with store.engine.begin() as conn:
        conn.execute(t.problems.insert(), rows)
        t.MIGRATIONS[19](conn)
    seen = sorted((p.reason, at) for at, p in store.inbox.recent_problems(10))
    assert seen == [("another reason", T0), ("bad", T0 + timedelta(minutes=2))]


def test_an_earlier_version_sent_again_with_the_same_time_does_not_replace_the_later_one(
    store: StateStore,
) -> None:
    """A respondent adds a comment within the same second; a replayed or retried delivery of the
    first version, after the webhook receiver forgot it, must not bring it back."""
    first = response("1", score=2)
    edited = response("1", score=9, comment="actually, great")
    assert store.inbox.ingest_page("delighted", [first], None, T0).new == 1
    assert store.inbox.ingest_page("delighted", [edited], None, T0).updated == 1

    again = store.inbox.ingest_page("delighted", [first], None, T0 + timedelta(hours=1))
    assert (again.updated, again.unchanged) == (0, 1)
    stored = store.inbox.get("delighted", "1")
    assert stored is not None
    assert stored.response.score == 9

    changed_back = response("1", score=2, minutes=5)  # a real later edit back to 2
    assert store.inbox.ingest_page("delighted", [changed_back], None, T0).updated == 1
    stored = store.inbox.get("delighted", "1")
    assert stored is not None
    assert stored.response.score == 2


def test_the_answer_before_its_comment_delivered_after_it_in_the_same_second_is_not_news(
    store: StateStore,
) -> None:
    """Delighted dates in whole seconds: the version with the comment may arrive first (its
    webhook), the one without it later (the first webhook, retried, or a poll). The comment
    stays, whatever comes after."""
    commented = response("1", score=3, comment="Billing charged us twice")
    assert store.inbox.ingest_page("delighted", [commented], None, T0).new == 1
    late = store.inbox.ingest_page("delighted", [response("1", score=3)], None, T0)
    assert (late.updated, late.unchanged) == (0, 1)
    again = store.inbox.ingest_page("delighted", [commented], None, T0)
    assert (again.updated, again.unchanged) == (0, 1)
    stored = store.inbox.get("delighted", "1")
    assert stored is not None
    assert stored.response.comment == "Billing charged us twice"


def test_a_restore_mark_keeps_the_latest_moment_and_goes_once_the_act_window_has_passed(
    store: StateStore,
) -> None:
    assert store.restored.verify_before() is None
    assert store.restored.mark(T0, T0) == T0
    assert store.restored.mark(T0 - timedelta(days=1), T0) == T0  # an earlier one: kept later
    assert store.routing_marks(T0 + timedelta(days=13), timedelta(days=14)).verify_before == T0
    assert store.routing_marks(T0 + timedelta(days=15), timedelta(days=14)).verify_before is None
    assert store.restored.verify_before() is None


def test_actions_queued_before_a_restore_mark_are_looked_up_before_their_first_create(
    store: StateStore,
) -> None:
    store.inbox.ingest_page("delighted", [response("1"), response("2")], None, T0)
    routed(store, "1", "k1")
    assert store.outbox.verify_unfinished(T0) == 1
    routed(store, "2", "k2")
    claimed = {c.key: c.attempts for c in store.outbox.claim("w", limit=5, lease=LEASE, now=T0)}
    assert claimed == {"k1": 2, "k2": 1}  # above 1: looked up by key before any create


def test_responses_held_under_a_name_the_config_no_longer_has_are_found(
    store: StateStore,
) -> None:
    store.inbox.ingest_page("delighted", [response("1"), response("2")], None, T0)
    store.inbox.ingest_page("export", [replace(response("2"), source="export")], None, T0)
    assert store.inbox.held_elsewhere(["1", "2", "3"], among=["delighted"]) == {"delighted": 2}
    # Two configured sources may hold the same answers (an API and an export of it).
    assert store.inbox.held_elsewhere(["2"], among=["gone"]) == {}
    assert store.inbox.held_elsewhere(["2"], among=[]) == {}
