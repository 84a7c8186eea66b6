"""Routing rules: the YAML model, its loader and the compiled router.

Admins write one YAML file (format: :mod:`rules.model`); :func:`load_rules` validates it strictly,
reporting every problem as ``file:line:col: message``, and compiles it into a frozen
:class:`Ruleset` that routes a flat field mapping (:mod:`rules.fields`) to named actions. The
package does no I/O beyond reading the rules (and cases) files, and imports neither ``sync`` nor
``connectors``.
"""

from pathlib import Path

from rules.actions import (
    ActionSpec,
    FieldUpdatePayload,
    NamedTicket,
    NotificationPayload,
    NotifyAction,
    OwnerRef,
    Payload,
    ResurveyAction,
    ResurveyPayload,
    SalesforceTaskAction,
    TaskPayload,
    TicketPayload,
    UpdateFieldsAction,
    ZendeskTicketAction,
)
from rules.cases import Case, CaseResult, load_cases, parse_cases, run_cases
from rules.durations import format_duration, parse_duration
from rules.errors import (
    Diagnostic,
    FieldsError,
    RenderError,
    RulesBaseError,
    RulesError,
    did_you_mean,
)
from rules.fields import (
    BUILTIN_FIELDS,
    FieldSpec,
    FieldType,
    category_for,
    derive_fields,
    parse_field_value,
)
from rules.issues import Issue
from rules.loader import RulesCheck, load_rules, locate, parse_rules
from rules.router import (
    ConditionTrace,
    Cooldown,
    Decision,
    Escalation,
    RuleMatch,
    Ruleset,
    RuleTrace,
)
from rules.schema import rules_json_schema
from rules.skips import ALWAYS_EXPECTED, SKIP_CODES, SKIP_REASONS, SkipReason
from rules.templates import Template, render

EXAMPLES_DIR = Path(__file__).parent / "examples"
"""Example rules files with their cases; ``default.yaml`` is the one the demo uses."""

__all__ = [
    "ALWAYS_EXPECTED",
    "BUILTIN_FIELDS",
    "EXAMPLES_DIR",
    "SKIP_CODES",
    "SKIP_REASONS",
    "ActionSpec",
    "Case",
    "CaseResult",
    "ConditionTrace",
    "Cooldown",
    "Decision",
    "Diagnostic",
    "Escalation",
    "FieldSpec",
    "FieldType",
    "FieldUpdatePayload",
    "FieldsError",
    "Issue",
    "NamedTicket",
    "NotificationPayload",
    "NotifyAction",
    "OwnerRef",
    "Payload",
    "RenderError",
    "ResurveyAction",
    "ResurveyPayload",
    "RuleMatch",
    "RuleTrace",
    "RulesBaseError",
    "RulesCheck",
    "RulesError",
    "Ruleset",
    "SalesforceTaskAction",
    "SkipReason",
    "TaskPayload",
    "Template",
    "TicketPayload",
    "UpdateFieldsAction",
    "ZendeskTicketAction",
    "category_for",
    "derive_fields",
    "did_you_mean",
    "format_duration",
    "load_cases",
    "load_rules",
    "locate",
    "parse_cases",
    "parse_duration",
    "parse_field_value",
    "parse_rules",
    "render",
    "rules_json_schema",
    "run_cases",
]
