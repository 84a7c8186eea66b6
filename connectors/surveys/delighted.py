"""Delighted as a survey source: ``GET /v1/survey_responses.json`` ordered by ``updated_at``.

Cursor: the Unix second of the latest ``updated_at`` delivered so far (as text), capped at the
run's start. A run asks for ``updated_since=<cursor>`` (inclusive) and ``updated_until=<run
start>``, so a response whose comment arrives after its score is delivered again as a new version.

Paging walks by ``updated_at`` rather than by page number alone: after each full page the next
request starts at the page's last ``updated_at``. A response edited during the run then leaves the
result set without shifting later pages (page-number paging would silently skip one record).
Page numbers are used only to step through more than a page of responses sharing one second.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        self.name = name
        self.per_page = per_page
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
        return _PageWalker(self, unix_cursor(cursor, self.name), until)

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

    def __init__(self, source: DelightedSource, since: int | None, until: datetime) -> None:
        self._source = source
        self._until = until
        self._until_unix = int(until.timestamp())
        self._since = since
        self._page = 1
        self._cursor = since
        self._seen: set[tuple[str, object]] = set()
        self._done = False

    def __iter__(self) -> _PageWalker:
        return self

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
