"""The compiled router: a frozen, pydantic-free ruleset that decides in microseconds.

Like Alertmanager's dispatch tree, it is built once from the validated model and then only
*reads* a flat field mapping: conditions are closures, each rule's outcome (:class:`RuleMatch`) is
precomputed, and :meth:`Ruleset.route` allocates nothing but the result. The same compiled tests
drive :meth:`Ruleset.explain`, so the trace can never disagree with the decision.

Routing semantics: rules are tried in file order; a rule without ``when`` matches everything; the
first matching rule ends the evaluation unless it says ``continue: true``. Missing fields are None
and fail every test except ``present: false``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

from rules.actions import ActionSpec, Payload, build_action
from rules.conditions import (
    AllCondition,
    AnyCondition,
    ConditionNode,
    FieldCondition,
    FieldTest,
    NotCondition,
)
from rules.fields import (
    FALSE_WORDS,
    TRUE_WORDS,
    FieldSpec,
    FieldType,
    check_types,
    parse_field_value,
)
from rules.model import Rule, RulesFile
from rules.operators import Predicate, make_predicate
from rules.skips import ALWAYS_EXPECTED
from rules.templates import ContextLayout, context_tree, referenced_fields

Fields = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Cooldown:
    """Act at most once per value of ``field`` within ``period``."""

    field: str
    period: timedelta


@dataclass(frozen=True, slots=True)
class Escalation:
    """Run ``action`` when the rule's actions are still open ``after`` this long."""

    after: timedelta
    business_hours: bool
    action: str


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that matched, with everything the engine needs to act on it."""

    rule: str
    index: int
    actions: tuple[str, ...]
    continues: bool
    cooldown: Cooldown | None
    settle: timedelta | None
    escalations: tuple[Escalation, ...]
    #: Skip reasons any action of the rule may meet without failing the pass (:mod:`rules.skips`).
    expect_skip: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """The matched rules, in order, for one field mapping under one ruleset."""

    ruleset_hash: str
    matches: tuple[RuleMatch, ...]

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of the matched rules, in order."""
        return tuple(match.rule for match in self.matches)

    @property
    def action_names(self) -> tuple[str, ...]:
        """Every action asked for, in order (an action asked by two rules appears twice)."""
        return tuple(action for match in self.matches for action in match.actions)

    @property
    def planned(self) -> tuple[tuple[str, str], ...]:
        """``(rule, action)`` pairs: the unit the engine makes idempotent."""
        return tuple((match.rule, action) for match in self.matches for action in match.actions)


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """One node of a rule's condition tree and its outcome; tests also show the value seen."""

    depth: int
    label: str
    matched: bool
    field: str | None = None
    value: object = None


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared: whether evaluation reached it, its conditions held, and it fired."""

    rule: str
    index: int
    reached: bool
    matched: bool
    fired: bool
    conditions: tuple[ConditionTrace, ...]


@dataclass(frozen=True, slots=True)
class _Test:
    field: str
    label: str
    predicate: Predicate


@dataclass(frozen=True, slots=True)
class _Group:
    kind: Literal["all", "any", "not"]
    label: str
    children: tuple[_Test | _Group, ...]


_Node = _Test | _Group


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its condition tree, its composed predicate and its outcome."""

    name: str
    description: str
    condition: _Node | None
    predicate: Predicate | None
    match: RuleMatch


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A loaded rules file: route field mappings, explain decisions, render actions."""

    source: str
    hash: str
    rules: tuple[CompiledRule, ...]
    actions: Mapping[str, ActionSpec]
    fields: Mapping[str, FieldSpec]
    read_fields: tuple[FieldSpec, ...]
    """The fields conditions read; their types are checked on every call."""
    layout: ContextLayout = field(repr=False, compare=False)
    """Where :attr:`fields` go in the template context."""
    custom: tuple[FieldSpec, ...] = ()
    """Declared custom fields: a survey property or a CSV column arrives as text, a Salesforce
    field as Salesforce types it; each is read as the declared type (:meth:`typed`)."""
    used: frozenset[str] = frozenset()
    """Every field a condition, a cooldown key or an action's template reads (:meth:`reads`)."""

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Rule names in evaluation order."""
        return tuple(rule.name for rule in self.rules)

    def reads(self, name: str) -> bool:
        """Whether a condition, a cooldown key or a template reads field ``name``: a field
        that costs a lookup is looked up only for rules that use it."""
        return name in self.used

    def route(self, fields: Fields) -> Decision:
        """The rules that match ``fields`` (first match wins unless ``continue``).

        Pure and deterministic. Raises :class:`rules.FieldsError` if a value the rules read has the
        wrong type.
        """
        fields = self.typed(fields)
        check_types(fields, self.read_fields)
        matches = []
        for rule in self.rules:
            if rule.predicate is None or rule.predicate(fields):
                matches.append(rule.match)
                if not rule.match.continues:
                    break
        return Decision(self.hash, tuple(matches))

    def explain(self, fields: Fields) -> list[RuleTrace]:
        """For every rule and every condition: the outcome and the value seen.

        Every condition is evaluated (no short-circuit), including in rules evaluation never
        reached, so the trace shows what *would* have happened too.
        """
        fields = self.typed(fields)
        check_types(fields, self.read_fields)
        traces: list[RuleTrace] = []
        stopped = False
        for rule in self.rules:
            conditions: list[ConditionTrace] = []
            matched = rule.condition is None or _trace(rule.condition, fields, 0, conditions)
            fired = matched and not stopped
            traces.append(
                RuleTrace(
                    rule.name, rule.match.index, not stopped, matched, fired, tuple(conditions)
                )
            )
            stopped = stopped or (fired and not rule.match.continues)
        return traces

    def template_context(self, fields: Fields) -> dict[str, object]:
        """The nested values templates see (``response.score``, ``account.name``, ...)."""
        return self.layout.build(self.typed(fields))

    def typed(self, fields: Fields) -> Fields:
        """``fields`` with each declared custom field read as its declared type: text as the
        type (``"87"`` as the number 87, ``"Yes"`` as true), a number or a boolean of a text
        field as its text, a whole float of an integer field (Salesforce's 35.0) as the
        integer. A value that does not read as the type is missing, as a field the record
        lacks. A survey property is found whatever the case of its name (``response.custom.Plan``
        reads the property ``plan``), with an underscore for each run of spaces, hyphens or dots
        in it (``response.custom.Contact_Id`` reads ``Contact Id``: field names hold none)."""
        if not self.custom:
            return fields
        typed = dict(fields)
        for spec in self.custom:
            value = typed.get(spec.name)
            if value is None and spec.name.startswith("response.custom."):
                value = _any_case(fields, spec.name)  # a survey property as the admin spelt it
            if value is not None:
                typed[spec.name] = _as_declared(spec, value)
        return typed

    def render_action(self, name: str, fields: Fields) -> Payload:
        """Render action ``name`` for one response's fields."""
        return self.actions[name].render(self.template_context(fields))

    def skip_expected(self, match: RuleMatch, action: str, reason: str) -> bool:
        """True when the rules expect ``action`` of ``match`` to be skipped for ``reason``
        (``expect_skip`` of the rule or of the action, or a skip the rule asks for itself)."""
        spec = self.actions.get(action)
        declared = spec.expect_skip if spec is not None else frozenset()
        return reason in ALWAYS_EXPECTED or reason in match.expect_skip or reason in declared


def compile_ruleset(model: RulesFile, *, source: str, digest: str) -> Ruleset:
    """Build the runtime :class:`Ruleset` from a validated :class:`rules.model.RulesFile`."""
    catalogue = model.catalogue
    rules = tuple(_compile_rule(index, rule, catalogue) for index, rule in enumerate(model.rules))
    read = sorted({name for rule in rules for name in _fields_of(rule.condition)})
    actions = {name: build_action(name, action) for name, action in model.actions.items()}
    tree = context_tree(catalogue.values())
    templated = {
        name
        for action in model.actions.values()
        for _, source in action.templates()
        for name in referenced_fields(source, tree)
    }
    return Ruleset(
        source=source,
        hash=digest,
        rules=rules,
        actions=MappingProxyType(actions),
        fields=catalogue,
        read_fields=tuple(catalogue[name] for name in read),
        layout=ContextLayout.of(catalogue.values()),
        custom=tuple(spec for spec in catalogue.values() if spec.custom),
        used=frozenset(read) | templated | {r.cooldown.key for r in model.rules if r.cooldown},
    )


def _any_case(fields: Fields, name: str) -> object:
    """The value of the field named ``name`` whatever the letter case, a space, hyphen or dot
    of the property's name read as an underscore (None: there is none)."""
    wanted, prefix = _loose_name(name), name[: name.index(".custom.") + len(".custom.")]
    return next(
        (
            value
            for key, value in fields.items()
            if value is not None and key.startswith(prefix) and _loose_name(key) == wanted
        ),
        None,
    )


def _loose_name(name: str) -> str:
    """``response.custom.Salesforce Contact-Id`` as ``response.custom.salesforce_contact_id``."""
    prefix, _, key = name.rpartition(".custom.")
    return f"{prefix}.custom.{_SEPARATORS.sub('_', key.strip()).lower()}"


_SEPARATORS = re.compile(r"[\s.\-]+")


def _as_declared(spec: FieldSpec, value: object) -> object:
    if spec.type is FieldType.STRING:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # Salesforce sends 12 as 12.0
        return str(value) if isinstance(value, int | float) else value
    if isinstance(value, str):
        return _read(spec, value)
    if spec.type is FieldType.INTEGER and type(value) is float and value.is_integer():
        return int(value)
    # A record's value of another kind (a checkbox declared a number, 33.3 declared an integer)
    # is missing, as unreadable text is: one record's data never stops routing.
    return value if spec.accepts(value) else None


def _read(spec: FieldSpec, text: str) -> object:
    word = text.strip().lower()
    if spec.type is FieldType.BOOLEAN:
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
    try:
        return parse_field_value(spec, word) if word else None
    except ValueError:
        return None


def _compile_rule(index: int, rule: Rule, catalogue: Mapping[str, FieldSpec]) -> CompiledRule:
    node = _compile_node(rule.when, catalogue) if rule.when is not None else None
    cooldown = Cooldown(rule.cooldown.key, rule.cooldown.period) if rule.cooldown else None
    escalations = tuple(
        Escalation(step.after, step.business_hours, step.action) for step in rule.escalate
    )
    match = RuleMatch(
        rule.name,
        index,
        rule.actions,
        rule.continue_,
        cooldown,
        rule.settle,
        escalations,
        frozenset(rule.expect_skip),
    )
    predicate = _compose(node) if node is not None else None
    return CompiledRule(rule.name, rule.description, node, predicate, match)


def _compile_node(condition: ConditionNode, catalogue: Mapping[str, FieldSpec]) -> _Node:
    if isinstance(condition, AllCondition):
        return _Group("all", "all", tuple(_compile_node(c, catalogue) for c in condition.all))
    if isinstance(condition, AnyCondition):
        return _Group("any", "any", tuple(_compile_node(c, catalogue) for c in condition.any))
    if isinstance(condition, NotCondition):
        return _Group("not", "not", (_compile_node(condition.negated, catalogue),))
    return _compile_field(condition, catalogue[condition.field])


def _compile_field(condition: FieldCondition, spec: FieldSpec) -> _Node:
    tests = tuple(
        _Test(spec.name, _label(spec.name, test), make_predicate(test.op, spec, test.operand))
        for test in condition.tests
    )
    return tests[0] if len(tests) == 1 else _Group("all", f"{spec.name} (all of)", tests)


def _label(field: str, test: FieldTest) -> str:
    operand = test.operand
    shown = (
        "[" + ", ".join(_literal(item) for item in operand) + "]"
        if isinstance(operand, tuple)
        else _literal(operand)
    )
    return f"{field} {test.op} {shown}"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _compose(node: _Node) -> Predicate:
    """One closure for a whole condition tree, short-circuiting like Python's and/or."""
    if isinstance(node, _Test):
        return node.predicate
    parts = tuple(_compose(child) for child in node.children)
    if node.kind == "not":
        (inner,) = parts
        return lambda fields: not inner(fields)
    return _chain(parts, every=node.kind == "all")


def _chain(parts: tuple[Predicate, ...], *, every: bool) -> Predicate:
    """``a and (b and (c ...))`` as nested two-way closures: cheaper than a generator, and a
    failing first test (the common case) costs a single call."""
    first, *rest = parts
    if not rest:
        return first
    second = _chain(tuple(rest), every=every)
    if every:
        return lambda fields: first(fields) and second(fields)
    return lambda fields: first(fields) or second(fields)


def _trace(node: _Node, fields: Fields, depth: int, out: list[ConditionTrace]) -> bool:
    if isinstance(node, _Test):
        matched = node.predicate(fields)
        out.append(ConditionTrace(depth, node.label, matched, node.field, fields.get(node.field)))
        return matched
    slot = len(out)
    out.append(ConditionTrace(depth, node.label, matched=False))
    results = [_trace(child, fields, depth + 1, out) for child in node.children]
    matched = (
        all(results)
        if node.kind == "all"
        else any(results)
        if node.kind == "any"
        else not results[0]
    )
    out[slot] = ConditionTrace(depth, node.label, matched)
    return matched


def _fields_of(node: _Node | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, _Test):
        return {node.field}
    return set().union(*(_fields_of(child) for child in node.children))
