"""Typeform's response JSON, as the Responses API lists it and webhooks deliver it.

A Typeform form is not an NPS survey by itself: the admin says which question holds the score
and which the comment, by the question's ``ref`` (stable when the question is edited, unlike its
title), and which hidden fields carry the respondent's email and CRM ids. One parser reads both
an API item and a webhook's ``form_response``, so a response reads the same whichever way it
arrived.

Both carry the response's ``token`` (the API also as ``response_id``), ``landed_at`` and
``submitted_at`` (ISO 8601, UTC), ``hidden`` (name -> text) and ``answers``: one object per
answered question, ``{"field": {"id", "type", "ref"}, "type": "number", "number": 9}`` and
the like. A response submitted again later keeps its token and its ``landed_at`` and gets a later
``submitted_at``: the version nps-sync stores is keyed by that moment, so the edit is routed again
like any edit. The response's own moment (``created_at``: what routing's age limit and settle
delays count from, what a Task shows as answered) is ``landed_at``, which an edit does not move;
the first submission follows it within minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from connectors.models import SourceProblem, SurveyResponse
from connectors.surveys.fields import FieldError, build_response, parse_json, shown_id

WEBHOOK_EVENT: Final = "form_response"
#: Question types whose ``number`` answer is a 0-10 score.
SCORE_FIELD_TYPES: Final = frozenset({"opinion_scale", "nps"})
#: Hidden fields read, when present, for the response's survey type and language.
_SURVEY_TYPE_HIDDEN: Final = ("survey_type",)
_LANGUAGE_HIDDEN: Final = ("language", "locale", "lang")


@dataclass(frozen=True)
class TypeformMapping:
    """Where a form keeps what nps-sync needs, by question ref and hidden field name."""

    form_id: str
    score_ref: str
    comment_ref: str | None = None
    email_hidden: str = "email"
    name_hidden: str | None = "name"
    #: Hidden field name -> the response property it is stored as (the Salesforce contact id
    #: under the name the matching ladder reads, say). Every other hidden field is stored under
    #: its own name.
    hidden_properties: Mapping[str, str] = field(default_factory=dict)


def parse_typeform_response(
    raw: object, *, source: str, mapping: TypeformMapping, until: datetime
) -> SurveyResponse | SourceProblem:
    """A survey response, or the reason it cannot be used (named by the response's token)."""
    if not isinstance(raw, Mapping):
        return SourceProblem(source, "typeform response (unknown)", "not a JSON object")
    token = raw.get("response_id") or raw.get("token")
    shown = shown_id(token if isinstance(token, str) else None, missing="(no token)")
    location = f"typeform response {shown}"
    try:
        return _build(raw, token, source=source, mapping=mapping, until=until)
    except FieldError as problem:
        return SourceProblem(source, location, str(problem))


def _build(
    raw: Mapping[str, Any],
    token: object,
    *,
    source: str,
    mapping: TypeformMapping,
    until: datetime,
) -> SurveyResponse:
    if not token:
        raise FieldError("missing response token")
    submitted = raw.get("submitted_at")
    if submitted is None or submitted == "":
        raise FieldError("not submitted (a partial response): no submitted_at")
    answers = _answers_by_ref(raw.get("answers"))
    score = _score(answers, mapping.score_ref)
    comment = _comment(answers, mapping.comment_ref)
    hidden_raw = raw.get("hidden")
    hidden: Mapping[str, object] = hidden_raw if isinstance(hidden_raw, Mapping) else {}
    email = hidden.get(mapping.email_hidden)
    if email is None or email == "":
        email = _first_email_answer(answers)
    properties = _properties(hidden, mapping)
    return build_response(
        source=source,
        response_id=token,
        email=email,
        score=score,
        comment=comment,
        created_at=raw.get("landed_at") or submitted,
        updated_at=submitted,
        until=until,
        person_name=hidden.get(mapping.name_hidden) if mapping.name_hidden else None,
        properties=properties,
        survey_type=_first_text(hidden, _SURVEY_TYPE_HIDDEN),
        channel="typeform",
        language=_first_text(hidden, _LANGUAGE_HIDDEN),
    )


def _answers_by_ref(raw: object) -> dict[str, Mapping[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise FieldError("answers is not a list")
    answers: dict[str, Mapping[str, Any]] = {}
    for answer in raw:
        if not isinstance(answer, Mapping):
            raise FieldError("an answer is not a JSON object")
        question = answer.get("field")
        ref = question.get("ref") if isinstance(question, Mapping) else None
        if isinstance(ref, str) and ref:
            answers.setdefault(ref, answer)
    return answers


def _score(answers: Mapping[str, Mapping[str, Any]], ref: str) -> object:
    answer = answers.get(ref)
    if answer is None:
        raise FieldError(f"missing score: no answer to the question with ref {ref!r}")
    question = answer.get("field")
    kind = question.get("type") if isinstance(question, Mapping) else None
    if kind not in SCORE_FIELD_TYPES:
        raise FieldError(
            f"the question with ref {ref!r} is a {kind!r} question, not an opinion scale or NPS"
        )
    if answer.get("type") != "number":
        raise FieldError(f"the answer to {ref!r} is of type {answer.get('type')!r}, not number")
    return answer.get("number")


def _comment(answers: Mapping[str, Mapping[str, Any]], ref: str | None) -> object:
    answer = answers.get(ref) if ref else None
    if answer is None:
        return None
    if answer.get("type") != "text":
        raise FieldError(f"the answer to {ref!r} is of type {answer.get('type')!r}, not text")
    return answer.get("text")


def _first_email_answer(answers: Mapping[str, Mapping[str, Any]]) -> object:
    for answer in answers.values():
        if answer.get("type") == "email":
            return answer.get("email")
    return None


def _properties(hidden: Mapping[str, object], mapping: TypeformMapping) -> dict[str, object]:
    properties: dict[str, object] = {}
    for name, value in hidden.items():
        if name == mapping.email_hidden or value is None or value == "":
            continue
        properties[mapping.hidden_properties.get(str(name), str(name))] = value
    return properties


def _first_text(hidden: Mapping[str, object], names: tuple[str, ...]) -> object:
    for name in names:
        value = hidden.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def parse_typeform_webhook(
    body: bytes, *, received_at: datetime, source: str, mapping: TypeformMapping
) -> SurveyResponse | SourceProblem:
    """A ``form_response`` event's response, or why it cannot be used.

    Verify the signature first (:func:`connectors.surveys.webhooks.verify_typeform`); this only
    parses. An event for another form than the source's is refused: its questions' refs mean
    something else there.
    """
    location = "typeform webhook"
    event = _event(body)
    if isinstance(event, str):
        return SourceProblem(source, location, event)
    event_type = event.get("event_type")
    if event_type != WEBHOOK_EVENT:
        return SourceProblem(source, location, f"unsupported event type {event_type!r}")
    form_response = event.get("form_response")
    if isinstance(form_response, Mapping):
        form_id = form_response.get("form_id")
        if form_id != mapping.form_id:
            reason = f"form {form_id!r} is not this source's form {mapping.form_id!r}"
            return SourceProblem(source, location, reason)
    return parse_typeform_response(form_response, source=source, mapping=mapping, until=received_at)


def webhook_event_id(body: bytes) -> str | None:
    """The ``event_id`` of a webhook body, if it has one (Typeform keeps it across retries)."""
    event = _event(body)
    if isinstance(event, str):
        return None
    event_id = event.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else None


def _event(body: bytes) -> Mapping[str, Any] | str:
    """The decoded event, or why it is not one."""
    try:
        event = parse_json(body)
    except FieldError as problem:
        return str(problem)
    if not isinstance(event, Mapping):
        return "not a JSON object"
    return event
