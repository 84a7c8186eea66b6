"""Error tiers shared by every connector.

Callers handle errors by *what to do next*, never by the concrete library exception:

- :class:`RetryableError`: transient (429, 5xx, connection reset, row lock). Retry soon.
  :class:`WriteInDoubtError`, one of them, says a write may have landed: look before writing;
  :class:`UnreachableError`, another, says the whole system is down: its work waits, untried.
- :class:`DeferError`: the system says "not now" for longer than a retry should wait (daily API
  quota spent, a Retry-After of minutes). Park the work until ``not_before``.
- :class:`RecordError`: this one record is wrong (validation rule, bad value). Skip it, report it,
  carry on with the rest.
- :class:`ConfigError`: nothing will work until a human fixes the configuration or credentials.

Each connector translates its client library's exceptions into these at its boundary.

A batched write that an error stopped part way says which of its records were carried out
(:attr:`ConnectorError.results`, set by :func:`stopped_part_way`), so the caller keeps those
and sends again only the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, TypeVar

from connectors.models import Tier, WriteResult

E = TypeVar("E", bound="ConnectorError")


class ConnectorError(Exception):
    """Root of every error a connector raises."""

    #: What the caller should do about the record or call that failed.
    tier: ClassVar[Tier] = "skip"
    #: For a batched write this error stopped part way: one entry per record of the call, in
    #: its order, the result of each record whose part was carried out (written, or refused on
    #: its own) and None for those to send again. Empty when nothing is known to be done.
    results: tuple[WriteResult | None, ...] = ()

    def __init__(self, message: str, *, system: str = "", record_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.record_id = record_id

    def __str__(self) -> str:
        prefix = f"{self.system}: " if self.system else ""
        where = f" [{self.record_id}]" if self.record_id else ""
        return f"{prefix}{self.message}{where}"


class RetryableError(ConnectorError):
    """A transient failure; the same call is expected to succeed soon."""

    tier: ClassVar[Tier] = "retry"

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        record_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, system=system, record_id=record_id)
        self.retry_after = retry_after


class UnreachableError(RetryableError):
    """The system as a whole is down for now, not this request: no connection could be made
    (refused, unreachable, timed out connecting), or it answered 502, 503 or 504. Work waiting
    for it does not use up its tries: an outage longer than the retries' backoff must not send
    it to the dead letters."""


#: Statuses that say the service, not the request, is failing.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


class WriteInDoubtError(RetryableError):
    """A write was sent and its answer never came (a read timeout, a connection lost after the
    request left, a server error): it may have taken effect, or may still. The caller looks for
    what it wrote, once the system can no longer be applying it, before it writes again."""


class DeferError(ConnectorError):
    """The system refuses work for a while; park it instead of sleeping a thread."""

    tier: ClassVar[Tier] = "defer"

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        record_id: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        super().__init__(message, system=system, record_id=record_id)
        self.not_before = not_before


class RecordError(ConnectorError):
    """This record cannot be written as it is; other records are unaffected."""

    tier: ClassVar[Tier] = "skip"

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        record_id: str | None = None,
        code: str = "",
    ) -> None:
        super().__init__(message, system=system, record_id=record_id)
        self.code = code


class ConfigError(ConnectorError):
    """Credentials, permissions or configured names are wrong; a human must act."""

    tier: ClassVar[Tier] = "fix-config"


class UnknownFieldError(ConfigError):
    """A field named by the caller that the object does not have, or the integration user
    cannot see: the name is to fix where it was given, not the credentials."""


def stopped_part_way(error: E, results: Sequence[WriteResult | None]) -> E:
    """``error``, saying which records of the batched write it stopped were carried out
    (:attr:`ConnectorError.results`)."""
    error.results = tuple(results)
    return error


def first_to_heed(stopped: Sequence[ConnectorError]) -> ConnectorError:
    """Of the errors that stopped parts of one call, the one whose advice covers the others: a
    deferral (the latest), else a retry after the longest ``Retry-After``, else the first."""
    deferrals = [e for e in stopped if isinstance(e, DeferError)]
    if deferrals:
        return max(deferrals, key=lambda e: e.not_before.timestamp() if e.not_before else 0.0)
    waits = [e for e in stopped if isinstance(e, RetryableError) and e.retry_after is not None]
    if waits:
        return max(waits, key=lambda e: e.retry_after or 0.0)
    return stopped[0]
