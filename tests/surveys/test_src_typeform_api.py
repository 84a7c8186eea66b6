"""TypeformSource against the Typeform emulator over a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.errors import ConfigError, DeferError, RetryableError
from connectors.models import SurveyResponse
from connectors.surveys import SourcePage, TypeformMapping, TypeformSource
from connectors.transport import make_session
from emulators.base import EmulatorServer, Fault
from emulators.seed import generate_seed
from emulators.typeform import COMMENT_REF, DEFAULT_FORM, SCORE_REF, TypeformEmulator
from sync.core.retry import RetryPolicy
from sync.stages.pull import pull
from sync.state import open_store

TOKEN = "tfp_test_token"
HOST = "https://api.typeform.com"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN_START = datetime(2026, 6, 1, tzinfo=UTC)
MAPPING = TypeformMapping(
    form_id=DEFAULT_FORM,
    score_ref=SCORE_REF,
    comment_ref=COMMENT_REF,
    hidden_properties={"sfid": "Salesforce Contact Id"},
)
#: Fast enough for tests that are not about the rate limit (the emulator's is off for them).
UNPACED = 200.0


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(TypeformEmulator(TOKEN)) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> Iterator[TypeformEmulator]:
    app = server.app
    assert isinstance(app, TypeformEmulator)
    app.clear()
    app.rate_limit_per_second = None
    app.listing_delay_seconds = 0.0
    yield app
    app.rate_limit_per_second = 2


@pytest.fixture
def session(server: EmulatorServer) -> requests.Session:
    return make_session({HOST: server.url})


def source(
    session: requests.Session,
    *,
    token: str = TOKEN,
    page_size: int = 1000,
    lookback: int = 0,
    rate: float = UNPACED,
    form_id: str = DEFAULT_FORM,
) -> TypeformSource:
    mapping = TypeformMapping(
        form_id=form_id,
        score_ref=MAPPING.score_ref,
        comment_ref=MAPPING.comment_ref,
        hidden_properties=MAPPING.hidden_properties,
    )
    return TypeformSource(
        token,
        mapping=mapping,
        session=session,
        page_size=page_size,
        lookback_seconds=lookback,
        requests_per_second=rate,
    )


def everything(pages: Iterator[SourcePage]) -> tuple[list[SurveyResponse], list[SourcePage]]:
    collected = list(pages)
    return [r for page in collected for r in page.responses], collected


def add(emulator: TypeformEmulator, n: int, *, at: datetime = T0) -> str:
    return emulator.add_response(
        email=f"person{n}@example.com", score=n % 11, comment=f"comment {n}", submitted_at=at
    )


def test_reads_a_seeded_form_in_pages_by_before_tokens(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    seed = generate_seed(5, accounts=30, responses=250)
    tokens = emulator.load_seed(seed.responses)
    end = max(r.created_at for r in seed.responses) + timedelta(seconds=1)
    responses, pages = everything(source(session, page_size=100).pages(None, until=end))
    assert sorted(r.response_id for r in responses) == sorted(tokens)
    assert emulator.calls["responses"] == 3  # 100 + 100 + 50, each after the last token
    # Newest first; the cursor comes with the last page only (the pages go back in time).
    assert [p.cursor for p in pages[:-1]] == [None, None]
    newest = max(r.created_at for r in seed.responses)
    assert pages[-1].cursor == str(int(newest.timestamp()))
    by_token = dict(zip(tokens, seed.responses, strict=True))
    for response in responses:
        original = by_token[response.response_id]
        assert response.email == original.email.lower()
        assert (response.score, response.comment) == (original.score, original.comment or "")
        assert response.person_name == original.name
        assert response.updated_at == original.created_at.replace(microsecond=0)
        assert response.created_at < response.updated_at  # landed before it was submitted
        assert response.channel == "typeform"
        contact_id = original.properties.get("Salesforce Contact Id")
        assert response.properties.get("Salesforce Contact Id") == contact_id


def test_the_cursor_resumes_inclusively_and_an_edit_comes_as_a_new_version(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    first = add(emulator, 1, at=T0)
    second = add(emulator, 2, at=T0 + timedelta(minutes=1))
    until = T0 + timedelta(hours=1)
    delivered, pages = everything(source(session).pages(None, until=until))
    assert [r.response_id for r in delivered] == [second, first]
    cursor = pages[-1].cursor
    assert cursor == str(int((T0 + timedelta(minutes=1)).timestamp()))

    again, pages = everything(source(session).pages(cursor, until=until))
    assert [r.response_id for r in again] == [second]  # the boundary second, read again
    assert pages[-1].cursor is None  # nothing newer: the stored cursor stays

    emulator.update_response(first, score=2, comment="Nobody called back.", at=T0 + timedelta(30))
    later, pages = everything(source(session).pages(cursor, until=RUN_START))
    assert [(r.response_id, r.score, r.comment) for r in later] == [
        (first, 2, "Nobody called back."),
        (second, 2, "comment 2"),
    ]
    assert later[0].updated_at == T0 + timedelta(30)  # a new version of the same response
    assert pages[-1].cursor == str(int((T0 + timedelta(30)).timestamp()))


def test_an_edit_is_stored_as_a_new_version_and_routed_again(
    emulator: TypeformEmulator, session: requests.Session, tmp_path: Path
) -> None:
    token = add(emulator, 9, at=T0)
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        tf = source(session)
        first = pull(store, [tf], run_start=RUN_START, now=RUN_START, retry=RetryPolicy())
        emulator.update_response(token, score=3, comment="Changed my mind", at=T0 + timedelta(1))
        second = pull(store, [tf], run_start=RUN_START, now=RUN_START, retry=RetryPolicy())
        stored = store.inbox.get("typeform", token)
    finally:
        store.close()
    assert (first.new, second.new, second.updated) == (1, 0, 1)
    assert stored is not None
    assert (stored.response.score, stored.response.comment) == (3, "Changed my mind")
    assert stored.response.updated_at == T0 + timedelta(1)


def test_the_cursor_never_passes_the_run_start(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    add(emulator, 1, at=T0)
    add(emulator, 2, at=T0 + timedelta(hours=2))
    responses, pages = everything(source(session).pages(None, until=T0 + timedelta(hours=1)))
    assert len(responses) == 1
    assert int(pages[-1].cursor or 0) <= (T0 + timedelta(hours=1)).timestamp()


def test_many_responses_in_one_second_are_all_delivered_once_across_pages(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    tokens = {add(emulator, n, at=T0) for n in range(25)}
    responses, pages = everything(source(session, page_size=10).pages(None, until=RUN_START))
    assert sorted(r.response_id for r in responses) == sorted(tokens)
    assert len(pages) == 3


def test_a_full_last_page_still_hands_over_the_cursor(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    for n in range(10):
        add(emulator, n, at=T0 + timedelta(seconds=n))
    _, pages = everything(source(session, page_size=5).pages(None, until=RUN_START))
    assert pages[-1].responses == []  # the empty page after two full ones
    assert pages[-1].cursor == str(int((T0 + timedelta(seconds=9)).timestamp()))


def test_a_response_listed_late_is_read_within_the_lookback(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    late = emulator.add_response(
        email="late@example.com",
        score=2,
        submitted_at=now - timedelta(minutes=5),
        listed_at=now + timedelta(seconds=2),  # not listed yet
    )
    newer = add(emulator, 1, at=now - timedelta(minutes=1))
    until = now + timedelta(seconds=1)
    seen, pages = everything(source(session, lookback=600).pages(None, until=until))
    assert [r.response_id for r in seen] == [newer]
    cursor = pages[-1].cursor  # a minute ago: past the late response's second
    time.sleep(2.1)  # now it is listed, behind the cursor
    without, _ = everything(source(session).pages(cursor, until=until))
    assert late not in {r.response_id for r in without}
    within, _ = everything(source(session, lookback=600).pages(cursor, until=until))
    assert late in {r.response_id for r in within}


def test_malformed_records_become_problems_that_name_them_and_the_rest_is_read(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    good = add(emulator, 1)
    bad_score = emulator.add_response(email="a@example.com", score=11, submitted_at=T0)
    no_email = emulator.add_response(email="", score=5, submitted_at=T0)
    no_score = emulator.add_response(email="b@example.com", score=None, submitted_at=T0)
    emulator.raw_item({"token": "garbled", "submitted_at": "2026-03-01T12:00:00Z", "answers": 7})
    responses, pages = everything(source(session).pages(None, until=RUN_START))
    assert [r.response_id for r in responses] == [good]
    problems = {p.location: p.reason for page in pages for p in page.problems}
    assert problems == {
        f"typeform response {bad_score}": "score 11 is not a whole number from 0 to 10",
        f"typeform response {no_email}": "missing email",
        f"typeform response {no_score}": (
            f"missing score: no answer to the question with ref {SCORE_REF!r}"
        ),
        "typeform response garbled": "answers is not a list",
    }


def test_partial_responses_are_not_asked_for(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    add(emulator, 1)
    emulator.add_response(email="c@example.com", score=4, submitted_at=T0, completed=False)
    responses, pages = everything(source(session).pages(None, until=RUN_START))
    assert len(responses) == 1
    assert not [p for page in pages for p in page.problems]


def test_a_wrong_token_and_an_unknown_form_are_configuration_errors(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    add(emulator, 1)
    raw = session.get(f"{HOST}/forms/{DEFAULT_FORM}/responses", headers={"Authorization": "x"})
    assert raw.status_code == 401
    assert raw.json()["code"] == "AUTHENTICATION_FAILED"
    with pytest.raises(ConfigError, match="401"):
        list(source(session, token="nope").pages(None, until=RUN_START))
    with pytest.raises(ConfigError, match="is form 'nOsuch' in this account"):
        list(source(session, form_id="nOsuch").pages(None, until=RUN_START))


def test_the_emulator_pages_filters_and_refuses_like_typeform(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    tokens = [add(emulator, n, at=T0 + timedelta(minutes=n)) for n in range(30)]
    url = f"{HOST}/forms/{DEFAULT_FORM}/responses"

    def get(**params: str | int) -> requests.Response:
        return session.get(url, params=params, headers={"Authorization": f"Bearer {TOKEN}"})

    def listed(**params: str | int) -> list[str]:
        answer = get(**params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return [item["token"] for item in body["items"]]

    body = get().json()
    assert (body["total_items"], body["page_count"], len(body["items"])) == (30, 2, 25)
    assert listed(page_size=1000) == tokens[::-1]  # newest first
    assert listed(page_size=5, before=tokens[10]) == tokens[9:4:-1]
    assert listed(page_size=5, after=tokens[10]) == tokens[11:16]
    assert listed(page_size=3, sort="submitted_at,asc") == tokens[:3]
    since = (T0 + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    until = int((T0 + timedelta(minutes=12)).timestamp())
    assert listed(since=since, until=until) == tokens[12:9:-1]  # both ends inclusive
    item = get(page_size=1).json()["items"][0]
    assert set(item) == {
        "landing_id", "token", "response_id", "landed_at", "submitted_at", "metadata",
        "hidden", "calculated", "answers",
    }  # fmt: skip
    assert item["submitted_at"].endswith("Z")
    assert item["answers"][0]["field"] == {
        "id": item["answers"][0]["field"]["id"],
        "type": "opinion_scale",
        "ref": SCORE_REF,
    }
    assert get(page_size=1001).status_code == 400
    assert get(sort="submitted_at,asc", before=tokens[3]).status_code == 400
    assert get(since="yesterday").status_code == 400


def test_requests_are_paced_to_two_a_second_so_typeform_never_says_429(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    emulator.rate_limit_per_second = 2
    for n in range(12):
        add(emulator, n, at=T0 + timedelta(seconds=n))
    started = time.monotonic()
    responses, _ = everything(source(session, page_size=2, rate=2.0).pages(None, until=RUN_START))
    elapsed = time.monotonic() - started
    assert len(responses) == 12
    assert emulator.calls["responses"] == 7
    assert emulator.throttled == 0
    assert elapsed >= 2.5  # 7 requests, half a second apart


def test_a_429_is_retried_after_its_wait_and_the_walk_resumes(
    emulator: TypeformEmulator, session: requests.Session
) -> None:
    tokens = {add(emulator, n, at=T0 + timedelta(seconds=n)) for n in range(15)}
    pages = source(session, page_size=10).pages(None, until=RUN_START)
    first = next(pages)
    emulator.rate_limit_per_second = 2
    other_client = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(2):  # another client of the account spends this second's budget
        session.get(f"{HOST}/forms/{DEFAULT_FORM}/responses", headers=other_client)
    with pytest.raises(RetryableError) as caught:
        next(pages)
    assert caught.value.retry_after == 1.0
    assert emulator.throttled == 1
    time.sleep(caught.value.retry_after)  # what the pull's retry policy waits
    rest = list(pages)  # the same iterator repeats the failed request
    delivered = [r.response_id for page in [first, *rest] for r in page.responses]
    assert sorted(delivered) == sorted(tokens)
    assert emulator.early_requests == []  # nothing sent before the Retry-After ran out


def test_a_long_rate_limit_defers_the_source_in_the_pull_and_it_resumes_later(
    emulator: TypeformEmulator, session: requests.Session, tmp_path: Path
) -> None:
    tokens = {add(emulator, n, at=T0 + timedelta(seconds=n)) for n in range(3)}
    emulator.inject(Fault("429", count=1, retry_after=600, endpoint="responses"))
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        tf = source(session)
        deferred = pull(store, [tf], run_start=RUN_START, now=RUN_START, retry=RetryPolicy())
        assert [type(e) for e in deferred.deferred] == [DeferError]
        assert store.cursors.get("typeform") is None
        emulator.clear_faults()
        later = pull(store, [tf], run_start=RUN_START, now=RUN_START, retry=RetryPolicy())
    finally:
        store.close()
    assert later.new == len(tokens)
    assert later.deferred == []


@pytest.mark.parametrize("kind", ["500", "503", "reset"])
def test_server_errors_and_resets_are_retryable(
    emulator: TypeformEmulator, session: requests.Session, kind: str
) -> None:
    add(emulator, 1)
    emulator.inject(Fault(kind, count=1))
    with pytest.raises(RetryableError):
        list(source(session).pages(None, until=RUN_START))


def test_a_garbled_cursor_is_a_configuration_error(session: requests.Session) -> None:
    with pytest.raises(ConfigError, match="cursor"):
        source(session).pages("yesterday", until=RUN_START)
