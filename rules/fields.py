"""The typed catalogue of fields a rule can test and a template can show.

The engine hands the router a flat mapping keyed by these names (missing values are ``None``).
Response fields have bare names (``score``, ``comment``); everything matched to the response is
prefixed by where it comes from (``account.tier``, ``support.open_tickets``). Templates see the same
values nested: bare names under ``response`` (``{{ response.score }}``), the rest by their dotted
path (``{{ account.name }}``).

Rules files may declare extra fields under ``fields:``, named
``<account|contact|response>.custom.<Name>`` so the engine knows where to read them from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Final

from rules.errors import FieldsError, did_you_mean


class FieldType(StrEnum):
    """The value types a field can hold; they decide which operators apply."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    #: A list of text values (the themes of a comment); tested with ``contains``/``not_contains``.
    LIST = "list"

    @property
    def noun(self) -> str:
        """How messages describe a value of this type."""
        return _NOUNS[self]


@cache
def _template_path(name: str) -> tuple[str, ...]:
    """``FieldSpec.template_path``, worked out once per name: templates ask for it per render."""
    parts = tuple(name.split("."))
    return ("response", *parts) if len(parts) == 1 else parts


_NOUNS = {
    FieldType.STRING: "text",
    FieldType.INTEGER: "a whole number",
    FieldType.NUMBER: "a number",
    FieldType.BOOLEAN: "true or false",
    FieldType.LIST: "a list of text",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: its type, and what the loader may check about literal values compared to it."""

    name: str
    type: FieldType
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    case_sensitive: bool = False
    custom: bool = False

    def accepts(self, value: object) -> bool:
        """True when ``value`` (not None) has this field's type."""
        return _ACCEPTS[self.type](value)

    @property
    def template_path(self) -> tuple[str, ...]:
        """Where templates find this field: ``("response", "score")``, ``("account", "name")``."""
        return _template_path(self.name)

    @property
    def sample(self) -> object:
        """A plausible value, used to test-render templates when the rules file is loaded."""
        if self.choices:
            return self.choices[-1]
        if self.type is FieldType.BOOLEAN:
            return True
        if self.type is FieldType.LIST:
            return [f"<{self.name}>"]
        if self.type in (FieldType.INTEGER, FieldType.NUMBER):
            return self.minimum if self.minimum is not None else 1
        return f"<{self.name}>"


def _is_number(value: object) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


_ACCEPTS: Mapping[FieldType, Callable[[object], bool]] = {
    FieldType.STRING: lambda value: isinstance(value, str),
    FieldType.INTEGER: lambda value: type(value) is int,
    FieldType.NUMBER: _is_number,
    FieldType.BOOLEAN: lambda value: type(value) is bool,
    FieldType.LIST: lambda value: (
        isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    ),
}

CATEGORIES = ("promoter", "passive", "detractor")
#: The longest comment a response carries (sources cut longer ones, and say so).
MAX_COMMENT_LENGTH = 32_000
SURVEY_TYPES = ("relationship", "transactional")


S, INT, N, B = FieldType.STRING, FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN
L = FieldType.LIST

BUILTIN_FIELDS: Mapping[str, FieldSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            FieldSpec("score", INT, "NPS answer, 0 to 10", minimum=0, maximum=10),
            FieldSpec(
                "category", S, "promoter (9-10), passive (7-8), detractor (0-6)", choices=CATEGORIES
            ),
            FieldSpec("previous_score", INT, "the person's previous answer", minimum=0, maximum=10),
            FieldSpec("score_change", INT, "score minus previous_score", minimum=-10, maximum=10),
            FieldSpec("survey_type", S, "relationship or transactional", choices=SURVEY_TYPES),
            FieldSpec("channel", S, "how the survey was delivered (email, web, sms, ...)"),
            FieldSpec("language", S, "language of the answer (en, de, ...)"),
            FieldSpec("source", S, "survey tool the response came from (delighted, typeform, csv)"),
            FieldSpec("comment", S, "free-text answer"),
            FieldSpec("comment_present", B, "the comment has non-blank text"),
            FieldSpec("comment_length", INT, "characters in the comment", minimum=0),
            FieldSpec("sentiment", N, "comment sentiment, -1 to 1", minimum=-1, maximum=1),
            FieldSpec("themes", L, "taxonomy themes of the comment, most confident first"),
            FieldSpec("emerging", L, "themes of the comment flagged as emerging this week"),
            FieldSpec("age_minutes", INT, "minutes since the response was submitted", minimum=0),
            FieldSpec("submitted_at", S, "when the response was submitted (ISO 8601)"),
            FieldSpec("person_email", S, "email the survey tool has for the respondent"),
            FieldSpec("person_name", S, "name the survey tool has for the respondent"),
            FieldSpec("permalink", S, "link to the response in the survey tool"),
            FieldSpec("contact.id", S, "Salesforce Contact id", case_sensitive=True),
            FieldSpec("contact.name", S, "Contact full name"),
            FieldSpec("contact.email", S, "Contact email"),
            FieldSpec("contact.title", S, "Contact job title"),
            FieldSpec("contact.owner_id", S, "Contact owner user id", case_sensitive=True),
            FieldSpec("contact.role", S, "Contact role (decision maker, user, ...)"),
            FieldSpec("account.id", S, "Salesforce Account id", case_sensitive=True),
            FieldSpec("account.name", S, "Account name"),
            FieldSpec("account.tier", S, "Account tier / segment"),
            FieldSpec("account.arr", N, "annual recurring revenue", minimum=0),
            FieldSpec("account.industry", S, "Account industry"),
            FieldSpec("account.region", S, "Account region"),
            FieldSpec("account.owner_id", S, "Account owner user id", case_sensitive=True),
            FieldSpec("account.owner_email", S, "Account owner email"),
            FieldSpec("account.tenure_days", INT, "days since the account became a customer"),
            FieldSpec(
                "account.days_to_renewal", INT, "days until the next renewal (negative: overdue)"
            ),
            FieldSpec(
                "account.nps",
                N,
                "the account's current NPS, -100 to 100",
                minimum=-100,
                maximum=100,
            ),
            FieldSpec("matched.salesforce", B, "a Salesforce contact was matched"),
            FieldSpec("matched.zendesk", B, "a Zendesk user was matched"),
            FieldSpec(
                "support.open_tickets", INT, "open Zendesk tickets of the requester", minimum=0
            ),
            FieldSpec(
                "support.tickets_last_30d", INT, "tickets of the requester in 30 days", minimum=0
            ),
            FieldSpec("labels.theme", S, "the comment's most confident theme"),
        )
    }
)

