"""``nps-sync rules``: check, test, route and describe routing rules files.

Every command exits non-zero when something is wrong, so admins can run them in their own CI
(like ``amtool check-config``). Diagnostics go to stderr as ``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rules import CaseResult, Decision, FieldSpec, RulesError, RuleTrace


@click.group("rules")
def rules_group() -> None:
    """Work with routing rules files."""


@rules_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def check_command(files: Sequence[Path]) -> None:
    """Validate rules FILES; print diagnostics and exit 1 if any is invalid."""
    from rules import RulesError, load_rules

    failed = False
    for file in files:
        try:
            ruleset = load_rules(file)
        except RulesError as error:
            _print_diagnostics(error)
            failed = True
            continue
        click.echo(f"{file}: ok ({len(ruleset.rules)} rules, {len(ruleset.actions)} actions)")
    if failed:
        raise SystemExit(1)


@rules_group.command("test")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("cases_file", metavar="CASES", type=click.Path(dir_okay=False, path_type=Path))
def test_command(file: Path, cases_file: Path) -> None:
    """Route every case in CASES through FILE; exit 1 on any mismatch."""
    from rules import RulesError, load_cases, load_rules, run_cases

    try:
        ruleset = load_rules(file)
        cases = load_cases(cases_file, ruleset)
    except RulesError as error:
        _fail(error)
    results = run_cases(ruleset, cases)
    rows = [("RESULT", "CASE", "EXPECTED", "ACTUAL")]
    for result in results:
        expected, actual = _expectation(result)
        rows.append(("pass" if result.passed else "FAIL", result.case.name, expected, actual))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*cells, row[3]]).rstrip())
    failures = sum(not result.passed for result in results)
    click.echo(f"{len(results) - failures} passed, {failures} failed")
    if failures:
        raise SystemExit(1)


def _expectation(result: CaseResult) -> tuple[str, str]:
    """The EXPECTED and ACTUAL cells: only what the case states an expectation about."""
    expected, actual = [], []
    if result.case.expect is not None:
        expected.append(f"actions: {_names(result.case.expect)}")
        actual.append(f"actions: {_names(result.actions)}")
    if result.case.expect_rules is not None:
        expected.append(f"rules: {_names(result.case.expect_rules)}")
        actual.append(f"rules: {_names(result.rules)}")
    return "; ".join(expected), "; ".join(actual)


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


@rules_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of rules files (for editors and CI)."""
    import json

    from rules import rules_json_schema

    click.echo(json.dumps(rules_json_schema(), indent=2))


@rules_group.command("fields")
def fields_command() -> None:
    """List the built-in fields conditions and templates can use."""
    from rules import BUILTIN_FIELDS

    width = max(len(name) for name in BUILTIN_FIELDS)
    for spec in BUILTIN_FIELDS.values():
        click.echo(f"{spec.name.ljust(width)}  {spec.type.value:<8} {spec.description}")


@rules_group.command("route")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("assignments", metavar="FIELD=VALUE...", nargs=-1)
@click.option("--explain", is_flag=True, help="Show every rule and condition with the value seen.")
def route_command(file: Path, assignments: Sequence[str], explain: bool) -> None:
    """Route one set of fields given on the command line, like `score=3 account.tier=Enterprise`.

    Values are read by the field's type (numbers, true/false; `null` for missing), and derived
    fields such as `category` are filled in as the engine does.
    """
    from rules import RulesError, derive_fields, load_rules

    try:
        ruleset = load_rules(file)
    except RulesError as error:
        _fail(error)
    fields = derive_fields(_parse_assignments(assignments, ruleset.fields))
    if explain:
        _print_traces(ruleset.explain(fields))
    _print_decision(ruleset.route(fields))


def _parse_assignments(
    assignments: Sequence[str], catalogue: Mapping[str, FieldSpec]
) -> dict[str, object]:
    from rules import did_you_mean, parse_field_value

    fields: dict[str, object] = {}
    for text in assignments:
        name, sep, raw = text.partition("=")
        if not sep:
            raise click.BadParameter(f"{text!r} is not FIELD=VALUE", param_hint="FIELD=VALUE")
        spec = catalogue.get(name)
        if spec is None:
            hint = did_you_mean(name, catalogue)
            raise click.BadParameter(f"unknown field {name!r}{hint}", param_hint="FIELD=VALUE")
        try:
            fields[name] = parse_field_value(spec, raw)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="FIELD=VALUE") from None
    return fields


def _print_decision(decision: Decision) -> None:
    from rules import format_duration

    if not decision.matches:
        click.echo("no rule matched")
        return
    width = max(len(match.rule) for match in decision.matches)
    for match in decision.matches:
        notes = []
        if match.continues:
            notes.append("continue")
        if match.cooldown:
            notes.append(
                f"cooldown {match.cooldown.field} {format_duration(match.cooldown.period)}"
            )
        if match.settle:
            notes.append(f"settle {format_duration(match.settle)}")
        for step in match.escalations:
            when = " business hours" if step.business_hours else ""
            notes.append(f"escalate {step.action} after {format_duration(step.after)}{when}")
        actions = _names(match.actions)
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        click.echo(f"{match.rule.ljust(width)}  -> {actions}{suffix}")


def _print_traces(traces: Sequence[RuleTrace]) -> None:
    for trace in traces:
        if trace.fired:
            state = "fired"
        elif not trace.reached:
            state = "not reached" + (" (would match)" if trace.matched else "")
        else:
            state = "no match"
        click.echo(f"rule {trace.rule}: {state}")
        if not trace.conditions:
            click.echo("    (no conditions: matches every response)")
        for condition in trace.conditions:
            mark = "yes" if condition.matched else "no "
            seen = f"  [{condition.field} = {condition.value!r}]" if condition.field else ""
            click.echo(f"  {'  ' * condition.depth}{mark} {condition.label}{seen}")
    click.echo()


def _print_diagnostics(error: RulesError) -> None:
    for diagnostic in error.diagnostics:
        click.echo(str(diagnostic), err=True)


def _fail(error: RulesError) -> NoReturn:
    _print_diagnostics(error)
    raise SystemExit(1)
