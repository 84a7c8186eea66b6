"""Delighted as a survey source: ``GET /v1/survey_responses.json`` ordered by ``updated_at``.

Cursor: the Unix second of the latest ``updated_at`` delivered so far (as text), capped at the
run's start. A run asks for ``updated_since=<cursor>`` (inclusive) and ``updated_until=<run
start>``, so a response whose comment arrives after its score is delivered again as a new version.

Paging walks by ``updated_at`` rather than by page number alone: after each full page the next
request starts at the page's last ``updated_at``. A response edited during the run then leaves the
result set without shifting later pages (page-number paging would silently skip one record).
Page numbers are used only to step through more than a page of responses sharing one second.

A long walk (a first sync or a backfill of months) would wait for each page in turn, as every
request depends on the page before: at 100 ms a call, a year of 100,000 responses is a thousand
pages and 100 s of waiting. When its first page suggests many more, the rest of the span is cut
into ``streams`` consecutive time slices walked at once, each by its own thread a few pages ahead
(:class:`_SlicedWalk`); the pages are handed over as they come, and the cursor each carries never
passes a slice not yet read to its end, so a run that stops part-way resumes before anything it
did not store.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import requests

from connectors.errors import ConfigError, ConnectorError, RetryableError
from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys.delighted_format import parse_delighted_response
from connectors.surveys.source import SourcePage, unix_cursor
from connectors.transport import describe_failure

SYSTEM: Final = "delighted"
MAX_PER_PAGE: Final = 100
#: A walk whose first page suggests at least this many more is read as several time slices at
#: once (a first sync, a backfill); a daemon's regular pass is walked page after page.
SLICED_FROM_PAGES: Final = 20
#: Pages each slice's thread reads ahead of what the pull has taken.
SLICE_AHEAD: Final = 4

#: HTTP status -> what the caller should do. 5xx not listed here are retryable as well;
#: any other 4xx means our request or configuration is wrong.
STATUS_TIERS: Final[dict[int, type[ConnectorError]]] = {
    400: ConfigError,
    401: ConfigError,
    403: ConfigError,
    404: ConfigError,
    408: RetryableError,
    429: RetryableError,
    500: RetryableError,
    502: RetryableError,
    503: RetryableError,
    504: RetryableError,
}


def tier_for_status(status: int) -> type[ConnectorError]:
    if status in STATUS_TIERS:
        return STATUS_TIERS[status]
    return RetryableError if status >= 500 else ConfigError


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


class DelightedSource:
    """Survey responses from Delighted's REST API (see the module docstring for the cursor)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.delighted.com",
        session: requests.Session | None = None,
        per_page: int = MAX_PER_PAGE,
        name: str = "delighted",
        timeout: float = 30.0,
        streams: int = 4,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if streams < 1:
            raise ValueError("streams must be at least 1")
        self.name = name
        self.per_page = per_page
        #: Time slices of a long span walked at once (1: page after page).
        self.streams = streams
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/v1/survey_responses.json"
        self._session = session or requests.Session()
        self._timeout = timeout

    def pages(self, cursor: str | None, *, until: datetime) -> Iterator[SourcePage]:
        """Pages of responses updated from ``cursor`` (inclusive) up to ``until``.

        The iterator is resumable: after a :class:`RetryableError`, calling ``next`` again
        repeats the failed request instead of ending the iteration.
        """
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        since = unix_cursor(cursor, self.name)
        if self.streams > 1:
            return _SlicedWalk(self, since, until)
        return _PageWalker(self, since, until)

    def fetch(self, *, updated_since: int | None, updated_until: int, page: int) -> list[object]:
        """One raw page, oldest update first, with the person expanded."""
        params: dict[str, str | int] = {
            "per_page": self.per_page,
            "page": page,
            "order": "asc:updated_at",
            "expand[]": "person",
            "updated_until": updated_until,
        }
        if updated_since is not None:
            params["updated_since"] = updated_since
        try:
            response = self._session.get(
                self._url, params=params, auth=(self._api_key, ""), timeout=self._timeout
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableError(describe_failure(error), system=self.name) from error
        except requests.RequestException as error:
            raise ConfigError(f"invalid Delighted request: {error}", system=self.name) from error
        if response.status_code != 200:
            raise self._error(response)
        try:
            body = response.json()
        except ValueError as error:
            raise RetryableError(
                "Delighted answered with invalid JSON", system=self.name
            ) from error
        if not isinstance(body, list):
            raise RetryableError("Delighted did not answer with a list", system=self.name)
        return body

    def _error(self, response: requests.Response) -> ConnectorError:
        tier = tier_for_status(response.status_code)
        message = f"HTTP {response.status_code} from Delighted: {_error_message(response)}"
        if tier is RetryableError:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RetryableError(message, system=self.name, retry_after=retry_after)
        return tier(message, system=self.name)


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.reason or ""


class _PageWalker(Iterator[SourcePage]):
    """Walks Delighted's listing by ``updated_at``; state changes only after a successful fetch."""

    def __init__(
        self,
        source: DelightedSource,
        since: int | None,
        until: datetime,
        *,
        updated_until: int | None = None,
    ) -> None:
        self._source = source
        self._until = until
        self._until_unix = int(until.timestamp()) if updated_until is None else updated_until
        self._since = since
        self._page = 1
        self._cursor = since
        self._seen: set[tuple[str, object]] = set()
        self._done = False

    def __iter__(self) -> _PageWalker:
        return self

    @property
    def done(self) -> bool:
        return self._done

    @property
    def until_unix(self) -> int:
        return self._until_unix

    def stop_at(self, updated_until: int) -> None:
        """Read no further than ``updated_until`` (a later slice reads on from there)."""
        self._until_unix = min(self._until_unix, updated_until)

    def __next__(self) -> SourcePage:
        while not self._done:
            raw = self._source.fetch(
                updated_since=self._since, updated_until=self._until_unix, page=self._page
            )
            page = self._absorb(raw)
            if page is not None:
                return page
        raise StopIteration

    def _absorb(self, raw: list[object]) -> SourcePage | None:
        responses: list[SurveyResponse] = []
        problems: list[SourceProblem] = []
        latest: int | None = None
        for item in raw:
            updated = _updated_unix(item)
            if updated is not None:
                latest = updated if latest is None else max(latest, updated)
            key = _identity(item)
            if key is not None:
                if key in self._seen:
                    continue  # delivered earlier in this run, at the boundary second
                self._seen.add(key)
            parsed = parse_delighted_response(item, source=self._source.name, until=self._until)
            if isinstance(parsed, SurveyResponse):
                responses.append(parsed)
            else:
                problems.append(parsed)
        if latest is not None and (self._cursor is None or latest > self._cursor):
            self._cursor = min(latest, self._until_unix)
        self._advance(len(raw), latest)
        if not responses and not problems:
            return None
        cursor = None if self._cursor is None else str(self._cursor)
        return SourcePage(responses, problems, cursor)

    def _advance(self, count: int, latest: int | None) -> None:
        if count < self._source.per_page:
            self._done = True
        elif latest is not None and (self._since is None or latest > self._since):
            self._since = latest
            self._page = 1
            self._seen = {key for key in self._seen if key[1] == latest}
        else:
            self._page += 1  # a full page within one second: step through it by number


def _identity(item: object) -> tuple[str, object] | None:
    if not isinstance(item, dict) or item.get("id") is None:
        return None
    return (str(item["id"]), item.get("updated_at"))


def _updated_unix(item: object) -> int | None:
    if not isinstance(item, dict):
        return None
    value = item.get("updated_at")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


#: What a slice's thread hands over once its walk is read to the end.
_END: Final = object()


@dataclass(eq=False)
class _Slice:
    """One time slice of a sliced walk: its walker, and what the pull has taken of it."""

    walker: _PageWalker
    #: Where a run resumes while nothing of this slice was taken (all before it was).
    start: int | None
    #: The cursor of the last page taken from it.
    taken: str | None = None
    done: bool = False
    #: Pages it may still read ahead of what was taken.
    room: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(SLICE_AHEAD))
    thread: threading.Thread | None = None

    def resume_point(self) -> str | None:
        return self.taken if self.taken is not None else _text(self.start)


