"""The base of every config section, and how its validators report problems.

Sections are strict (an unknown key is an error) and frozen. Validators that check more than one
value raise :func:`~rules.issues.invalid` with :class:`~rules.issues.Issue` objects that carry
data paths relative to the section, as the rules models do; the loader turns each into
``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from rules.issues import Issue, invalid

__all__ = ["Issue", "Section", "invalid"]


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
