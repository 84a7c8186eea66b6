"""``--json``: one JSON document on stdout instead of tables, for scripts and monitoring.

Every command that prints tables takes ``--json``; the document is the only thing written to
stdout (logs and error messages go to stderr) and the exit code is the same as without it.
Numbers stay numbers, timestamps are ISO-8601 in UTC (``2025-01-31T09:30:00Z``), missing values
are ``null``. The keys of each document are listed in the README (Scripting with ``--json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

JSON_OPTION = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document on stdout instead of tables (logs stay on stderr).",
)


def iso(moment: datetime | None) -> str | None:
    """A moment as ISO-8601 in UTC with a ``Z``; a naive one (SQLite gives those) is UTC."""
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """What ``json`` cannot write by itself, as the documents promise it."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)  # a value type of a field nps-sync does not know: its text


def emit(document: Mapping[str, Any]) -> None:
    """Write ``document`` to stdout as the command's whole output."""
    click.echo(json.dumps(document, indent=2, default=_plain, ensure_ascii=False))
