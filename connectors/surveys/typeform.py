"""Typeform as a survey source: ``GET /forms/{form_id}/responses`` with a bearer token.

Cursor: the Unix second of the latest ``submitted_at`` delivered so far (as text), capped at the
run's start, as for Delighted. A run asks for ``since=<cursor - lookback>`` (inclusive),
``until=<run start>`` and ``completed=true``; a response submitted again later has a later
``submitted_at`` and is delivered again as a new version.

Paging follows Typeform's listing, newest first: each next page asks for the responses ``before``
the last token of the page before, which neither skips nor repeats a response, however many share
one second. Since the pages go back in time, the cursor is handed over with the last page only
(the pages before it carry none): a run cut short resumes from the cursor stored before it, and
the inbox drops the versions it already has.

``lookback_seconds`` re-reads a window before the cursor: the listing can show a response some
time after it was submitted (webhooks are immediate), and a response listed late must not fall
behind a cursor that already passed its second.

Typeform allows 2 requests a second per account on this API; requests are spaced to that rate
per token, in this process, and a 429 is retried after its ``Retry-After`` (1 s without one) by
the caller's retry policy; a longer wait than the policy sleeps defers the source to a later
pass, so a pass never blocks on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import requests

from connectors.errors import ConfigError, ConnectorError, RetryableError
from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys.delighted import parse_retry_after, tier_for_status
from connectors.surveys.source import SourcePage, unix_cursor
from connectors.surveys.typeform_format import TypeformMapping, parse_typeform_response
from connectors.transport import describe_failure

SYSTEM: Final = "typeform"
MAX_PAGE_SIZE: Final = 1000
#: Typeform's documented limit for the Responses API, per account.
REQUESTS_PER_SECOND: Final = 2.0
#: Requests are spaced a little wider than the limit allows: two requests sent exactly half a
#: second apart can arrive closer together than they left.
PACING_MARGIN: Final = 1.1
#: What a 429 without ``Retry-After`` waits: one rate-limit window.
DEFAULT_RETRY_AFTER: Final = 1.0


class _Pacer:
    """Spaces requests made with one token at least ``interval`` seconds apart."""

    _shared: ClassVar[dict[tuple[str, float], _Pacer]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_token(cls, token: str, requests_per_second: float) -> _Pacer:
        """One pacer per token and rate in the process: sources sharing an account share it."""
        key = (token, requests_per_second)
        with cls._shared_lock:
            pacer = cls._shared.get(key)
            if pacer is None:
                pacer = cls._shared[key] = cls(PACING_MARGIN / requests_per_second)
            return pacer

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class TypeformSource:
    """Responses to one Typeform form (see the module docstring for the cursor and paging)."""

    def __init__(
        self,
        token: str,
        *,
        mapping: TypeformMapping,
        base_url: str = "https://api.typeform.com",
        session: requests.Session | None = None,
        page_size: int = MAX_PAGE_SIZE,
        name: str = "typeform",
        lookback_seconds: int = 0,
        requests_per_second: float = REQUESTS_PER_SECOND,
        timeout: float = 30.0,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if lookback_seconds < 0 or requests_per_second <= 0:
            raise ValueError("lookback_seconds must be >= 0 and requests_per_second > 0")
        self.name = name
        self.mapping = mapping
        self.page_size = page_size
        self.lookback_seconds = lookback_seconds
        self._token = token
        self._url = f"{base_url.rstrip('/')}/forms/{mapping.form_id}/responses"
        self._session = session or requests.Session()
        self._timeout = timeout
        self._pacer = _Pacer.for_token(token, requests_per_second)

    def pages(self, cursor: str | None, *, until: datetime) -> Iterator[SourcePage]:
        """Pages of responses submitted from ``cursor`` (inclusive, less the lookback) up to
        ``until``; resumable after a :class:`RetryableError` like every source."""
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        since = unix_cursor(cursor, self.name)
        return _PageWalker(self, since, until)

    def fetch(
        self, *, since: int | None, until: int, before: str | None = None, page_size: int | None
    ) -> list[object]:
        """One raw page of completed responses, newest first: the listing's ``items``."""
        params: dict[str, str | int] = {
            "page_size": page_size or self.page_size,
            "until": _iso(until),
            "completed": "true",
        }
        if since is not None:
            params["since"] = _iso(since)
        if before is not None:
            params["before"] = before
        body = self._get(params)
        items = body.get("items")
        if not isinstance(items, list):
            raise RetryableError("Typeform's answer has no list of items", system=self.name)
        return items

    def _get(self, params: dict[str, str | int]) -> dict[str, Any]:
        self._pacer.wait()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            response = self._session.get(
                self._url, params=params, headers=headers, timeout=self._timeout
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableError(describe_failure(error), system=self.name) from error
        except requests.RequestException as error:
            raise ConfigError(f"invalid Typeform request: {error}", system=self.name) from error
        if response.status_code != 200:
            raise self._error(response)
        try:
            body = response.json()
        except ValueError as error:
            raise RetryableError("Typeform answered with invalid JSON", system=self.name) from error
        if not isinstance(body, dict):
            raise RetryableError("Typeform did not answer with an object", system=self.name)
        return body

    def _error(self, response: requests.Response) -> ConnectorError:
        status = response.status_code
        tier = tier_for_status(status)
        message = f"HTTP {status} from Typeform: {_error_message(response)}"
        if status == 404:
            message += f" (is form {self.mapping.form_id!r} in this account?)"
        if tier is RetryableError:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429 and retry_after is None:
                retry_after = DEFAULT_RETRY_AFTER
            return RetryableError(message, system=self.name, retry_after=retry_after)
        return tier(message, system=self.name)


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("code", "description") if isinstance(body.get(k), str)]
        if parts:
            return ": ".join(parts)
    return response.reason or ""


