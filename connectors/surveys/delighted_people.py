"""Asking Delighted to survey a person: ``POST /v1/people.json`` with a ``delay``.

Delighted schedules the survey itself, ``delay`` seconds after the request, and keeps the
``properties`` with the person: the answer comes back with them as ``person_properties``, which
is how an answer is tied to what asked for it. A person has one pending survey at a time, so a
request that may have landed already is checked with ``GET /v1/people.json?email=`` (the
person's ``next_survey_scheduled_at``) before it is sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from connectors.errors import ConfigError, ConnectorError, RecordError, RetryableError
from connectors.surveys.delighted import parse_retry_after, tier_for_status
from connectors.transport import describe_failure


@dataclass(frozen=True, slots=True)
class ScheduledSurvey:
    """A survey Delighted will send: the person's id and when."""

    person_id: str
    send_at: datetime | None


class DelightedPeople:
    """Schedules surveys for people of one Delighted account."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.delighted.com",
        session: requests.Session | None = None,
        name: str = "delighted",
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/v1/people.json"
        self._session = session or requests.Session()
        self._timeout = timeout

    def schedule_survey(
        self, email: str, *, name: str, delay_seconds: int, properties: Mapping[str, str]
    ) -> ScheduledSurvey:
        """Add or update the person and schedule a survey ``delay_seconds`` from now."""
        body: dict[str, Any] = {
            "email": email,
            "delay": max(int(delay_seconds), 0),
            "properties": dict(properties),
        }
        if name:
            body["name"] = name
        answer = self._send("post", json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise RetryableError("Delighted did not answer with a person", system=self.name)
        return ScheduledSurvey(str(answer["id"]), _moment(answer.get("survey_scheduled_at")))

    def pending_survey(self, email: str) -> ScheduledSurvey | None:
        """The person's pending survey, if Delighted has one scheduled."""
        answer = self._send("get", params={"email": email})
        if not isinstance(answer, list):
            raise RetryableError("Delighted did not answer with a list", system=self.name)
        for person in answer:
            if isinstance(person, dict) and str(person.get("email", "")).lower() == email.lower():
                when = _moment(person.get("next_survey_scheduled_at"))
                if when is not None:
                    return ScheduledSurvey(str(person.get("id")), when)
        return None

    def _send(self, method: str, **kwargs: Any) -> object:
        try:
            response = self._session.request(
                method, self._url, auth=(self._api_key, ""), timeout=self._timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableError(describe_failure(error), system=self.name) from error
        except requests.RequestException as error:
            raise ConfigError(f"invalid Delighted request: {error}", system=self.name) from error
        if response.status_code == 422:
            raise RecordError(
                f"Delighted refused the person: {_invalid_fields(response)}", system=self.name
            )
        if response.status_code not in (200, 201):
            raise self._error(response)
        try:
            return response.json()
        except ValueError as error:
            raise RetryableError(
                "Delighted answered with invalid JSON", system=self.name
            ) from error

    def _error(self, response: requests.Response) -> ConnectorError:
        tier = tier_for_status(response.status_code)
        message = f"HTTP {response.status_code} from Delighted"
        if tier is RetryableError:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RetryableError(message, system=self.name, retry_after=retry_after)
        return tier(message, system=self.name)


def _invalid_fields(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return "validation failed"
    names = [str(e.get("field")) for e in errors if isinstance(e, dict) and e.get("field")]
    return "invalid " + ", ".join(names) if names else "validation failed"


def _moment(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None
