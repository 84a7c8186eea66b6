"""Validated scalar types of the rules file, each failing with a message an admin can act on.

JSON Schema patterns are attached for editors; the validators enforce the same rules with better
messages than a bare pattern mismatch.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

from rules.durations import DURATION_PATTERN, parse_duration
from rules.errors import did_you_mean
from rules.issues import Issue, invalid
from rules.skips import SKIP_CODES
from rules.templates import TemplateSourceError, compile_template


def check_name(value: str) -> str:
    """Names of rules and actions; they end up in idempotency keys, so keep them plain."""
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError(
            f"invalid name {value!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit, at most 64 characters"
        )
    return value


def _check_template(source: str) -> str:
    try:
        compile_template(source)
    except TemplateSourceError as problem:
        raise invalid([Issue((), problem.message, scalar_line=problem.line)]) from None
    return source


def _check_email(value: str) -> str:
    if not re.fullmatch(EMAIL_PATTERN, value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _check_owner(value: str) -> str:
    if value in OWNER_KINDS:
        return value
    if value.startswith("user:"):
        user = value.removeprefix("user:")
        if re.fullmatch(EMAIL_PATTERN, user) or re.fullmatch(SALESFORCE_USER_ID_PATTERN, user):
            return value
        raise ValueError(f"{user!r} is neither an email address nor a Salesforce user id (005...)")
    if value.startswith("queue:"):
        queue = value.removeprefix("queue:")
        if re.fullmatch(QUEUE_NAME_PATTERN, queue):
            return value
        raise ValueError(
            f"{queue!r} is not a queue name: write the queue's Name or DeveloperName "
            "(up to 80 characters, no line breaks, no spaces at either end)"
        )
    raise ValueError(
        f"unknown owner {value!r}; expected account_owner, contact_owner, user:<email or id> "
        f"or queue:<queue name>{did_you_mean(value, OWNER_KINDS)}"
    )


def _check_skip_code(value: str) -> str:
    if value not in SKIP_CODES:
        raise ValueError(
            f"unknown skip reason {value!r}; expected one of {', '.join(SKIP_CODES)}"
            f"{did_you_mean(value, SKIP_CODES)}"
        )
    return value


def _check_env_name(value: str) -> str:
    if "://" in value:
        raise ValueError(
            "webhook_env names the environment variable that holds the URL; "
            "never put the URL itself in the rules file"
        )
    if not re.fullmatch(ENV_NAME_PATTERN, value):
        raise ValueError(f"{value!r} is not an environment variable name (like SLACK_WEBHOOK_URL)")
    return value


def _check_tag(value: str) -> str:
    if not re.fullmatch(ZENDESK_TAG_PATTERN, value):
        suggestion = re.sub(r"\s+", "_", value.strip().lower())
        raise ValueError(
            f"Zendesk tags are lower case without spaces (Zendesk would change {value!r}); "
            f"write {suggestion!r}"
        )
    return value


NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
#: A plain address, as connectors/addresses.py has it (any case): no wildcard or search syntax
#: can reach a Zendesk or Salesforce lookup from a rules file either.
EMAIL_PATTERN = (
    r"[A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
SALESFORCE_USER_ID_PATTERN = r"005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?"
#: A queue's Name (free text, 40 characters) or DeveloperName (80): printable, no edge spaces.
QUEUE_NAME_PATTERN = r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,78}[^\s\x00-\x1f\x7f])?"
ENV_NAME_PATTERN = r"[A-Z_][A-Z0-9_]*"
ZENDESK_TAG_PATTERN = r"[a-z0-9_\-:/.]+"
API_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
OWNER_KINDS = ("account_owner", "contact_owner")


def _schema_pattern(pattern: str) -> Any:
    """Document ``pattern`` in the JSON Schema; the validators check it with better messages."""
    return Field(json_schema_extra={"pattern": f"^{pattern}$"})


Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Name = Annotated[str, Strict(), AfterValidator(check_name), _schema_pattern(NAME_PATTERN)]
TemplateText = Annotated[str, Strict(), AfterValidator(_check_template)]
Email = Annotated[str, Strict(), AfterValidator(_check_email)]
Owner = Annotated[
    str,
    Strict(),
    AfterValidator(_check_owner),
    Field(
        description=(
            "account_owner, contact_owner, user:<email or Salesforce user id> or "
            "queue:<queue Name or DeveloperName>"
        ),
        json_schema_extra={"pattern": "^(account_owner|contact_owner|user:.+|queue:.+)$"},
    ),
]
SkipCode = Annotated[
    str,
    Strict(),
    AfterValidator(_check_skip_code),
    WithJsonSchema({"type": "string", "enum": list(SKIP_CODES)}),
]
EnvName = Annotated[
    str, Strict(), AfterValidator(_check_env_name), _schema_pattern(ENV_NAME_PATTERN)
]
ZendeskTag = Annotated[
    str, Strict(), AfterValidator(_check_tag), _schema_pattern(ZENDESK_TAG_PATTERN)
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "description": "like 30m, 4h, 2d or 1w"}
    ),
]
