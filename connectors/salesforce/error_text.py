"""Salesforce error messages as an admin reads them: the status code, the fields, the limit or
rule, never a record's value.

Salesforce quotes the value it refused in many messages (``Description: data value too large:
<the whole comment> (max length=32000)``, ``Email: invalid email address: <the address>``, a
restricted picklist's bad value, a value of the wrong type), and an Apex ``addError`` may put any
field in a ``FIELD_CUSTOM_VALIDATION_EXCEPTION``. Those values are survey comments and people's
names and addresses: they must not reach logs, the stored ``last_error`` or write-back reports.
So a message is kept whole only for codes whose text is a fixed sentence; a code known to quote
its value gets a fixed description (and its limit); a validation message (the rule's own text)
and the message of any other code of a record whose values we know have those values taken out;
any other message is left out, its code and fields named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Codes whose message names no record value: kept as Salesforce wrote it.
PLAIN_MESSAGES = frozenset(
    {
        "API_DISABLED_FOR_ORG",
        "ENTITY_IS_DELETED",
        "INACTIVE_OWNER_OR_USER",
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "INVALID_CROSS_REFERENCE_KEY",
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "INVALID_SESSION_ID",
        "INVALID_TYPE",
        "MALFORMED_QUERY",
        "NOT_FOUND",
        "QUERY_TIMEOUT",
        "REQUEST_LIMIT_EXCEEDED",
        "REQUIRED_FIELD_MISSING",
        "SERVER_UNAVAILABLE",
        "UNABLE_TO_LOCK_ROW",
    }
)

#: Codes whose message quotes the refused value: what it says instead.
DESCRIPTIONS = {
    "STRING_TOO_LONG": "data value too large",
    "INVALID_EMAIL_ADDRESS": "invalid email address",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "bad value for restricted picklist field",
    "DUPLICATE_VALUE": "duplicate value found",
    "INVALID_TYPE_ON_FIELD_IN_RECORD": "value not of required type",
    "MALFORMED_ID": "id value of incorrect type",
    "NUMBER_OUTSIDE_VALID_RANGE": "number outside valid range",
    "JSON_PARSER_ERROR": "the request body could not be read",
}

#: Codes whose message is the org's own rule text (a validation rule, a trigger's addError).
RULE_MESSAGES = frozenset({"FIELD_CUSTOM_VALIDATION_EXCEPTION"})

#: What is worth keeping of a message that quotes a value: its limit, the record it clashes with.
_KEPT = (
    re.compile(r"\((?:max length|max)\s*=\s*\d+\)", re.IGNORECASE),
    re.compile(r"on record with id: [A-Za-z0-9]{15,18}\b"),
)
#: Values shorter than this are not taken out of a rule's text (they would mangle its words).
_SHORTEST_VALUE = 3


def plain_error(
    code: str,
    message: str,
    fields: Iterable[str] = (),
    sent: Mapping[str, Any] | None = None,
) -> str:
    """``CODE: description (fields)`` with no record value in it; ``sent``: the record as sent,
    whose values are taken out of a rule's text."""
    names = [str(f) for f in fields if f]
    where = f" ({', '.join(names)})" if names else ""
    label = code or "UNKNOWN_ERROR"
    if code in PLAIN_MESSAGES:
        return f"{label}: {message}{where}" if message else f"{label}{where}"
    if not message:
        return f"{label}{where}"
    kept = [m.group(0) for pattern in _KEPT if (m := pattern.search(message))]
    if code in DESCRIPTIONS:
        return f"{label}: {' '.join([DESCRIPTIONS[code], *kept])}{where}"
    if code in RULE_MESSAGES or sent is not None:
        return f"{label}: {without_values(message, sent)}{where}"
    left_out = " ".join([*kept, "(message left out: it may quote the record)"])
    return f"{label}: {left_out}{where}"


def without_values(text: str, sent: Mapping[str, Any] | None) -> str:
    """``text`` with every value of ``sent`` (text or number, long enough, as a whole word)
    replaced by ``…``."""
    if not sent:
        return text
    quoted = {str(v) for v in sent.values() if isinstance(v, str | int | float)}
    for value in sorted(quoted - {"True", "False"}, key=len, reverse=True):
        if len(value) >= _SHORTEST_VALUE:
            text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "…", text)
    return text
