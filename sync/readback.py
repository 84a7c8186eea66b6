"""Reading our fields back from Salesforce, to find values someone changed by hand (drift).

Comparing with what we last wrote cannot see a hand edit; only the record itself can. Values are
read with one SOQL per 200 record ids and compared by meaning, not by JSON form: Salesforce
answers ``9.0`` for a score we sent as ``9`` and ``null`` for an empty text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from connectors.salesforce.soql import in_batches
from sync.facts import QueriesSoql
from sync.retry import RetryPolicy

NUMBER_TOLERANCE = 1e-6


def read_current(
    crm: QueriesSoql,
    object_type: str,
    record_ids: Sequence[str],
    fields: Iterable[str],
    retry: RetryPolicy,
) -> dict[str, dict[str, Any]]:
    """Current values of ``fields`` per record id (records that no longer exist are absent)."""
    names = sorted(set(fields))
    if not names or not record_ids:
        return {}
    # Field names come from the config's mapping; ids only pass through in_batches' escaping.
    template = f"SELECT Id, {', '.join(names)} FROM {object_type} WHERE Id IN {{values}}"  # noqa: S608
    current: dict[str, dict[str, Any]] = {}
    by_lower = {record_id.lower(): record_id for record_id in record_ids}
    for soql, _ in in_batches(template, list(record_ids)):
        for record in retry.call(partial(crm.query_all, soql)):
            record_id = by_lower.get(str(record["Id"]).lower(), str(record["Id"]))
            current[record_id] = {name: record.get(name) for name in names}
    return current


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
    return str(actual).replace("\r\n", "\n") == str(wanted).replace("\r\n", "\n")


def drifted(
    wanted: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The wanted values that differ from the record's current ones, per record.

    A record that cannot be read (deleted, not visible) is left out: writing it would fail too.
    """
    out: dict[str, dict[str, Any]] = {}
    for record_id, fields in wanted.items():
        now = current.get(record_id)
        if now is None:
            continue
        diff = {k: v for k, v in fields.items() if not same_value(v, now.get(k))}
        if diff:
            out[record_id] = diff
    return out
