"""A loopback emulator of Typeform's Responses API and its response webhooks.

It serves ``GET /forms/{form_id}/responses`` as documented (bearer token; ``page_size`` up to
1000, default 25; ``since``/``until`` on ``submitted_at``, inclusive, as Unix seconds or ISO 8601
to the second; ``before``/``after`` tokens, exclusive, which refuse ``sort``; ``sort`` on
``submitted_at``; ``completed``; ``included_response_ids``/``excluded_response_ids``; a body of
``total_items``, ``page_count`` and ``items``), with Typeform's limit of 2 requests a second per
account answered 429 beyond it. Forms have an opinion-scale score question, a long-text comment
question and hidden fields; :meth:`TypeformEmulator.webhook` renders and signs a ``form_response``
event as Typeform sends it (``Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>``).

Tests change responses with :meth:`TypeformEmulator.update_response` (a response submitted again:
same token, later ``submitted_at``) and can serve malformed items with ``raw_item``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from emulators.base import EmulatorApp, Request, Response, wait_for_second
from emulators.seed_model import SeedSurveyResponse

DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 1000
DEFAULT_FORM: Final = "NpS7f0rm"
SCORE_REF: Final = "nps_score"
COMMENT_REF: Final = "nps_reason"
#: Hidden fields of the seeded form: who answered, as the survey link carried them.
HIDDEN_FIELDS: Final = ("email", "name", "sfid", "zdid")
_SORT_FIELDS: Final = frozenset({"submitted_at"})


@dataclass
class _Form:
    id: str
    title: str
    score_ref: str = SCORE_REF
    comment_ref: str = COMMENT_REF
    score_type: str = "opinion_scale"
    hidden: tuple[str, ...] = HIDDEN_FIELDS

    def definition(self) -> dict[str, Any]:
        """The form's ``definition`` as a webhook carries it."""
        return {
            "id": self.id,
            "title": self.title,
            "fields": [
                {
                    "id": _field_id(self.id, self.score_ref),
                    "ref": self.score_ref,
                    "type": self.score_type,
                    "title": "How likely are you to recommend us to a friend or colleague?",
                    "properties": {},
                },
                {
                    "id": _field_id(self.id, self.comment_ref),
                    "ref": self.comment_ref,
                    "type": "long_text",
                    "title": "What is the main reason for your score?",
                    "properties": {},
                },
            ],
            "hidden": list(self.hidden),
        }


@dataclass
class _StoredResponse:
    token: str
    form_id: str
    landed_at: int
    submitted_at: int | None
    score: int | None
    comment: str | None
    hidden: dict[str, str]
    #: Order in which Typeform processed the submission (ties on ``submitted_at``).
    sequence: int
    #: An item served as it is instead of being rendered (malformed data for tests).
    raw: dict[str, Any] | None = None
    platform: str = "other"
    #: Not listed before this Unix time, whatever ``listing_delay_seconds`` says.
    listed_at: int | None = None

    def order(self) -> tuple[int, int]:
        return (self.submitted_at or self.landed_at, self.sequence)


class _BadParameterError(ValueError):
    """A query the real API refuses with 400."""


