"""Moments on the command line: ``--until`` takes a date alone as the end of that day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click


class UntilType(click.DateTime):
    """A moment in UTC; a date alone is the end of that day, so ``--until 2026-11-30`` takes
    in the answers of 30 November (a month's report ends with its last day, not before it)."""

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        moment = super().convert(value, param, ctx)
        if isinstance(value, str) and len(value.strip()) == len("2026-11-30"):
            return moment + timedelta(days=1, microseconds=-1)
        return moment
