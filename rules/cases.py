"""``nps-sync rules test``: check a rules file against cases an admin wrote down.

A cases file is a YAML list; each case names some fields and the expected outcome::

    - name: enterprise detractor gets a task and a ticket
      fields: {score: 3, account.tier: Enterprise}
      expect: [owner_followup, detractor_ticket]      # actions, in order
    - name: promoters stop at the promoter rule
      fields: {score: 10}
      expect_rules: [promoters]                       # or/and the matched rules, in order
    - name: a second answer within the cooldown gets no second call
      earlier:                                        # routed first, oldest first
        - {ago: 3d, fields: {score: 2, person_email: pat@acme.example}}
      fields: {score: 3, person_email: pat@acme.example}
      expect: [detractor_ticket]
    - name: detractors wait for the comment
      fields: {score: 3}
      expect_settle: 15m                              # the longest settle of the matched rules

``earlier`` responses (submitted ``ago`` before the case's own) are routed first and claim the
cooldowns of the rules that acted for them, with the same bookkeeping as live routing
(:mod:`rules.throttle`); a rule a cooldown holds back still matches, but adds no actions.

Fields are checked against the ruleset's catalogue (unknown names and wrong types are errors, with
positions) and completed with :func:`rules.fields.derive_fields`, so ``score: 3`` is a detractor.
Expected names must exist in the ruleset: a typo in a case is reported, not silently failing.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from rules.errors import Diagnostic, RulesError, did_you_mean
from rules.fields import derive_fields, unknown_field
from rules.issues import Issue, Path, StrictModel, invalid
from rules.loader import diagnostics, issue_diagnostics, read_text
from rules.router import Decision, Ruleset
from rules.scalars import Duration, Name, Text
from rules.throttle import CooldownLedger, cooldown_key
from rules.yaml_source import load_yaml

#: A field's value in a case: a scalar, or a list for list fields (``themes``; its items are
#: checked against the field's type with the others).
FieldValue = str | int | float | bool | list[str | int | float | bool | None] | None
#: When a case's own response is submitted; earlier responses are placed before it.
CASE_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class EarlierModel(StrictModel):
    """A response routed before the case's own, ``ago`` before it."""

    noun = "earlier response"
    ago: Duration
    fields: dict[str, FieldValue] = Field(default_factory=dict)


class CaseModel(StrictModel):
    """One case as written."""

    noun = "case"
    name: Text
    earlier: tuple[EarlierModel, ...] = ()
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    expect: tuple[Name, ...] | None = None
    expect_rules: tuple[Name, ...] | None = None
    expect_settle: Duration | None = None

    @model_validator(mode="after")
    def _expects_something(self) -> CaseModel:
        if self.expect is None and self.expect_rules is None and self.expect_settle is None:
            message = "a case needs `expect` (actions), `expect_rules` or `expect_settle`"
            raise invalid([Issue((), message)])
        return self


_CASES = TypeAdapter(tuple[CaseModel, ...])


