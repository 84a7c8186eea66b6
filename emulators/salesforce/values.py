"""Field values: from JSON or CSV into typed Python values, and back into Salesforce JSON.

The store keeps typed values (``date``, timezone-aware ``datetime``, ``float``, ``bool``, ``str``)
so SOQL can compare them; answers render them the way the REST API does (datetimes as
``2024-05-01T12:00:00.000+0000``, dates as ``2024-05-01``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from emulators.salesforce.schema import FieldDef

_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_DATETIME: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?\Z"
)
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})

#: Bulk CSV cell meaning "set this field to null" (an empty cell means "leave it").
CSV_NULL: Final = "#N/A"


class BadValueError(ValueError):
    """A value that cannot be read as the field's type (a JSON or CSV parse error)."""


def parse_date(text: str) -> date | None:
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 timestamp; without a zone it is UTC, as Salesforce assumes."""
    match = _DATETIME.match(text)
    if not match:
        return None
    zone = UTC
    if match[8] and match[8] != "Z":
        sign = -1 if match[8][0] == "-" else 1
        digits = match[8][1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    fraction = (match[7] or "0")[:6].ljust(6, "0")
    try:
        moment = datetime(
            int(match[1]),
            int(match[2]),
            int(match[3]),
            int(match[4]),
            int(match[5]),
            int(match[6]),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError:
        return None
    return moment.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def from_json(definition: FieldDef, value: Any) -> Any:
    """Read a JSON request value for ``definition``; raise :class:`BadValueError` if impossible."""
    if value is None:
        return None
    kind = definition.type
    if definition.is_text or definition.is_id:
        if isinstance(value, (bool, dict | list)):
            raise BadValueError(_cannot(definition, value))
        return value if isinstance(value, str) else _number_text(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise BadValueError(_cannot(definition, value))
    if definition.is_number:
        return _number(definition, value)
    if isinstance(value, str):
        return _temporal(definition, value)
    raise BadValueError(_cannot(definition, value))


def from_csv(definition: FieldDef, cell: str) -> Any:
    """Read a Bulk 2.0 CSV cell (``#N/A`` is null; callers skip empty cells)."""
    if cell == CSV_NULL:
        return None
    return from_json(definition, cell)


def to_json(definition: FieldDef, value: Any) -> Any:
    """Render a stored value as the REST API does."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if definition.type == "date":
            return value.date().isoformat()
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if definition.type == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if definition.is_number and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _number(definition: FieldDef, value: Any) -> float | int:
    if isinstance(value, bool):
        raise BadValueError(_cannot(definition, value))
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise BadValueError(_cannot(definition, value)) from None
    else:
        raise BadValueError(_cannot(definition, value))
    if number != number or number in (float("inf"), float("-inf")):
        raise BadValueError(_cannot(definition, value))
    if definition.type == "int":
        if not number.is_integer():
            raise BadValueError(_cannot(definition, value))
        return int(number)
    return number


def _temporal(definition: FieldDef, text: str) -> date | datetime:
    if definition.type == "date":
        parsed_date = parse_date(text[:10]) if len(text) >= 10 else None
        if parsed_date is not None and (len(text) == 10 or parse_datetime(text)):
            return parsed_date
        raise BadValueError(_cannot(definition, text))
    parsed = parse_datetime(text)
    if parsed is None:
        only_date = parse_date(text)
        if only_date is None:
            raise BadValueError(_cannot(definition, text))
        parsed = datetime(only_date.year, only_date.month, only_date.day, tzinfo=UTC)
    return parsed


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cannot(definition: FieldDef, value: Any) -> str:
    json_kind = (
        "VALUE_STRING" if isinstance(value, str) else "VALUE_" + type(value).__name__.upper()
    )
    return (
        f"Cannot deserialize instance of {definition.type} from {json_kind} value {value} "
        f"or request may be missing a required field ({definition.name})"
    )
