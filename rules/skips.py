"""Why an action a rule asked for was not taken: stable reason codes, and which of them an action
can meet.

The engine records every action it could not take with one of these codes (``nps-sync skipped``
lists them) and makes ``nps-sync sync`` exit 1 for a skip nobody expected. A rule or an action
declares the skips it expects with ``expect_skip: [code, ...]``: they are still recorded and
listed, but the pass counts as clean. A cooldown skip is expected by definition (the rule asked
for it). The codes are part of the rules file format: never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

ALL_TYPES = ("salesforce_task", "zendesk_ticket", "update_fields", "notify", "resurvey")


@dataclass(frozen=True, slots=True)
class SkipReason:
    """One reason code: what it means and the action types that can be skipped for it."""

    code: str
    meaning: str
    action_types: tuple[str, ...]


SKIP_REASONS: Mapping[str, SkipReason] = MappingProxyType(
    {
        reason.code: reason
        for reason in (
            SkipReason(
                "no_owner",
                "a Task whose account and contact have no owner, and no fallback owner is set",
                ("salesforce_task",),
            ),
            SkipReason(
                "owner_not_found",
                "a Task whose `user:` owner is not an active Salesforce user, and no fallback "
                "owner is set",
                ("salesforce_task",),
            ),
            SkipReason(
                "no_requester",
                "a ticket for a respondent who is not a Zendesk user, from an action without "
                "`create_requester: true`",
                ("zendesk_ticket",),
            ),
            SkipReason(
                "group_not_found",
                "a ticket for a Zendesk group that does not exist",
                ("zendesk_ticket",),
            ),
            SkipReason(
                "no_record_to_update",
                "field values for a record the response was not matched to",
                ("update_fields",),
            ),
            SkipReason(
                "template_failed",
                "a template that did not render for this response",
                ALL_TYPES,
            ),
            SkipReason(
                "cooldown",
                "the rule's cooldown held the response back (always expected)",
                ALL_TYPES,
            ),
        )
    }
)
SKIP_CODES = tuple(SKIP_REASONS)
#: Skips the rule itself asks for; never unexpected, so never worth declaring.
ALWAYS_EXPECTED = frozenset({"cooldown"})