def _iso(unix: int) -> str:
    """Typeform's documented date form: UTC, to the second, ``T`` between date and time."""
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _PageWalker(Iterator[SourcePage]):
    """Walks the listing back in time by ``before`` tokens; state changes only after a
    successful fetch, so a failed request is repeated by the next ``next()``."""

    def __init__(self, source: TypeformSource, cursor: int | None, until: datetime) -> None:
        self._source = source
        self._until_unix = int(until.timestamp())
        self._until = until
        self._cursor = cursor
        self._since = None if cursor is None else max(cursor - source.lookback_seconds, 0)
        self._before: str | None = None
        self._latest = cursor
        self._seen: set[str] = set()
        self._done = False

    def __iter__(self) -> _PageWalker:
        return self

    def __next__(self) -> SourcePage:
        while not self._done:
            raw = self._source.fetch(
                since=self._since,
                until=self._until_unix,
                before=self._before,
                page_size=self._source.page_size,
            )
            page = self._absorb(raw)
            if page is not None:
                return page
        raise StopIteration

    def _absorb(self, raw: list[object]) -> SourcePage | None:
        responses: list[SurveyResponse] = []
        problems: list[SourceProblem] = []
        last_token: str | None = None
        for item in raw:
            token = _token(item)
            if token is not None:
                last_token = token
                if token in self._seen:
                    continue
                self._seen.add(token)
            submitted = _submitted_unix(item)
            if submitted is not None:
                latest = min(submitted, self._until_unix)
                self._latest = latest if self._latest is None else max(self._latest, latest)
            parsed = parse_typeform_response(
                item, source=self._source.name, mapping=self._source.mapping, until=self._until
            )
            if isinstance(parsed, SurveyResponse):
                responses.append(parsed)
            else:
                problems.append(parsed)
        if len(raw) < self._source.page_size or last_token is None:
            self._done = True
        else:
            self._before = last_token
        cursor = None
        if self._done and self._latest is not None and self._latest != self._cursor:
            cursor = str(self._latest)
        if not responses and not problems and cursor is None:
            return None
        return SourcePage(responses, problems, cursor)


def _token(item: object) -> str | None:
    if not isinstance(item, dict):
        return None
    token = item.get("token") or item.get("response_id")
    return token if isinstance(token, str) and token else None


def _submitted_unix(item: object) -> int | None:
    if not isinstance(item, dict):
        return None
    value = item.get("submitted_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
