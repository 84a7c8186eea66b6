"""Webhook intake: a signed survey response becomes an inbox row, then routing is woken.

Framework-free (the HTTP app in :mod:`sync.app.webhooks` only translates requests and answers),
so every rule of acknowledgement is here, the same for Delighted and Typeform:

- the signature is checked before anything else, fail-closed (:mod:`connectors.surveys.webhooks`);
  an unsigned or badly signed request, or one for a Typeform source without a webhook secret, is
  answered 401 and counted, never stored;
- a response is stored in the inbox in one transaction, normalized exactly like a pulled one
  (the vendor's one parser, :mod:`connectors.surveys.delighted_format` or
  :mod:`connectors.surveys.typeform_format`), and 2xx is answered only after that commit; when
  the store cannot take it, 503 with ``Retry-After``: the vendor retries, and nothing is
  acknowledged that is not stored;
- a delivery that arrives twice (vendors retry) is stored once: within the replay window it is
  answered from memory (Typeform's by its ``event_id``, which a retry keeps; Delighted's by the
  signed bytes), later the inbox finds the same version and changes nothing;
- a stored response wakes the daemon's pass at once; polling stays the safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys.delighted_format import parse_delighted_webhook
from connectors.surveys.typeform_format import (
    TypeformMapping,
    parse_typeform_webhook,
    webhook_event_id,
)
from connectors.surveys.webhooks import (
    ReplayGuard,
    replay_key,
    verify_delighted,
    verify_typeform,
)
from sync.app.engine import utcnow
from sync.app.telemetry import Telemetry
from sync.core.config import WebhooksConfig
from sync.state import StateStore

log = logging.getLogger(__name__)

#: Event types a vendor may send that carry no survey response: acknowledged, not stored.
_NOT_A_RESPONSE = "unsupported event type"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver answers: a status, a small JSON body and headers."""

    status: int
    body: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TypeformHook:
    """What a Typeform source's webhooks are checked and read with."""

    #: The secret set on the form's webhook; None: every request is refused (fail closed).
    secret: str | None
    mapping: TypeformMapping


class Intake:
    """Takes verified webhooks into the inbox; one per daemon, shared by the HTTP threads."""

    def __init__(
        self,
        store: StateStore,
        secrets: Mapping[str, str],
        settings: WebhooksConfig,
        telemetry: Telemetry,
        *,
        clock: Callable[[], datetime] = utcnow,
        typeform: Mapping[str, TypeformHook] | None = None,
    ) -> None:
        self.store = store
        #: Delighted source name -> the key its webhooks are signed with.
        self.secrets = dict(secrets)
        #: Typeform source name -> its webhook secret and form mapping.
        self.typeform_hooks = dict(typeform or {})
        self.settings = settings
        self.telemetry = telemetry
        self.clock = clock
        self.guard = ReplayGuard(ttl=timedelta(seconds=settings.replay_window_seconds))
        #: Called after a new or changed response is stored: wakes the daemon's pass.
        self.wake: Callable[[], None] = lambda: None

    def label(self, source: str) -> str:
        """The metric label of a source: a name from the URL that is not configured is
        ``unknown``, so requests cannot add labels without end."""
        known = source in self.secrets or source in self.typeform_hooks
        return source if known else "unknown"

    def too_large(self, source: str) -> Answer:
        """A body over ``max_body_bytes``: refused unread, counted."""
        self.telemetry.rejected(self.label(source), "too_large")
        limit = self.settings.max_body_bytes
        return Answer(413, {"error": f"request body larger than {limit} bytes"})

    def too_slow(self, source: str) -> Answer:
        """A body not received whole within ``body_timeout_seconds``: refused, counted."""
        self.telemetry.rejected(self.label(source), "timeout")
        seconds = self.settings.body_timeout_seconds
        return Answer(408, {"error": f"request body not received within {seconds:g} s"})

    def delighted(self, source: str, body: bytes, signature: str | None) -> Answer:
        """A ``survey_response.created``/``.updated`` webhook for Delighted source ``source``."""
        secret = self.secrets.get(source)
        if secret is None:
            self.telemetry.rejected(self.label(source), "unknown_source")
            return Answer(404, {"error": f"no Delighted source named {source!r}"})
        if not verify_delighted(body, signature, secret):
            self.telemetry.rejected(source, "signature")
            return Answer(401, {"error": "missing or invalid X-Delighted-Webhook-Signature"})
        now = self.clock()
        return self._take(
            source,
            replay_key(f"delighted\n{source}\n".encode() + body),  # the same bytes elsewhere: new
            lambda: parse_delighted_webhook(body, received_at=now, source=source),
            now,
        )

    def typeform(self, source: str, body: bytes, signature: str | None) -> Answer:
        """A ``form_response`` webhook for Typeform source ``source``."""
        hook = self.typeform_hooks.get(source)
        if hook is None:
            self.telemetry.rejected(self.label(source), "unknown_source")
            return Answer(404, {"error": f"no Typeform source named {source!r}"})
        if hook.secret is None or not verify_typeform(body, signature, hook.secret):
            self.telemetry.rejected(source, "signature")
            return Answer(401, {"error": "missing or invalid Typeform-Signature"})
        now = self.clock()
        event_id = webhook_event_id(body)
        key = replay_key(f"typeform\n{source}\n{event_id}".encode()) if event_id else None
        mapping = hook.mapping
        return self._take(
            source,
            key or replay_key(f"typeform\n{source}\n".encode() + body),
            lambda: parse_typeform_webhook(body, received_at=now, source=source, mapping=mapping),
            now,
        )

    def _take(
        self,
        source: str,
        key: str,
        parse: Callable[[], SurveyResponse | SourceProblem],
        now: datetime,
    ) -> Answer:
        """A verified request: answered from memory if seen, else stored, then acknowledged."""
        if self.guard.seen(key, now=now):
            self.telemetry.received(source, "duplicate")
            return Answer(200, {"status": "duplicate"})
        parsed = parse()
        try:
            answer = self._store(source, parsed, now)
        except Exception:  # any store failure: not acknowledged, the vendor retries
            log.exception("webhook for %s not stored; answered 503 so the sender retries", source)
            self.telemetry.store_failed(source)
            retry = str(self.settings.retry_after_seconds)
            return Answer(503, {"error": "state store unavailable"}, {"Retry-After": retry})
        self.guard.first_use(key, now=now)
        return answer

    def _store(self, source: str, parsed: SurveyResponse | SourceProblem, now: datetime) -> Answer:
        if isinstance(parsed, SourceProblem):
            if not parsed.reason.startswith(_NOT_A_RESPONSE):
                log.warning("webhook skipped: %s", parsed)
                self.store.inbox.record_problems([parsed], now)
            self.telemetry.received(source, "ignored")
            return Answer(200, {"status": "ignored", "reason": parsed.reason})
        stats = self.store.inbox.ingest_page(source, [parsed], None, now)
        if stats.new or stats.updated:
            self.telemetry.received(source, "stored")
            self.wake()
            return Answer(200, {"status": "stored", "response_id": parsed.response_id})
        self.telemetry.received(source, "unchanged")
        return Answer(200, {"status": "unchanged", "response_id": parsed.response_id})
