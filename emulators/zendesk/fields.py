"""Custom field catalogue defaults and value coercion.

Zendesk coerces what it can (``"7"`` into an integer field becomes ``7``) and rejects what it
cannot with a 422. Unknown keys are dropped silently, which is exactly what makes a
misconfigured account dangerous: the write "succeeds" and the value is gone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import Invalid
from .records import CustomField, FieldOption

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")


@dataclass(frozen=True)
class FieldSpec:
    """A field to create: title, type, key (user/org fields) and dropdown option values."""

    title: str
    type: str
    key: str | None = None
    options: tuple[str, ...] = ()


SYSTEM_TICKET_FIELDS = (
    FieldSpec("Subject", "subject"),
    FieldSpec("Description", "description"),
    FieldSpec("Status", "status"),
    FieldSpec("Type", "tickettype"),
    FieldSpec("Priority", "priority"),
    FieldSpec("Group", "group"),
    FieldSpec("Assignee", "assignee"),
)
DEFAULT_TICKET_FIELDS = (
    FieldSpec("NPS Score", "integer"),
    FieldSpec("NPS Category", "tagger", options=("promoter", "passive", "detractor")),
    FieldSpec("NPS Response Link", "text"),
    FieldSpec(
        "Loop outcome",
        "tagger",
        options=("loop_resolved", "loop_not_reachable", "loop_no_action_needed", "loop_churn_risk"),
    ),
)
DEFAULT_USER_FIELDS = (
    FieldSpec("NPS score", "integer", key="nps_score"),
    FieldSpec("NPS category", "text", key="nps_category"),
    FieldSpec("NPS date", "date", key="nps_date"),
)
DEFAULT_ORGANIZATION_FIELDS = (
    FieldSpec("NPS account score", "decimal", key="nps_account_score"),
    FieldSpec("NPS respondents", "integer", key="nps_respondents"),
)
#: The other NPS fields (key: type) an account adds when it maps every metric nps-sync writes;
#: :meth:`emulators.zendesk.ZendeskEmulator.add_metric_fields` creates them.
METRIC_USER_FIELDS = {
    "nps_comment": "textarea",
    "nps_previous_score": "integer",
    "nps_score_change": "integer",
    "nps_responses": "integer",
    "nps_link": "text",
}
METRIC_ORGANIZATION_FIELDS = {
    "nps_coverage": "decimal",
    "nps_trend": "decimal",
    "nps_last_response": "date",
    "nps_detractors": "integer",
    "nps_small_sample": "checkbox",
    "nps_stale": "checkbox",
    "nps_revenue_at_risk": "decimal",
}


class FieldValueError(ValueError):
    """The value cannot be stored in a field of this type; the message is Zendesk's wording."""


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldValueError("is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise FieldValueError("is not a number")


def _decimal(value: Any) -> float:
    if isinstance(value, bool):
        raise FieldValueError("is not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value.strip()))
        except InvalidOperation:
            pass
    raise FieldValueError("is not a number")


def _date(value: Any) -> str:
    match = _DATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise FieldValueError("is not a valid date")
    return match.group(1)


def _checkbox(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0, ""):
        return False
    raise FieldValueError("is not a valid checkbox value")


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
    "checkbox": _checkbox,
}


def coerce(definition: CustomField, value: Any) -> Any:
    """The stored form of ``value``; ``None`` clears. Raises :class:`FieldValueError`."""
    if value is None or (value == "" and definition.type != "checkbox"):
        return None
    if definition.type in ("tagger", "dropdown"):
        allowed = {option.value for option in definition.options}
        # Zendesk drops an unknown option value rather than failing the whole write.
        return value if isinstance(value, str) and value in allowed else None
    coercer = _COERCERS.get(definition.type)
    if coercer is not None:
        return coercer(value)
    return value if isinstance(value, str) else str(value)


def build(
    specs: Iterable[FieldSpec], next_id: Callable[[], int], now: float, *, system: bool = False
) -> list[CustomField]:
    """Field definitions for ``specs``, with ids (and option ids) from ``next_id``."""
    fields = []
    for position, spec in enumerate(specs):
        options = tuple(FieldOption(next_id(), value.capitalize(), value) for value in spec.options)
        fields.append(
            CustomField(
                id=next_id(),
                title=spec.title,
                type=spec.type,
                created_at=now,
                key=spec.key,
                description=spec.title,
                position=position if system else 9999,
                system=system,
                options=options,
            )
        )
    return fields


def accept_named(
    values: Any, lookup: Callable[[str], CustomField | None], invalid: Invalid
) -> dict[str, Any]:
    """Coerced ``user_fields`` / ``organization_fields`` values for known keys.

    Unknown keys are dropped without an error, as Zendesk does; bad values are added to
    ``invalid``.
    """
    if not isinstance(values, dict):
        return {}
    accepted = {}
    for key, value in values.items():
        definition = lookup(str(key))
        if definition is None:
            continue
        try:
            accepted[str(key)] = coerce(definition, value)
        except FieldValueError as error:
            invalid.add(str(key), f"{definition.title}: {error}", "InvalidValue")
    return accepted
