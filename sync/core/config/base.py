"""The base of every config section, and how its validators report problems.

Sections are strict (an unknown key is an error) and frozen. Validators that check more than one
value raise :func:`~rules.issues.invalid` with :class:`~rules.issues.Issue` objects that carry
data paths relative to the section, as the rules models do; the loader turns each into
``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from rules.durations import DURATION_PATTERN, parse_duration
from rules.issues import Issue, invalid

__all__ = ["Duration", "Issue", "Section", "invalid"]

#: The longest duration a setting accepts: ten years, so that "act on everything" stays a choice.
LONGEST_DURATION = timedelta(days=3650)


def _duration(text: object) -> timedelta:
    return parse_duration(text, longest=LONGEST_DURATION)


#: A duration as the rules write them (``90s``, ``30m``, ``4h``, ``14d``, ``2w``).
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "description": "like 30m, 4h, 14d or 2w"}
    ),
]


class Section(BaseModel):
    """A strict, frozen part of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def plain_domains(domains: Iterable[str], what: str) -> None:
    """Raise ValueError naming every entry that is not a plain domain (``acme.com``).

    Domains reach Salesforce and Zendesk lookups; a wildcard or search syntax must not.
    """
    from connectors.addresses import is_plain_domain

    bad = [d for d in domains if not is_plain_domain(d.strip().lower())]
    if bad:
        shown = ", ".join(repr(d) for d in bad[:5])
        raise ValueError(f"{what} must be plain domains like acme.com, not {shown}")


def compiling_template(value: str | None) -> str | None:
    """``value`` if it is empty or a template that compiles; a validation error naming why not."""
    if value:
        from rules.templates import TemplateSourceError, compile_template

        try:
            compile_template(value)
        except TemplateSourceError as exc:
            raise ValueError(exc.message) from None
    return value
