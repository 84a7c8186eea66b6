"""``nps-sync rules``: check, test, explain and replay routing rules."""

from __future__ import annotations

import click


@click.group("rules")
def rules_group() -> None:
    """Work with routing rules files."""