@dataclass(frozen=True, slots=True)
class Case:
    """A validated case: complete fields and what routing them should produce."""

    name: str
    fields: Mapping[str, object]
    expect: tuple[str, ...] | None
    expect_rules: tuple[str, ...] | None
    #: (how long before, complete fields) of each response routed first, oldest first.
    earlier: tuple[tuple[timedelta, Mapping[str, object]], ...] = ()
    expect_settle: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case; ``passed`` unless an expectation differs from what happened."""

    case: Case
    actions: tuple[str, ...]
    rules: tuple[str, ...]
    #: The longest settle delay of the matched rules (zero: routed at once).
    settle: timedelta = timedelta(0)

    @property
    def passed(self) -> bool:
        """Every expectation the case states holds."""
        actions_ok = self.case.expect is None or self.case.expect == self.actions
        rules_ok = self.case.expect_rules is None or self.case.expect_rules == self.rules
        settle_ok = self.case.expect_settle is None or self.case.expect_settle == self.settle
        return actions_ok and rules_ok and settle_ok


def load_cases(path: str | os.PathLike[str], ruleset: Ruleset) -> tuple[Case, ...]:
    """Read and check the cases file at ``path`` against ``ruleset``; raise :class:`RulesError`."""
    return parse_cases(read_text(path), os.fspath(path), ruleset)


def parse_cases(text: str, filename: str, ruleset: Ruleset) -> tuple[Case, ...]:
    """Check cases given as YAML text against ``ruleset``; raise :class:`RulesError`."""
    data, source = load_yaml(text, filename)
    if not isinstance(data, list) or not data:
        message = "a cases file is a non-empty list of cases (name, fields, expect)"
        raise RulesError([Diagnostic(filename, 1, 1, message)])
    try:
        models = _CASES.validate_python(data)
    except ValidationError as error:
        raise RulesError(diagnostics(error, source)) from None
    issues = list(_cross_check(models, ruleset))
    if issues:
        raise RulesError(issue_diagnostics(tuple(issues), source))
    return tuple(
        Case(
            model.name,
            derive_fields(model.fields),
            model.expect,
            model.expect_rules,
            tuple(
                (earlier.ago, derive_fields(earlier.fields))
                for earlier in sorted(model.earlier, key=lambda e: -e.ago)
            ),
            model.expect_settle,
        )
        for model in models
    )


def run_cases(ruleset: Ruleset, cases: Sequence[Case]) -> tuple[CaseResult, ...]:
    """Route every case (after its earlier responses); one result per case, in order."""
    results = []
    for case in cases:
        ledger = CooldownLedger()
        for index, (ago, fields) in enumerate(case.earlier):
            _route(ruleset, fields, ledger, f"earlier-{index}", CASE_TIME - ago)
        decision = ruleset.route(case.fields)
        actions = _route(ruleset, case.fields, ledger, "case", CASE_TIME, decision)
        settles = [m.settle for m in decision.matches if m.settle is not None]
        results.append(
            CaseResult(case, actions, decision.rule_names, max(settles, default=timedelta(0)))
        )
    return tuple(results)


def _route(
    ruleset: Ruleset,
    fields: Mapping[str, object],
    ledger: CooldownLedger,
    response_id: str,
    at: datetime,
    decision: Decision | None = None,
) -> tuple[str, ...]:
    """The actions routing ``fields`` asks for once cooldowns are applied; claims recorded."""
    decision = decision or ruleset.route(fields)
    actions: list[str] = []
    for match in decision.matches:
        key = cooldown_key(match, fields)
        if key is not None and ledger.blocker(key, "cases", response_id, at) is not None:
            continue
        actions.extend(match.actions)
        if key is not None and match.actions:
            ledger.claim(key, "cases", response_id, at)
    return tuple(actions)


def _cross_check(cases: Sequence[CaseModel], ruleset: Ruleset) -> Iterator[Issue]:
    seen: dict[str, int] = {}
    for index, case in enumerate(cases):
        if case.name in seen:
            yield Issue(
                (index, "name"),
                f"duplicate case name {case.name!r} (first used at line {{related_line}})",
                related=(seen[case.name], "name"),
            )
        seen.setdefault(case.name, index)
        yield from _check_fields(case.fields, (index, "fields"), ruleset)
        for position, earlier in enumerate(case.earlier):
            path = (index, "earlier", position, "fields")
            yield from _check_fields(earlier.fields, path, ruleset)
        yield from _check_names(case.expect, (index, "expect"), ruleset.actions, "action")
        yield from _check_names(
            case.expect_rules, (index, "expect_rules"), ruleset.rule_names, "rule"
        )


def _check_fields(
    fields: Mapping[str, FieldValue], path: Path, ruleset: Ruleset
) -> Iterator[Issue]:
    for name, value in fields.items():
        spec = ruleset.fields.get(name)
        if spec is None:
            yield Issue((*path, name), unknown_field(name, ruleset.fields), "key")
        elif value is not None and not spec.accepts(value):
            yield Issue((*path, name), f"field {name!r} is {spec.type.noun}, not {value!r}")


def _check_names(
    names: Sequence[str] | None, path: Path, known: Collection[str], kind: str
) -> Iterator[Issue]:
    for position, name in enumerate(names or ()):
        if name not in known:
            yield Issue(
                (*path, position),
                f"no {kind} named {name!r} in the rules{did_you_mean(name, known)}",
            )
