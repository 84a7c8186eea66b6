"""The Salesforce fields routing reads as custom fields (``account.custom.<Name>``,
``contact.custom.<Name>``, declared under ``fields:`` in the rules).

The match stage's lookups read them with the record they belong to, so they cost no request of
their own; only those a condition or a template uses are read. A field Salesforce does not have
would fail every lookup's query, so the rules are checked against describe first: at start-up
(the pass stops with a configuration error naming the field) and on every reload (the rules in
force stay, :mod:`sync.checks.references`).
"""

from __future__ import annotations

from connectors.salesforce.describe import FieldInfo
from rules import FieldType, Ruleset

#: Rules namespace -> Salesforce object.
OBJECTS = {"account": "Account", "contact": "Contact"}
#: Salesforce's number types (describe ``type``).
_NUMBERS = frozenset({"int", "double", "currency", "percent"})


def salesforce_fields(ruleset: Ruleset, namespace: str) -> tuple[str, ...]:
    """The API names of the ``<namespace>.custom.<Name>`` fields the rules use, in order."""
    prefix = f"{namespace}.custom."
    return tuple(
        spec.name.removeprefix(prefix)
        for spec in ruleset.custom
        if spec.name.startswith(prefix) and ruleset.reads(spec.name)
    )


def declared_as(info: FieldInfo) -> FieldType:
    """The type to declare a Salesforce field as: a checkbox is a boolean, a number without
    decimals an integer, another number a number, anything else text."""
    if info.type == "boolean":
        return FieldType.BOOLEAN
    if info.type == "int" or (info.type in _NUMBERS and info.scale == 0):
        return FieldType.INTEGER
    return FieldType.NUMBER if info.type in _NUMBERS else FieldType.STRING


def fits(declared: FieldType, info: FieldInfo) -> bool:
    """Whether the field's values read as the declared type: any of them as text, a whole
    number as a number too."""
    actual = declared_as(info)
    return declared in (actual, FieldType.STRING) or (
        declared is FieldType.NUMBER and actual is FieldType.INTEGER
    )