class _SlicedWalk(Iterator[SourcePage]):
    """A long walk read as ``streams`` consecutive time slices at once (module docstring).

    The first page is read as a page walk does. When it suggests :data:`SLICED_FROM_PAGES` more
    (the span left over the span it covered), the rest is cut into slices: the walk goes on as
    the first of them, and each other slice is a :class:`_PageWalker` over its own
    ``updated_at`` range. Each slice is read by a thread of its own into a shared queue, at
    most :data:`SLICE_AHEAD` pages ahead. Pages are handed over as they arrive; the cursor of
    each is where a run must resume so as to miss nothing not yet handed over: the progress of
    the earliest slice not read to its end. When a slice's end moves that point on, an empty
    page carries the new cursor. An error of a slice is raised here; the next call restarts that
    slice's thread where its walker stopped (walkers change state only after a successful
    fetch). :meth:`close` stops the threads.
    """

    def __init__(self, source: DelightedSource, since: int | None, until: datetime) -> None:
        self._source = source
        self._until = until
        self._head = _PageWalker(source, since, until)
        #: None until the first page is read; empty: the walk goes on page after page.
        self._slices: list[_Slice] | None = None
        self._arrived: queue.Queue[tuple[_Slice, object]] = queue.Queue()
        self._closed = threading.Event()
        self._point: str | None = _text(since)

    def __iter__(self) -> _SlicedWalk:
        return self

    def __next__(self) -> SourcePage:
        if self._slices is None:
            first = next(self._head)
            self._slices = self._plan(first)
            return first
        if not self._slices:
            return next(self._head)
        for piece in self._slices:
            if not piece.done and piece.thread is None:
                piece.thread = threading.Thread(
                    target=self._read, args=(piece,), name=f"{self._source.name}-slice", daemon=True
                )
                piece.thread.start()
        while any(not piece.done for piece in self._slices):
            piece, item = self._arrived.get()
            if isinstance(item, BaseException):
                piece.thread = None  # restarted by the next call
                raise item
            if item is _END:
                piece.done = True
                moved = self._resume_point()
                if moved != self._point:
                    self._point = moved
                    return SourcePage([], [], moved)
                continue
            assert isinstance(item, SourcePage)
            piece.room.release()
            if item.cursor is not None:
                piece.taken = item.cursor
            self._point = self._resume_point()
            return SourcePage(item.responses, item.problems, self._point, item.warnings)
        raise StopIteration

    def close(self) -> None:
        """Stop the slices' threads (a pull that ends before the walk does)."""
        self._closed.set()

    def _plan(self, first: SourcePage) -> list[_Slice]:
        """The slices of what is left after ``first``; none when a page walk will do."""
        if self._head.done or first.cursor is None:
            return []
        high = int(first.cursor)
        low = min((int(r.updated_at.timestamp()) for r in first.responses), default=high)
        until = self._head.until_unix
        if (until - high) / max(high - low, 1) < SLICED_FROM_PAGES:
            return []
        streams = self._source.streams
        bounds = [high + (until - high) * i // streams for i in range(streams + 1)]
        self._head.stop_at(bounds[1])
        self._point = first.cursor
        slices = [_Slice(self._head, high, taken=first.cursor)]
        for start, last in itertools.pairwise(bounds[1:]):
            walker = _PageWalker(self._source, start + 1, self._until, updated_until=last)
            slices.append(_Slice(walker, start + 1))
        return slices

    def _resume_point(self) -> str | None:
        assert self._slices is not None
        for piece in self._slices:
            if not piece.done:
                return piece.resume_point()
        return self._slices[-1].resume_point()

    def _read(self, piece: _Slice) -> None:
        item: object = _END
        try:
            for page in piece.walker:
                while not piece.room.acquire(timeout=0.5):
                    if self._closed.is_set():
                        return
                if self._closed.is_set():
                    return
                self._arrived.put((piece, page))
        except Exception as exc:  # handed over to the pull, which raises it
            item = exc
        if not self._closed.is_set():
            self._arrived.put((piece, item))


def _text(unix: int | None) -> str | None:
    return None if unix is None else str(unix)
