"""Delighted's survey-response JSON, as the API lists it and webhooks deliver it.

One parser for both, so a response reads the same whichever way it arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys.fields import FieldError, build_response, parse_json, shown_id

WEBHOOK_EVENTS: Final = frozenset({"survey_response.created", "survey_response.updated"})
CHANNEL_PROPERTY: Final = "Delighted Source"
"""Person property in which Delighted records how the survey was answered (Email, Web, ...)."""
_LANGUAGE_PROPERTIES: Final = ("locale", "Locale", "language", "Language")
_SURVEY_TYPE_PROPERTIES: Final = ("survey_type", "Survey Type")


def parse_delighted_response(
    raw: object, *, source: str, until: datetime
) -> SurveyResponse | SourceProblem:
    """A survey response, or the reason it cannot be used.

    Only NPS surveys are accepted (a CSAT score of 4 is not an NPS score of 4). The person must
    be expanded (``expand[]=person``): the email lives there. Our ``survey_type`` (relationship,
    transactional, ...) comes from a person property of that name, if the admin set one.
    """
    if not isinstance(raw, Mapping):
        return SourceProblem(source, "delighted response (unknown)", "not a JSON object")
    response_id = raw.get("id")
    location = f"delighted response {shown_id(response_id, missing='(no id)')}"
    try:
        return _build(raw, source=source, until=until)
    except FieldError as problem:
        return SourceProblem(source, location, str(problem))


def _build(raw: Mapping[str, object], *, source: str, until: datetime) -> SurveyResponse:
    response_id = raw.get("id")
    if response_id is None or response_id == "":
        raise FieldError("missing response id")  # never derive: Delighted always has one
    delighted_type = raw.get("survey_type")
    if delighted_type not in (None, "nps"):
        raise FieldError(f"survey type {delighted_type!r} is not NPS")
    person = raw.get("person")
    if not isinstance(person, Mapping):
        raise FieldError("missing email: person not expanded")
    properties_raw = raw.get("person_properties")
    properties: Mapping[Any, object] = properties_raw if isinstance(properties_raw, Mapping) else {}
    return build_response(
        source=source,
        response_id=response_id,
        email=person.get("email"),
        score=raw.get("score"),
        comment=raw.get("comment"),
        created_at=raw.get("created_at"),
        updated_at=raw.get("updated_at"),
        until=until,
        person_name=person.get("name"),
        properties=properties,
        survey_type=_first(properties, _SURVEY_TYPE_PROPERTIES),
        channel=properties.get(CHANNEL_PROPERTY),
        language=_first(properties, _LANGUAGE_PROPERTIES),
        permalink=raw.get("permalink"),
    )


def _first(properties: Mapping[Any, object], names: tuple[str, ...]) -> object:
    for name in names:
        value = properties.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def parse_delighted_webhook(
    body: bytes, *, received_at: datetime, source: str = "delighted"
) -> SurveyResponse | SourceProblem:
    """A ``survey_response.created``/``.updated`` event's response, or why it cannot be used.

    Verify the signature first (:func:`connectors.surveys.webhooks.verify_delighted`); this only
    parses. ``received_at`` plays the part of the run's start for the future-date check.
    """
    location = "delighted webhook"
    try:
        event = parse_json(body)
    except FieldError as problem:
        return SourceProblem(source, location, str(problem))
    if not isinstance(event, Mapping):
        return SourceProblem(source, location, "not a JSON object")
    event_type = event.get("event_type")
    if event_type not in WEBHOOK_EVENTS:
        return SourceProblem(source, location, f"unsupported event type {event_type!r}")
    return parse_delighted_response(event.get("event_data"), source=source, until=received_at)
