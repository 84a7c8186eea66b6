"""The Salesforce fields routing reads as custom fields (``account.custom.<Name>``,
``contact.custom.<Name>``, declared under ``fields:`` in the rules).

The match stage's lookups read them with the record they belong to, so they cost no request of
their own; only those a condition or a template uses are read. A field Salesforce does not have
would fail every lookup's query, so the rules are checked against describe first: at start-up
(the pass stops with a configuration error naming the field) and on every reload (the rules in
force stay, :mod:`sync.checks.references`).
"""

from __future__ import annotations

from rules import Ruleset

#: Rules namespace -> Salesforce object.
OBJECTS = {"account": "Account", "contact": "Contact"}


def salesforce_fields(ruleset: Ruleset, namespace: str) -> tuple[str, ...]:
    """The API names of the ``<namespace>.custom.<Name>`` fields the rules use, in order."""
    prefix = f"{namespace}.custom."
    return tuple(
        spec.name.removeprefix(prefix)
        for spec in ruleset.custom
        if spec.name.startswith(prefix) and ruleset.reads(spec.name)
    )
