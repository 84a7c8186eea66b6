"""Set-up checks behind ``nps-sync check``: does the configured org and helpdesk fit the config?

Each system's module returns :class:`Finding`s; the command prints them and exits non-zero when
any is an error, so an admin learns before the first sync what to create or fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Finding:
    """One checked item: a field, a group, a permission."""

    system: str
    item: str
    level: Literal["ok", "warning", "error"]
    message: str
    #: What to create or change to fix it, when there is a concrete answer.
    fix: str = ""


def unusable(host: str, error: object) -> str:
    """``cannot use HOST: why``, unless the error already names the host."""
    text = str(error)
    return text if host in text else f"cannot use {host}: {text}"
