"""Durations as admins write them: ``30m``, ``4h``, ``2d``, ``1w``.

One number and one unit, nothing else: ``1.5d`` or ``90`` (which unit?) are errors rather than
guesses.
"""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^[0-9]+[smhdw]$"
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MAX = timedelta(days=366)


def parse_duration(text: object, longest: timedelta = _MAX) -> timedelta:
    """Parse ``<int><s|m|h|d|w>``; raise ValueError with an admin-readable reason otherwise.

    Rules durations stay within a year; a setting that may reach further passes ``longest``.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        hint = f" (write '{text}m', '{text}h' or '{text}d')" if isinstance(text, int) else ""
        raise ValueError(f"expected a duration like 30m, 4h, 2d or 1w, got {text!r}{hint}")
    if not _DURATION.fullmatch(text):
        raise ValueError(f"expected a duration like 30m, 4h, 2d or 1w, got {text!r}")
    seconds = int(text[:-1]) * _UNIT_SECONDS[text[-1]]
    if seconds > longest.total_seconds():  # compared before a timedelta could overflow
        limit = "a year" if longest == _MAX else format_duration(longest)
        raise ValueError(f"duration {text[:40]!r} is longer than {limit}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``value`` in the largest whole unit up to days (``timedelta(hours=48)`` -> ``2d``)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