CUSTOM_FIELD_PATTERN = r"^(account|contact|response)\.custom\.[A-Za-z][A-Za-z0-9_]*$"
_CUSTOM_FIELD = re.compile(CUSTOM_FIELD_PATTERN)


#: Fields an earlier catalogue named, and what to use instead.
RETIRED_FIELDS = {
    "labels.sentiment": "route on 'sentiment', the comment's sentiment from -1 to 1 "
    "({sentiment: {lt: -0.3}})",
}


def unknown_field(name: str, known: Iterable[str]) -> str:
    """Why ``name`` is refused: not in the catalogue; a custom field says where to declare it."""
    if re.fullmatch(CUSTOM_FIELD_PATTERN, name):
        return f"unknown field {name!r}: declare it under fields: with its type ({name}: string)"
    if name in RETIRED_FIELDS:
        return f"unknown field {name!r}: {RETIRED_FIELDS[name]}"
    return f"unknown field {name!r}{did_you_mean(name, known)}"


def check_custom_field_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a well-formed custom field name."""
    if name in BUILTIN_FIELDS:
        raise ValueError(f"{name!r} is a built-in field; declare only custom fields")
    if not _CUSTOM_FIELD.match(name):
        raise ValueError(
            f"custom field {name!r} must be named account.custom.<Name>, "
            "contact.custom.<Name> or response.custom.<Name>, the name of letters, digits and "
            "underscores, starting with a letter"
        )


def field_catalogue(custom: Mapping[str, FieldType]) -> Mapping[str, FieldSpec]:
    """The built-in fields plus the custom ones a rules file declares."""
    merged = dict(BUILTIN_FIELDS)
    for name, type_ in custom.items():
        merged[name] = FieldSpec(name, type_, "custom field", custom=True)
    return MappingProxyType(merged)


def category_for(score: int) -> str:
    """The NPS category of a 0-10 score."""
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def derive_fields(fields: Mapping[str, object]) -> dict[str, object]:
    """Fill the fields that follow from others, unless given: category, score_change, comment_*.

    The engine, ``rules test`` cases and ``rules route`` all use this, so a case only needs
    ``score: 3`` to be a detractor.
    """
    derived = dict(fields)
    score, previous, comment = (
        fields.get("score"),
        fields.get("previous_score"),
        fields.get("comment"),
    )
    if type(score) is int:
        derived.setdefault("category", category_for(score))
        if type(previous) is int:
            derived.setdefault("score_change", score - previous)
    if isinstance(comment, str):
        derived.setdefault("comment_present", bool(comment.strip()))
        derived.setdefault("comment_length", len(comment))
    return derived


def check_types(fields: Mapping[str, object], specs: Iterable[FieldSpec]) -> None:
    """Raise :class:`FieldsError` for the first value in ``fields`` whose type does not fit."""
    for spec in specs:
        value = fields.get(spec.name)
        if value is not None and not spec.accepts(value):
            raise FieldsError(spec.name, spec.type.noun, value)


#: How a survey property or a command line writes a boolean.
TRUE_WORDS: Final = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS: Final = frozenset({"false", "no", "n", "0"})


def parse_field_value(spec: FieldSpec, text: str) -> object:
    """Read a command-line value for ``spec`` (``null`` means missing); ValueError if unfit."""
    if text == "null":
        return None
    if spec.type is FieldType.STRING:
        return text
    if spec.type is FieldType.LIST:  # themes=onboarding,pricing
        return [item.strip() for item in text.split(",") if item.strip()]
    if spec.type is FieldType.BOOLEAN:
        word = text.strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(f"{spec.name} is true or false (or yes or no), got {text!r}")
    try:
        value = int(text) if spec.type is FieldType.INTEGER else _number(text)
    except ValueError:
        raise ValueError(f"{spec.name} is {spec.type.noun}, got {text!r}") from None
    low = spec.minimum if spec.minimum is not None else -math.inf
    high = spec.maximum if spec.maximum is not None else math.inf
    if not low <= value <= high:  # a value no response can have (sentiment=-5)
        bounds = f"between {low} and {high}" if high < math.inf else f"at least {low}"
        raise ValueError(f"{spec.name} is {bounds}, got {text!r}")
    return value


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value
