"""Reading our fields back from Salesforce and Zendesk, to find values someone changed by hand
(drift).

Comparing with what we last wrote cannot see a hand edit; only the record itself can. Salesforce
values are read through the :class:`~sync.core.ports.FieldReader` port (one SOQL per 200 record
ids), Zendesk user and organization fields through :class:`~sync.core.ports.HelpdeskFieldReader`
(one ``show_many`` per 100 ids). Values are compared by meaning, not by JSON form: Salesforce
answers ``9.0`` for a score we sent as ``9`` and ``null`` for an empty text; Zendesk may hold
``"3"`` for ``3`` or a date as ``2026-10-01T00:00:00+00:00``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from sync.core.ports import FieldReader, HelpdeskFieldReader
from sync.core.retry import RetryPolicy

NUMBER_TOLERANCE = 1e-6
#: A date, alone or as midnight UTC (how Zendesk may show a date field).
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$")


def read_current(
    crm: FieldReader,
    object_type: str,
    record_ids: Sequence[str],
    fields: Iterable[str],
    retry: RetryPolicy,
) -> dict[str, dict[str, Any]]:
    """Current values of ``fields`` per record id (records that no longer exist are absent)."""
    names = sorted(set(fields))
    if not names or not record_ids:
        return {}
    return retry.call(partial(crm.read_fields, object_type, list(record_ids), names))


def read_helpdesk(
    helpdesk: HelpdeskFieldReader,
    object_type: str,
    record_ids: Sequence[str],
    retry: RetryPolicy,
) -> dict[str, dict[str, Any]]:
    """Current field values of Zendesk ``user``s or ``organization``s per record id (as text).

    Records that no longer exist are absent, and so are fields the account does not have.
    """
    ids = [int(record_id) for record_id in record_ids if record_id.isdigit()]
    if not ids:
        return {}
    read = (
        helpdesk.user_field_values if object_type == "user" else helpdesk.organization_field_values
    )
    values = retry.call(partial(read, ids))
    return {str(record_id): dict(fields) for record_id, fields in values.items()}


def same_value(wanted: Any, actual: Any) -> bool:
    """Whether the field holds what we want, by value (numbers, dates, empty text)."""
    if wanted is None or wanted == "":
        return actual is None or actual == ""
    if isinstance(wanted, bool):
        return actual is wanted or str(actual).lower() == str(wanted).lower()
    if isinstance(wanted, int | float):
        try:
            return abs(float(actual) - float(wanted)) < NUMBER_TOLERANCE
        except (TypeError, ValueError):
            return False
    if actual is None:
        return False
    if isinstance(wanted, str) and isinstance(actual, str):
        wanted_date, actual_date = _DATE.match(wanted), _DATE.match(actual)
        if wanted_date and actual_date:
            return wanted_date.group(1) == actual_date.group(1)
    return str(actual).replace("\r\n", "\n") == str(wanted).replace("\r\n", "\n")


def drifted(
    wanted: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    *,
    shown_only: bool = False,
) -> dict[str, dict[str, Any]]:
    """The wanted values that differ from the record's current ones, per record.

    A record that cannot be read (deleted, not visible) is left out: writing it would fail too.
    With ``shown_only``, so is a field the record does not show at all (Zendesk drops values of
    fields that do not exist, so rewriting them every night would repair nothing).
    """
    out: dict[str, dict[str, Any]] = {}
    for record_id, fields in wanted.items():
        now = current.get(record_id)
        if now is None:
            continue
        diff = {
            k: v
            for k, v in fields.items()
            if not (shown_only and k not in now) and not same_value(v, now.get(k))
        }
        if diff:
            out[record_id] = diff
    return out