class TypeformEmulator(EmulatorApp):
    """Typeform's Responses API over HTTP; ``calls["responses"]`` counts listing requests.

    ``rate_limit_per_second`` (Typeform's 2 by default; None turns it off) answers 429 with
    ``Retry-After: 1`` to a request that would be the third within one second;
    ``listing_delay_seconds`` keeps a response out of the listing for that long after it was
    submitted (the listing lags behind webhooks).
    """

    system = "typeform"

    def __init__(
        self,
        token: str = "TYPEFORM_TOKEN",  # noqa: S107 - the emulator's dummy credential
        *,
        webhook_secret: str = "TYPEFORM_WEBHOOK_SECRET",  # noqa: S107 - a dummy, as above
        seed: int = 0,
        rate_limit_per_second: int | None = 2,
        listing_delay_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(seed=seed)
        self.token = token
        self.webhook_secret = webhook_secret
        self.rate_limit_per_second = rate_limit_per_second
        self.listing_delay_seconds = listing_delay_seconds
        self.clock = clock
        self.forms: dict[str, _Form] = {}
        self._responses: dict[str, _StoredResponse] = {}
        self._recent: deque[float] = deque()
        self._sequence = 0
        #: Requests answered 429 by the rate limit.
        self.throttled = 0
        self._tokens = random.Random(seed)
        self.add_form(DEFAULT_FORM, "Customer NPS")
        self.route("GET", r"/forms/(?P<form_id>[^/]+)/responses", "responses", self._list)

    # -- test set-up ----------------------------------------------------------------------------
    def add_form(self, form_id: str, title: str, *, score_type: str = "opinion_scale") -> None:
        with self.lock:
            self.forms[form_id] = _Form(form_id, title, score_type=score_type)

    def load_seed(
        self, responses: Iterable[SeedSurveyResponse], *, form_id: str = DEFAULT_FORM
    ) -> list[str]:
        """Serve seed answers as submissions of ``form_id``; returns their tokens."""
        tokens = []
        for item in responses:
            hidden = {"email": item.email, "name": item.name}
            contact_id = item.properties.get("Salesforce Contact Id")
            if contact_id:
                hidden["sfid"] = contact_id
            tokens.append(
                self.add_response(
                    email=item.email,
                    score=item.score,
                    comment=item.comment,
                    submitted_at=item.created_at,
                    hidden=hidden,
                    form_id=form_id,
                )
            )
        return tokens

    def add_response(
        self,
        *,
        email: str,
        score: int | None,
        comment: str | None = None,
        name: str = "",
        submitted_at: datetime | None = None,
        hidden: Mapping[str, str] | None = None,
        form_id: str = DEFAULT_FORM,
        token: str | None = None,
        completed: bool = True,
        listed_at: datetime | None = None,
    ) -> str:
        """Store a submission as Typeform would have recorded it; returns its token.

        ``hidden`` replaces the default hidden values (``email``, ``name``). Values are not
        validated, so tests can serve a score of 11 or no email; ``completed=False`` stores a
        partial response (landed, never submitted); ``listed_at`` keeps it out of the listing
        until then (Typeform lists some responses late).
        """
        with self.lock:
            submitted = _unix(submitted_at) if submitted_at else int(self.clock())
            token = token or self._new_token()
            values = {"email": email, "name": name} if hidden is None else dict(hidden)
            self._sequence += 1
            self._responses[token] = _StoredResponse(
                token=token,
                form_id=form_id,
                landed_at=submitted - 60 - self._tokens.randrange(600),
                submitted_at=submitted if completed else None,
                score=score,
                comment=comment,
                hidden={k: v for k, v in values.items() if v},
                sequence=self._sequence,
                listed_at=_unix(listed_at) if listed_at else None,
            )
            return token

    def raw_item(self, item: dict[str, Any], *, form_id: str = DEFAULT_FORM) -> None:
        """Serve ``item`` as it is (it must have a ``submitted_at`` ISO string to be ordered)."""
        with self.lock:
            self._sequence += 1
            submitted = item.get("submitted_at")
            moment = _parse_moment(submitted) if isinstance(submitted, str) else None
            token = str(item.get("token") or f"raw-{self._sequence}")
            self._responses[token] = _StoredResponse(
                token=token,
                form_id=form_id,
                landed_at=moment or int(self.clock()),
                submitted_at=moment,
                score=None,
                comment=None,
                hidden={},
                sequence=self._sequence,
                raw=item,
            )

    def update_response(
        self,
        token: str,
        *,
        score: int | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """The respondent submits the response again: new answers (``None`` keeps one), the same
        token, a ``submitted_at`` of ``at`` (default now) and at least a second later; on the
        wall clock this returns when that second has come (:func:`~emulators.base.
        wait_for_second`)."""
        with self.lock:
            stored = self._responses[token]
            if score is not None:
                stored.score = score
            if comment is not None:
                stored.comment = comment
            moment = _unix(at) if at else int(self.clock())
            stored.submitted_at = max(moment, (stored.submitted_at or 0) + 1)
            self._sequence += 1
            stored.sequence = self._sequence
            dated = stored.submitted_at
        if at is None:
            wait_for_second(self.clock, dated)

    def response_count(self) -> int:
        with self.lock:
            return len(self._responses)

    def clear(self) -> None:
        """Forget every response, counter, fault and rate-limit window (test isolation)."""
        with self.lock:
            self._responses.clear()
            self._recent.clear()
            self.throttled = 0
            self.early_requests.clear()
            self._quiet_until = 0.0
            self.forget_traffic()

    # -- webhooks -------------------------------------------------------------------------------
    def webhook(
        self, token: str, *, event_id: str | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Typeform POSTs when ``token`` is submitted, signed with the
        webhook's secret (``Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>``)."""
        with self.lock:
            stored = self._responses[token]
            form = self.forms[stored.form_id]
            form_response = self._render(stored)
        form_response.pop("response_id", None)
        form_response.pop("landing_id", None)
        form_response.pop("metadata", None)
        form_response["form_id"] = form.id
        form_response["definition"] = form.definition()
        form_response["ending"] = {"id": "DefaultTyScreen", "ref": "default_tys"}
        event = {
            "event_id": event_id or _event_id(token, stored.submitted_at),
            "event_type": "form_response",
            "form_response": form_response,
        }
        body = json.dumps(event).encode("utf-8")
        key = (secret if secret is not None else self.webhook_secret).encode("utf-8")
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Typeform Webhooks",
            "Typeform-Signature": f"sha256={signature}",
        }
        return body, headers

    def send_webhook(self, url: str, token: str, *, timeout: float = 10.0) -> int:
        """POST a submission's signed webhook to ``url``, as Typeform would; returns the status
        (a refused request's too: the caller decides whether to send it again)."""
        body, headers = self.webhook(token)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - a URL the tester gives
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)

    # -- HTTP -----------------------------------------------------------------------------------
    def error_response(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        codes = {
            400: "VALIDATION_ERROR",
            401: "AUTHENTICATION_FAILED",
            403: "FORBIDDEN",
            404: "NOT_FOUND",
            429: "RATE_LIMITED",
        }
        body = {"code": codes.get(status, "INTERNAL_ERROR"), "description": f"HTTP {status}"}
        return Response.json(body, status, headers)

    def _list(self, request: Request) -> Response:
        if not self._authorized(request):
            body = {
                "code": "AUTHENTICATION_FAILED",
                "description": "Authentication credentials not found on the Request Headers",
            }
            return Response.json(body, 401)
        if self._throttled():
            return self.error_response(429, request, {"Retry-After": "1"})
        form_id = request.params["form_id"]
        if form_id not in self.forms:
            body = {
                "code": "FORM_NOT_FOUND",
                "description": f"Non existing form with uid {form_id}",
            }
            return Response.json(body, 404)
        try:
            query = _Query.parse(request)
        except _BadParameterError as problem:
            return Response.json({"code": "VALIDATION_ERROR", "description": str(problem)}, 400)
        now = self.clock()
        with self.lock:
            matching = [
                r
                for r in self._responses.values()
                if r.form_id == form_id and query.matches(r) and self._listed(r, now)
            ]
            total = len(matching)
            page = query.page(matching, self._responses)
            items = [self._render(r) for r in page]
        page_count = math.ceil(total / query.page_size) if total else 0
        return Response.json({"total_items": total, "page_count": page_count, "items": items})

    def _listed(self, stored: _StoredResponse, now: float) -> bool:
        moment = stored.submitted_at or stored.landed_at
        if stored.listed_at is not None and stored.listed_at > now:
            return False
        return moment + self.listing_delay_seconds <= now

    def _authorized(self, request: Request) -> bool:
        scheme, _, given = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not self.token:
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def _throttled(self) -> bool:
        limit = self.rate_limit_per_second
        if limit is None:
            return False
        now = time.monotonic()
        with self.lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= limit:
                self.throttled += 1
                return True
            self._recent.append(now)
            return False

    def _render(self, stored: _StoredResponse) -> dict[str, Any]:
        if stored.raw is not None:
            copied: dict[str, Any] = json.loads(json.dumps(stored.raw))
            return copied
        form = self.forms[stored.form_id]
        answers: list[dict[str, Any]] = []
        if stored.score is not None:
            answers.append(
                {
                    "field": {
                        "id": _field_id(form.id, form.score_ref),
                        "type": form.score_type,
                        "ref": form.score_ref,
                    },
                    "type": "number",
                    "number": stored.score,
                }
            )
        if stored.comment is not None:
            answers.append(
                {
                    "field": {
                        "id": _field_id(form.id, form.comment_ref),
                        "type": "long_text",
                        "ref": form.comment_ref,
                    },
                    "type": "text",
                    "text": stored.comment,
                }
            )
        return {
            "landing_id": stored.token,
            "token": stored.token,
            "response_id": stored.token,
            "landed_at": _iso(stored.landed_at),
            "submitted_at": _iso(stored.submitted_at) if stored.submitted_at else None,
            "metadata": {
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                "platform": stored.platform,
                "referer": f"https://acme.typeform.com/to/{form.id}",
                "network_id": hashlib.sha256(stored.token.encode()).hexdigest()[:10],
                "browser": "default",
            },
            "hidden": dict(stored.hidden),
            "calculated": {"score": 0},
            "answers": answers,
        }

    def _new_token(self) -> str:
        return "".join(
            self._tokens.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(32)
        )


@dataclass(frozen=True)
class _Query:
    page_size: int
    since: int | None
    until: int | None
    before: str | None
    after: str | None
    descending: bool
    completed: bool | None
    included: frozenset[str] | None
    excluded: frozenset[str]

    @classmethod
    def parse(cls, request: Request) -> _Query:
        size_text = request.arg("page_size")
        page_size = DEFAULT_PAGE_SIZE
        if size_text:
            if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
                raise _BadParameterError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
            page_size = int(size_text)
        before, after, sort = request.arg("before"), request.arg("after"), request.arg("sort")
        if sort and (before or after):
            raise _BadParameterError("sort cannot be used together with before or after")
        if before and after:
            raise _BadParameterError("before and after cannot be used together")
        descending = True
        if sort:
            name, _, direction = sort.partition(",")
            if name not in _SORT_FIELDS or direction not in ("asc", "desc"):
                raise _BadParameterError("sort must be submitted_at,asc or submitted_at,desc")
            descending = direction == "desc"
        if after:
            descending = False
        completed_text = request.arg("completed")
        completed = None if completed_text in (None, "") else completed_text == "true"
        included_text = request.arg("included_response_ids")
        return cls(
            page_size=page_size,
            since=_moment_arg(request, "since"),
            until=_moment_arg(request, "until"),
            before=before or None,
            after=after or None,
            descending=descending,
            completed=completed,
            included=frozenset(included_text.split(",")) if included_text else None,
            excluded=frozenset((request.arg("excluded_response_ids") or "").split(",")) - {""},
        )

    def matches(self, stored: _StoredResponse) -> bool:
        if self.completed is True and stored.submitted_at is None:
            return False
        if self.completed is False and stored.submitted_at is not None:
            return False
        if self.included is not None and stored.token not in self.included:
            return False
        if stored.token in self.excluded:
            return False
        moment = stored.submitted_at or stored.landed_at
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment <= self.until
        )

    def page(
        self, matching: list[_StoredResponse], every: Mapping[str, _StoredResponse]
    ) -> list[_StoredResponse]:
        ordered = sorted(matching, key=_StoredResponse.order, reverse=self.descending)
        anchor_token = self.before or self.after
        if anchor_token is not None:
            anchor = every.get(anchor_token)
            if anchor is None:
                return []
            mark = anchor.order()
            if self.before:
                ordered = [r for r in ordered if r.order() < mark]
            else:
                ordered = [r for r in ordered if r.order() > mark]
        return ordered[: self.page_size]


def _moment_arg(request: Request, name: str) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw)
    moment = _parse_moment(raw)
    if moment is None:
        raise _BadParameterError(f"{name} must be a Unix time or ISO 8601 (2020-03-20T14:00:59)")
    return moment


def _parse_moment(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return int(moment.timestamp())


def _field_id(form_id: str, ref: str) -> str:
    return hashlib.sha256(f"{form_id}:{ref}".encode()).hexdigest()[:12]


def _event_id(token: str, submitted_at: int | None) -> str:
    """Stable for one submission (Typeform keeps the event id when it retries a delivery)."""
    return hashlib.sha256(f"{token}:{submitted_at}".encode()).hexdigest()[:26].upper()
