"""DelightedSource against the Delighted emulator over a real socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.errors import ConfigError, RetryableError
from connectors.models import SurveyResponse
from connectors.surveys import DelightedSource, SourcePage
from connectors.transport import make_session
from emulators.base import EmulatorServer, Fault
from emulators.delighted import DelightedEmulator
from emulators.seed import generate_seed

KEY = "DELIGHTED_KEY"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN_START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """One server for the module (stopping one takes half a second); state is reset per test."""
    with EmulatorServer(DelightedEmulator(api_key=KEY)) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> Iterator[DelightedEmulator]:
    app = server.app
    assert isinstance(app, DelightedEmulator)
    app.clear()
    yield app
    app.rate_limit_per_minute = None


@pytest.fixture
def session(server: EmulatorServer) -> requests.Session:
    return make_session({"https://api.delighted.com": server.url})


def source(
    session: requests.Session, *, key: str = KEY, per_page: int = 100, streams: int = 1
) -> DelightedSource:
    """A source that walks page after page unless ``streams`` says otherwise."""
    return DelightedSource(key, session=session, per_page=per_page, streams=streams)


def everything(pages: Iterator[SourcePage]) -> tuple[list[SurveyResponse], list[SourcePage]]:
    collected = list(pages)
    return [r for page in collected for r in page.responses], collected


def add(emulator: DelightedEmulator, n: int, *, at: datetime = T0) -> str:
    return emulator.add_response(
        email=f"person{n}@example.com", score=n % 11, comment=f"comment {n}", created_at=at
    )


def test_reads_a_seeded_book_in_pages_of_the_requested_size(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    seed = generate_seed(5, accounts=30, responses=250)
    emulator.load_seed(seed)
    end = max(r.updated_at for r in seed.responses) + timedelta(seconds=1)
    responses, pages = everything(source(session, per_page=100).pages(None, until=end))
    assert {r.response_id for r in responses} == {r.id for r in seed.responses}
    assert len(responses) == 250
    assert all(p.cursor is not None and int(p.cursor) <= end.timestamp() for p in pages)
    assert [r.updated_at for r in responses] == sorted(r.updated_at for r in responses)
    by_id = {r.id: r for r in seed.responses}
    for response in responses:
        original = by_id[response.response_id]
        assert response.email == original.email.lower()
        assert response.score == original.score
        assert response.comment == (original.comment or "")
        assert response.person_name == original.name
        assert response.properties == original.properties
    # a page of 100 (+ re-reads of its boundary second), then the rest
    assert 3 <= emulator.calls["survey_responses"] <= 4


def test_cursor_resumes_inclusively_and_picks_up_later_comments(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    first = add(emulator, 1, at=T0)
    second = add(emulator, 2, at=T0 + timedelta(minutes=1))
    until = T0 + timedelta(hours=1)
    delivered, pages = everything(source(session).pages(None, until=until))
    assert [r.response_id for r in delivered] == [first, second]
    cursor = pages[-1].cursor
    assert cursor == str(int((T0 + timedelta(minutes=1)).timestamp()))

    # Inclusive: the boundary response comes again; the engine drops the known version.
    again, _ = everything(source(session).pages(cursor, until=until))
    assert [r.response_id for r in again] == [second]

    emulator.update_response(first, comment="Support was slow.", at=T0 + timedelta(minutes=30))
    later, pages = everything(source(session).pages(cursor, until=until))
    assert [(r.response_id, r.comment) for r in later] == [
        (second, "comment 2"),
        (first, "Support was slow."),
    ]
    assert pages[-1].cursor == str(int((T0 + timedelta(minutes=30)).timestamp()))


def test_cursor_never_passes_the_run_start(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    add(emulator, 1, at=T0)
    add(emulator, 2, at=T0 + timedelta(hours=2))
    responses, pages = everything(source(session).pages(None, until=T0 + timedelta(hours=1)))
    assert len(responses) == 1
    assert int(pages[-1].cursor or 0) <= (T0 + timedelta(hours=1)).timestamp()


def test_many_responses_in_one_second_are_all_delivered_once(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    ids = {add(emulator, n, at=T0) for n in range(25)}
    responses, _ = everything(source(session, per_page=10).pages(None, until=RUN_START))
    assert sorted(r.response_id for r in responses) == sorted(ids)


def test_malformed_records_become_problems_and_the_rest_is_read(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    good = add(emulator, 1)
    bad_score = emulator.add_response(email="a@example.com", score=11, created_at=T0)
    no_email = emulator.add_response(email="", score=5, created_at=T0)
    responses, pages = everything(source(session).pages(None, until=RUN_START))
    assert [r.response_id for r in responses] == [good]
    problems = {p.location: p.reason for page in pages for p in page.problems}
    assert problems == {
        f"delighted response {bad_score}": "score 11 is not a whole number from 0 to 10",
        f"delighted response {no_email}": "missing email",
    }


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("asc", ["a", "b", "c"]),
        ("desc", ["c", "b", "a"]),
        ("asc:updated_at", ["b", "c", "a"]),
        ("desc:updated_at", ["a", "c", "b"]),
    ],
)
def test_emulator_orders_like_delighted(
    emulator: DelightedEmulator, session: requests.Session, order: str, expected: list[str]
) -> None:
    ids = {name: add(emulator, n, at=T0 + timedelta(days=n)) for n, name in enumerate("abc")}
    names = {response_id: name for name, response_id in ids.items()}
    emulator.update_response(ids["a"], comment="later", at=T0 + timedelta(days=10))
    body = session.get(
        "https://api.delighted.com/v1/survey_responses.json",
        params={"order": order},
        auth=(KEY, ""),
    ).json()
    assert [names[item["id"]] for item in body] == expected


def test_emulator_filters_pages_and_expands_like_delighted(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    for n in range(30):
        add(emulator, n, at=T0 + timedelta(minutes=n))
    url = "https://api.delighted.com/v1/survey_responses.json"

    def get(**params: str | int) -> list[dict[str, object]]:
        response = session.get(url, params=params, auth=(KEY, ""))
        assert response.status_code == 200
        body: list[dict[str, object]] = response.json()
        return body

    assert len(get()) == 20  # default page size
    assert len(get(per_page=500)) == 30  # capped at 100, all fit
    assert len(get(per_page=20, page=2)) == 10
    since = int((T0 + timedelta(minutes=10)).timestamp())
    until = int((T0 + timedelta(minutes=12)).timestamp())
    assert len(get(since=since, until=until)) == 3  # both ends inclusive
    assert len(get(updated_since=since, updated_until=until)) == 3
    plain = get(per_page=1)[0]
    assert isinstance(plain["person"], str)
    expanded = get(per_page=1, **{"expand[]": "person"})[0]
    person = expanded["person"]
    assert isinstance(person, dict)
    assert {"id", "name", "email", "created_at"} <= set(person)
    assert person["id"] == plain["person"]
    assert isinstance(expanded["id"], str)
    assert isinstance(expanded["created_at"], int)
    assert set(expanded) == {
        "id", "person", "survey_type", "score", "comment", "permalink", "created_at",
        "updated_at", "person_properties", "notes", "tags", "additional_answers",
    }  # fmt: skip
    assert session.get(url, params={"order": "sideways"}, auth=(KEY, "")).status_code == 400


def test_wrong_key_is_a_configuration_error(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    add(emulator, 1)
    raw = session.get("https://api.delighted.com/v1/survey_responses.json", auth=("nope", ""))
    assert raw.status_code == 401
    assert raw.json()["status"] == 401
    with pytest.raises(ConfigError, match="401"):
        list(source(session, key="nope").pages(None, until=RUN_START))


def test_rate_limit_is_retryable_with_retry_after_and_the_walk_resumes(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    ids = {add(emulator, n, at=T0 + timedelta(seconds=n)) for n in range(15)}
    pages = source(session, per_page=10).pages(None, until=RUN_START)
    first = next(pages)
    emulator.inject(Fault("429", count=1, retry_after=7))
    with pytest.raises(RetryableError) as caught:
        next(pages)
    assert caught.value.retry_after == 7
    rest = list(pages)  # the same iterator repeats the failed request
    delivered = [r.response_id for page in [first, *rest] for r in page.responses]
    assert sorted(set(delivered)) == sorted(ids)


@pytest.mark.parametrize("kind", ["500", "503", "reset"])
def test_server_errors_and_resets_are_retryable(
    emulator: DelightedEmulator, session: requests.Session, kind: str
) -> None:
    add(emulator, 1)
    emulator.inject(Fault(kind, count=1))
    with pytest.raises(RetryableError):
        list(source(session).pages(None, until=RUN_START))


def test_emulator_rate_limit_window_answers_429_with_retry_after(
    emulator: DelightedEmulator, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(emulator, "clock", lambda: clock[0])
    emulator.rate_limit_per_minute = 2
    url = "https://api.delighted.com/v1/survey_responses.json"
    statuses = [session.get(url, auth=(KEY, "")).status_code for _ in range(3)]
    limited = session.get(url, auth=(KEY, ""))
    clock[0] += 61
    recovered = session.get(url, auth=(KEY, ""))
    assert statuses == [200, 200, 429]
    assert limited.headers["Retry-After"] == "60"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert recovered.status_code == 200


def test_unreachable_host_is_retryable() -> None:
    session = make_session({"https://api.delighted.com": "http://127.0.0.1:9"})
    with pytest.raises(RetryableError, match=r"cannot connect to api\.delighted\.com: connection"):
        list(DelightedSource(KEY, session=session).pages(None, until=RUN_START))


def test_a_garbled_cursor_is_a_configuration_error(session: requests.Session) -> None:
    with pytest.raises(ConfigError, match="cursor"):
        source(session).pages("yesterday", until=RUN_START)


def test_a_response_edited_during_the_run_does_not_hide_another(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    ids = [add(emulator, n, at=T0 + timedelta(seconds=n)) for n in range(25)]
    pages = source(session, per_page=10).pages(None, until=RUN_START)
    first = next(pages)
    # Edited after the run started: it leaves this run's result set (next run picks it up).
    emulator.update_response(ids[2], comment="edited", at=RUN_START + timedelta(minutes=1))
    delivered = {r.response_id for page in [first, *pages] for r in page.responses}
    assert delivered == set(ids)


# -- a long span walked as time slices at once ----------------------------------------------------
# Each request of a page walk depends on the page before, so a first sync or a backfill of a year
# waits for a thousand pages in turn. Walked as slices at once, the pages arrive out of order; what
# must hold is what the page-after-page walk guaranteed: every response delivered once, and each
# page's cursor a point a run can resume from without missing anything not yet delivered.


def walk(session: requests.Session, streams: int) -> DelightedSource:
    return DelightedSource(KEY, session=session, per_page=25, streams=streams)


def seeded(emulator: DelightedEmulator, responses: int = 600) -> dict[str, int]:
    """A year of responses; each id with the Unix second of its last update."""
    seed = generate_seed(11, accounts=40, responses=responses)
    emulator.load_seed(seed)
    return {r.id: int(r.updated_at.timestamp()) for r in seed.responses}


def read_all(pages: Iterator[SourcePage]) -> list[SourcePage]:
    """Every page, asking again after a retryable failure as the pull does."""
    read: list[SourcePage] = []
    while True:
        try:
            read.append(next(pages))
        except StopIteration:
            return read
        except RetryableError:
            continue


def test_slices_deliver_every_response_once_and_each_cursor_is_safe_to_resume_from(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    updated = seeded(emulator)
    until = max(updated.values()) + 1
    end = _at(until)

    serial = read_all(walk(session, 1).pages(None, until=end))
    sliced = read_all(walk(session, 4).pages(None, until=end))

    ids = [r.response_id for page in sliced for r in page.responses]
    assert len(ids) == len(set(ids)) == len(updated)  # each once
    delivered: set[str] = set()
    for page in sliced:
        delivered |= {r.response_id for r in page.responses}
        if page.cursor is not None:  # a run resuming here (inclusive) would miss none of these
            missed = {i for i, at in updated.items() if at < int(page.cursor)} - delivered
            assert missed == set()
    order = [r.updated_at for page in sliced for r in page.responses]
    assert order != sorted(order)  # they did arrive out of order: the slices ran at once
    assert sliced[-1].cursor == serial[-1].cursor  # the walk ends where page after page does


def test_a_slice_that_fails_resumes_where_it_stopped(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    updated = seeded(emulator)
    emulator.inject(Fault("500", count=3))

    pages = read_all(walk(session, 4).pages(None, until=_at(max(updated.values()) + 1)))

    ids = [r.response_id for page in pages for r in page.responses]
    assert sorted(ids) == sorted(updated)


def test_a_walk_stopped_part_way_stops_its_threads_and_resumes_from_its_cursor(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    updated = seeded(emulator)
    end = _at(max(updated.values()) + 1)
    pages = walk(session, 4).pages(None, until=end)
    taken = [next(pages) for _ in range(6)]
    pages.close()  # type: ignore[attr-defined]
    cursor = next(p.cursor for p in reversed(taken) if p.cursor is not None)

    rest = read_all(walk(session, 4).pages(cursor, until=end))

    first = {r.response_id for page in taken for r in page.responses}
    assert first | {r.response_id for page in rest for r in page.responses} == set(updated)
    deadline = time.monotonic() + 5
    while _slice_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _slice_threads() == []


def test_a_short_span_is_walked_page_after_page(
    emulator: DelightedEmulator, session: requests.Session
) -> None:
    updated = seeded(emulator)
    last = max(updated.values())
    since = last - 30 * 24 * 3600  # two pages: a walk that slices would deliver out of order

    pages = read_all(walk(session, 4).pages(str(since), until=_at(last + 1)))

    order = [r.updated_at for page in pages for r in page.responses]
    assert len(order) > 25
    assert order == sorted(order)
    assert {r.response_id for page in pages for r in page.responses} == {
        i for i, at in updated.items() if at >= since
    }


def _slice_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith("-slice")]


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
