"""A loopback emulator of Delighted's survey-response listing API and of scheduling surveys.

It serves ``GET /v1/survey_responses.json`` as the real service does (basic auth with the API key as
user name, ``page``/``per_page`` paging, ``since``/``until`` on creation, ``updated_since``/
``updated_until`` on the last update, four orders, ``expand[]=person``, Unix-second timestamps) so
:class:`connectors.surveys.DelightedSource` can be tested over a real socket. Tests change
responses with :meth:`DelightedEmulator.update_response` to exercise "the comment arrived later".

``POST /v1/people.json`` adds or updates a person and schedules a survey as Delighted does:
``email`` (required), ``name``, ``delay`` (seconds, default 0), ``send`` (default true) and
``properties``, as JSON or form fields (``properties[Key]=value``); it answers with the person
and ``survey_scheduled_at``. A person has at most one pending survey: a later request replaces
it. ``GET /v1/people.json?email=`` lists that person with ``next_survey_scheduled_at``. Tests
answer a scheduled survey with :meth:`DelightedEmulator.answer_scheduled`: the response carries
the properties it was scheduled with, as ``person_properties``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from emulators.base import EmulatorApp, Fault, Request, Response, wait_for_second
from emulators.seed_model import Seed

DEFAULT_PER_PAGE: Final = 20
MAX_PER_PAGE: Final = 100
ORDERS: Final[dict[str, tuple[str, bool]]] = {
    "asc": ("created_at", False),
    "desc": ("created_at", True),
    "asc:updated_at": ("updated_at", False),
    "desc:updated_at": ("updated_at", True),
}
_REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class _StoredResponse:
    id: str
    person_id: str
    email: str
    name: str
    score: int
    comment: str | None
    created_at: int
    updated_at: int
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    survey_type: str = "nps"

    def sort_key(self, timestamp_field: str) -> tuple[int, int, str]:
        timestamp: int = getattr(self, timestamp_field)
        return (timestamp, len(self.id), self.id)


@dataclass
class _StoredPerson:
    id: str
    created_at: int
    last_responded_at: int


@dataclass
class _ScheduledSurvey:
    """A survey Delighted will send: to whom, when, with which properties."""

    person_id: str
    email: str
    name: str
    send_at: int
    properties: dict[str, str]
    requested_at: int = 0


class _BadParameterError(ValueError):
    """A query parameter the real API would reject with 400."""


class DelightedEmulator(EmulatorApp):
    """Delighted's survey responses over HTTP; ``calls["survey_responses"]`` counts list calls.

    ``rate_limit_per_minute`` (off by default) answers 429 with ``Retry-After`` once a fixed
    one-minute window is used up and adds ``X-RateLimit-*`` headers; injected faults
    (:class:`~emulators.base.Fault`) work as in every emulator.
    """

    system = "delighted"

    def __init__(
        self,
        api_key: str = "DELIGHTED_KEY",
        *,
        seed: int = 0,
        rate_limit_per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(seed=seed)
        self.api_key = api_key
        self.rate_limit_per_minute = rate_limit_per_minute
        self.clock = clock
        self._responses: dict[str, _StoredResponse] = {}
        self._people: dict[str, _StoredPerson] = {}
        self._person_ids_by_email: dict[str, str] = {}
        self._next_response_id = 900_000_001
        self._next_person_id = 70_000_001
        self._window_start = 0.0
        self._window_used = 0
        #: Per timestamp field, every response in ascending order and its timestamps, so that a
        #: listing bisects to its range instead of sorting everything; any change empties it.
        self._ordered: dict[str, tuple[list[_StoredResponse], list[int]]] = {}
        self._scheduled: dict[str, _ScheduledSurvey] = {}
        #: Every survey scheduled, in order, replaced or answered ones too (for tests that
        #: check nothing was asked twice).
        self._schedule_log: list[_ScheduledSurvey] = []
        self.route("GET", r"/v1/survey_responses(?:\.json)?", "survey_responses", self._list)
        self.route("POST", r"/v1/people(?:\.json)?", "people_create", self._create_person)
        self.route("GET", r"/v1/people(?:\.json)?", "people", self._list_people)

    # -- test set-up ----------------------------------------------------------------------------
    def load_seed(self, seed: Seed) -> None:
        """Serve ``seed.responses`` (in addition to anything added before)."""
        with self.lock:
            for item in seed.responses:
                self._store(
                    _StoredResponse(
                        id=item.id,
                        person_id=item.person_id,
                        email=item.email,
                        name=item.name,
                        score=item.score,
                        comment=item.comment,
                        created_at=_unix(item.created_at),
                        updated_at=_unix(item.updated_at),
                        properties=dict(item.properties),
                        tags=list(item.tags),
                    )
                )

    def add_response(
        self,
        *,
        email: str,
        score: int,
        comment: str | None = None,
        name: str = "",
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        properties: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        response_id: str | None = None,
        survey_type: str = "nps",
    ) -> str:
        """Store a response as Delighted would have recorded it; returns its id.

        Values are not validated, so tests can serve malformed data (a score of 11, no email).
        """
        with self.lock:
            created = _unix(created_at) if created_at else int(self.clock())
            if response_id is None:
                response_id = str(self._next_response_id)
                self._next_response_id += 1
            key = email.strip().lower()
            person_id = self._person_ids_by_email.get(key)
            if person_id is None:
                person_id = str(self._next_person_id)
                self._next_person_id += 1
            self._store(
                _StoredResponse(
                    id=response_id,
                    person_id=person_id,
                    email=email,
                    name=name,
                    score=score,
                    comment=comment,
                    created_at=created,
                    updated_at=_unix(updated_at) if updated_at else created,
                    properties=dict(properties or {}),
                    tags=list(tags),
                    survey_type=survey_type,
                )
            )
            return response_id

    def update_response(
        self,
        response_id: str,
        *,
        comment: str | None = None,
        score: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Change a response (``None`` leaves a value as it is) and move its ``updated_at``.

        ``updated_at`` becomes ``at`` (default: now), and always at least one second later than
        before, so a change is always visible to an ``updated_since`` query. An edit made in the
        second of the one before is dated the next second, and on the wall clock this returns
        when that second has come: the API never shows an edit dated ahead of its clock.
        """
        with self.lock:
            stored = self._responses[response_id]
            if comment is not None:
                stored.comment = comment
            if score is not None:
                stored.score = score
            moment = _unix(at) if at else int(self.clock())
            stored.updated_at = max(moment, stored.updated_at + 1)
            self._ordered.clear()
            dated = stored.updated_at
        if at is None:
            wait_for_second(self.clock, dated)

    def response_payload(self, response_id: str, *, expand_person: bool = True) -> dict[str, Any]:
        """A response exactly as the API (and a webhook's ``event_data``) would render it."""
        with self.lock:
            return self._render(self._responses[response_id], expand_person)

    def webhook(
        self, response_id: str, *, event_type: str = "survey_response.created"
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Delighted POSTs for a response event, signed with the API key
        (``X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>``)."""
        event = {"event_type": event_type, "event_data": self.response_payload(response_id)}
        body = json.dumps(event).encode("utf-8")
        digest = hmac.new(self.api_key.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Delighted-Webhook-Signature": f"sha256={digest}",
        }
        return body, headers

    def send_webhook(
        self,
        url: str,
        response_id: str,
        *,
        event_type: str = "survey_response.created",
        timeout: float = 10.0,
    ) -> int:
        """POST a response's signed webhook to ``url``, as Delighted would; returns the status
        (a refused request's too: the caller decides whether to send it again)."""
        body, headers = self.webhook(response_id, event_type=event_type)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - a URL the tester gives
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)

    def scheduled_surveys(self) -> list[dict[str, Any]]:
        """The pending surveys: ``email``, ``name``, ``send_at`` (Unix time), ``properties``."""
        with self.lock:
            return [
                {
                    "email": s.email,
                    "name": s.name,
                    "send_at": s.send_at,
                    "properties": dict(s.properties),
                }
                for s in sorted(self._scheduled.values(), key=lambda s: (s.send_at, s.email))
            ]

    def survey_requests(self) -> list[dict[str, Any]]:
        """Every survey ever scheduled, oldest first, replaced and answered ones included: as
        :meth:`scheduled_surveys`, plus ``requested_at`` (Unix time)."""
        with self.lock:
            return [
                {
                    "email": s.email,
                    "name": s.name,
                    "send_at": s.send_at,
                    "properties": dict(s.properties),
                    "requested_at": s.requested_at,
                }
                for s in self._schedule_log
            ]

    def answer_scheduled(
        self,
        email: str,
        *,
        score: int,
        comment: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """The person answers their pending survey: a response with its properties; its id."""
        with self.lock:
            survey = self._scheduled.pop(self._person_ids_by_email[email.strip().lower()])
        return self.add_response(
            email=survey.email,
            score=score,
            comment=comment,
            name=survey.name,
            created_at=created_at,
            properties=survey.properties,
        )

    def clear(self) -> None:
        """Forget every response, person, counter, fault and rate-limit window (test isolation)."""
        with self.lock:
            self._scheduled.clear()
            self._schedule_log.clear()
            self._responses.clear()
            self._ordered.clear()
            self._people.clear()
            self._person_ids_by_email.clear()
            self._window_start = 0.0
            self._window_used = 0
            self.forget_traffic()

    def response_count(self) -> int:
        with self.lock:
            return len(self._responses)

    def _store(self, response: _StoredResponse) -> None:
        self._responses[response.id] = response
        self._ordered.clear()
        self._person_ids_by_email.setdefault(response.email.strip().lower(), response.person_id)
        person = self._people.get(response.person_id)
        if person is None:
            self._people[response.person_id] = _StoredPerson(
                response.person_id, response.created_at - 86_400, response.created_at
            )
        else:
            person.created_at = min(person.created_at, response.created_at - 86_400)
            person.last_responded_at = max(person.last_responded_at, response.created_at)

    # -- HTTP -----------------------------------------------------------------------------------
    def error_response(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        message = _REASONS.get(status, "Error")
        return Response.json({"status": status, "message": message}, status, headers)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "429" and fault.retry_after is None:
            # Delighted always says when to come back.
            return self.error_response(429, request, {"Retry-After": "1"})
        return super().fault_response(fault, request)

    def decorate(self, request: Request, response: Response) -> None:
        limit = self.rate_limit_per_minute
        if limit is None:
            return
        with self.lock:
            remaining = max(limit - self._window_used, 0)
            reset = int(self._window_start + 60)
        response.headers.setdefault("X-RateLimit-Limit", str(limit))
        response.headers.setdefault("X-RateLimit-Remaining", str(remaining))
        response.headers.setdefault("X-RateLimit-Reset", str(reset))

    def _create_person(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.json({"status": 401, "message": "Invalid API key"}, 401)
        throttled = self._throttle(request)
        if throttled is not None:
            return throttled
        try:
            params = _person_params(request)
        except _BadParameterError as problem:
            return _validation_failed(str(problem))
        email = str(params.get("email") or "").strip()
        if "@" not in email:
            return _validation_failed("email")
        try:
            delay = int(str(params.get("delay", 0)))
        except ValueError:
            return _validation_failed("delay")
        if delay < 0:
            return _validation_failed("delay")
        send = str(params.get("send", "true")).lower() not in ("false", "0")
        raw_properties = params.get("properties") or {}
        if not isinstance(raw_properties, dict):
            return _validation_failed("properties")
        properties = {str(k): str(v) for k, v in raw_properties.items()}
        with self.lock:
            now = int(self.clock())
            key = email.lower()
            person_id = self._person_ids_by_email.get(key)
            if person_id is None:
                person_id = str(self._next_person_id)
                self._next_person_id += 1
                self._person_ids_by_email[key] = person_id
                self._people[person_id] = _StoredPerson(person_id, now, 0)
            name = str(params.get("name") or "")
            scheduled = None
            if send:
                survey = _ScheduledSurvey(person_id, email, name, now + delay, properties, now)
                self._scheduled[person_id] = survey
                self._schedule_log.append(survey)
                scheduled = survey.send_at
        body = {"id": person_id, "email": email, "name": name or None}
        return Response.json({**body, "survey_scheduled_at": scheduled})

    def _list_people(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.json({"status": 401, "message": "Invalid API key"}, 401)
        throttled = self._throttle(request)
        if throttled is not None:
            return throttled
        email = (request.arg("email") or "").strip().lower()
        with self.lock:
            ids = [self._person_ids_by_email[email]] if email in self._person_ids_by_email else []
            if not email:
                ids = sorted(self._people)
            people = [self._person(person_id) for person_id in ids]
        return Response.json(people)

    def _person(self, person_id: str) -> dict[str, Any]:
        stored = self._people[person_id]
        email = next(e for e, i in self._person_ids_by_email.items() if i == person_id)
        survey = self._scheduled.get(person_id)
        responded = stored.last_responded_at or None
        return {
            "id": person_id,
            "email": email,
            "name": survey.name or None if survey else None,
            "phone_number": None,
            "created_at": stored.created_at,
            "last_sent_at": responded - 3_600 if responded else None,
            "last_responded_at": responded,
            "next_survey_scheduled_at": survey.send_at if survey else None,
        }

    def _list(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.json({"status": 401, "message": "Invalid API key"}, 401)
        throttled = self._throttle(request)
        if throttled is not None:
            return throttled
        try:
            query = _ListQuery.parse(request)
        except _BadParameterError as problem:
            return Response.json({"status": 400, "message": str(problem)}, 400)
        with self.lock:
            page = self._page(query)
            body = [self._render(item, query.expand_person) for item in page]
        return Response.json(body)

    def _page(self, query: _ListQuery) -> list[_StoredResponse]:
        """The page ``query`` asks for: the responses it selects, in its order, from
        ``(page - 1) * per_page`` on. The responses within its timestamp range are found by
        bisection, not by sorting all of them per request: a backfill pages through 100,000
        responses a thousand times, and the emulator's time is no part of what it measures."""
        timestamp_field, descending = ORDERS[query.order]
        items, stamps = self._ordered_by(timestamp_field)
        low, high = (
            (query.since, query.until)
            if timestamp_field == "created_at"
            else (query.updated_since, query.updated_until)
        )
        start = bisect_left(stamps, low) if low is not None else 0
        end = bisect_right(stamps, high) if high is not None else len(stamps)
        indexes = range(end - 1, start - 1, -1) if descending else range(start, end)
        skip = (query.page - 1) * query.per_page
        page: list[_StoredResponse] = []
        for index in indexes:
            item = items[index]
            if not query.matches(item):
                continue
            if skip:
                skip -= 1
                continue
            page.append(item)
            if len(page) == query.per_page:
                break
        return page

    def _ordered_by(self, timestamp_field: str) -> tuple[list[_StoredResponse], list[int]]:
        ordered = self._ordered.get(timestamp_field)
        if ordered is None:
            items = sorted(self._responses.values(), key=lambda i: i.sort_key(timestamp_field))
            stamps = [getattr(item, timestamp_field) for item in items]
            ordered = self._ordered[timestamp_field] = (items, stamps)
        return ordered

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.header("authorization").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, _password = decoded.partition(":")
        return bool(self.api_key) and user == self.api_key

    def _throttle(self, request: Request) -> Response | None:
        limit = self.rate_limit_per_minute
        if limit is None:
            return None
        now = self.clock()
        with self.lock:
            if now - self._window_start >= 60:
                self._window_start = now
                self._window_used = 0
            if self._window_used >= limit:
                wait = max(int(self._window_start + 60 - now), 1)
                return self.error_response(429, request, {"Retry-After": str(wait)})
            self._window_used += 1
        return None

    def _render(self, item: _StoredResponse, expand_person: bool) -> dict[str, Any]:
        person: object = item.person_id
        if expand_person:
            stored = self._people[item.person_id]
            person = {
                "id": item.person_id,
                "email": item.email,
                "name": item.name or None,
                "phone_number": None,
                "created_at": stored.created_at,
                "last_sent_at": stored.last_responded_at - 3_600,
                "last_responded_at": stored.last_responded_at,
                "next_survey_scheduled_at": None,
            }
        token = hashlib.sha256(item.id.encode("utf-8")).hexdigest()[:12]
        return {
            "id": item.id,
            "person": person,
            "survey_type": item.survey_type,
            "score": item.score,
            "comment": item.comment,
            "permalink": f"https://delighted.com/r/{token}",
            "created_at": item.created_at,
            "updated_at": item.updated_at,
            "person_properties": dict(item.properties),
            "notes": [],
            "tags": list(item.tags),
            "additional_answers": [],
        }


@dataclass(frozen=True)
class _ListQuery:
    per_page: int
    page: int
    order: str
    expand_person: bool
    since: int | None
    until: int | None
    updated_since: int | None
    updated_until: int | None

    @classmethod
    def parse(cls, request: Request) -> _ListQuery:
        order = request.arg("order") or "asc"
        if order not in ORDERS:
            raise _BadParameterError(f"order must be one of {', '.join(ORDERS)}")
        expand = request.query.get("expand[]", []) + request.query.get("expand", [])
        return cls(
            per_page=min(_int_arg(request, "per_page", 1) or DEFAULT_PER_PAGE, MAX_PER_PAGE),
            page=_int_arg(request, "page", 1) or 1,
            order=order,
            expand_person="person" in expand,
            since=_int_arg(request, "since", 0),
            until=_int_arg(request, "until", 0),
            updated_since=_int_arg(request, "updated_since", 0),
            updated_until=_int_arg(request, "updated_until", 0),
        )

    def matches(self, item: _StoredResponse) -> bool:
        return _within(item.created_at, self.since, self.until) and _within(
            item.updated_at, self.updated_since, self.updated_until
        )


def _person_params(request: Request) -> dict[str, Any]:
    """The request's parameters, from a JSON body or form fields (``properties[Key]=value``)."""
    if request.header("content-type").startswith("application/json"):
        try:
            body = request.json()
        except ValueError as problem:
            raise _BadParameterError("body") from problem
        if not isinstance(body, dict):
            raise _BadParameterError("body")
        return body
    params: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(request.body.decode("utf-8")):
        if name.startswith("properties[") and name.endswith("]"):
            properties[name[len("properties[") : -1]] = value
        else:
            params[name] = value
    if properties:
        params["properties"] = properties
    return params


def _validation_failed(field_name: str) -> Response:
    return Response.json(
        {
            "status": 422,
            "message": "Validation failed",
            "errors": [{"field": field_name, "code": "invalid"}],
        },
        422,
    )


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _int_arg(request: Request, name: str, minimum: int) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _BadParameterError(f"{name} must be an integer") from None
    if value < minimum:
        raise _BadParameterError(f"{name} must be at least {minimum}")
    return value


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return int(moment.timestamp())
