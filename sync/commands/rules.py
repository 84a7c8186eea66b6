"""``nps-sync rules``: check, test, route and describe routing rules files.

Every command exits non-zero when something is wrong, so admins can run them in their own CI
(like ``amtool check-config``). Diagnostics go to stderr as ``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from sync.commands import rules_view
from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load
from sync.core.errors import PartialFailureError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rules import Diagnostic, FieldSpec, RulesError, Ruleset
    from sync.core.config import Config
    from sync.core.ports import CrmPort, HelpdeskPort
    from sync.state import StateStore, StoredResponse


@click.group("rules")
def rules_group() -> None:
    """Work with routing rules files."""


@rules_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check the rules against this config, and the people and groups they name "
    "against its Salesforce org and Zendesk account.",
)
def check_command(files: Sequence[Path], config_path: Path | None) -> None:
    """Validate rules FILES; print diagnostics and exit 1 if any is invalid.

    A ``NAME.cases.yaml`` file (as a glob like ``rules/*.yaml`` picks up) is checked as the test
    cases of ``NAME.yaml`` beside it, rather than as a rules file. With ``--config``, every
    ``user:`` Task owner must be an active Salesforce user, and every ticket ``assignee`` a
    Zendesk agent and ``group`` an existing group: each one missing is reported where the rules
    name it, with a fix.
    """
    from rules import Diagnostic, RulesError, load_cases, load_rules

    config = load(config_path) if config_path is not None else None
    live = _LiveNames(config) if config is not None else None
    failed = False
    for file in files:
        rules_file = _rules_file_of_cases(file)
        try:
            if rules_file is None:
                ruleset = load_rules(file, check=live.against if live else None)
                summary = f"{len(ruleset.rules)} rules, {len(ruleset.actions)} actions"
                if live is not None:
                    problems = live.diagnostics(ruleset, file)
                    if problems:
                        raise RulesError(problems)
                    summary += ", every person and group it names exists"
            elif not rules_file.is_file():
                message = f"a cases file, but its rules file {rules_file.name} is not beside it"
                raise RulesError([Diagnostic(str(file), 0, 0, message)])
            else:
                cases = load_cases(file, load_rules(rules_file))
                summary = f"{len(cases)} cases for {rules_file.name}"
        except RulesError as error:
            _print_diagnostics(error)
            failed = True
            continue
        click.echo(f"{file}: ok ({summary})")
    if failed:
        raise PartialFailureError()


class _LiveNames:
    """Checks of rules files against a config and the systems it connects to (connected once,
    on first use)."""

    def __init__(self, config: Config) -> None:
        from sync.core.config.checks import rules_against

        self.config = config
        self.against = rules_against(config)
        self._systems: tuple[CrmPort, HelpdeskPort] | None = None

    def diagnostics(self, ruleset: Ruleset, file: Path) -> list[Diagnostic]:
        """Each ``user:`` owner, custom field, assignee and group of ``ruleset`` that does not
        exist."""
        from sync.checks.references import (
            diagnostics,
            missing_custom_fields,
            missing_owners,
            missing_zendesk_names,
        )

        crm, helpdesk = self._connect()
        fallback = self.config.salesforce.fallback_owner_id
        missing = [
            *missing_owners(ruleset, crm, fallback),
            *missing_custom_fields(ruleset, crm),
            *missing_zendesk_names(ruleset, helpdesk),
        ]
        return diagnostics(missing, file)

    def _connect(self) -> tuple[CrmPort, HelpdeskPort]:
        if self._systems is None:
            from connectors.transport import CallCounter
            from sync.app.runtime import build_salesforce, build_zendesk

            counter = CallCounter()
            crm = build_salesforce(self.config, counter)
            self._systems = (crm, build_zendesk(self.config, counter))
        return self._systems


def _rules_file_of_cases(file: Path) -> Path | None:
    """``x.yaml`` for a cases file ``x.cases.yaml`` (or ``.yml``); None for any other file."""
    for suffix in (".cases.yaml", ".cases.yml"):
        if file.name.endswith(suffix):
            return file.with_name(file.name.removesuffix(suffix) + suffix[6:])
    return None


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
        expected, actual = rules_view.expectation(result)
        rows.append(("pass" if result.passed else "FAIL", result.case.name, expected, actual))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*cells, row[3]]).rstrip())
    failures = sum(not result.passed for result in results)
    click.echo(f"{len(results) - failures} passed, {failures} failed")
    if failures:
        raise PartialFailureError()


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
@click.option("--preview", is_flag=True, help="Render the templates of the actions it would run.")
def route_command(file: Path, assignments: Sequence[str], explain: bool, preview: bool) -> None:
    """Route one set of fields given on the command line, like `score=3 account.tier=Enterprise`.

    Values are read by the field's type (numbers, true/false; `null` for missing), and derived
    fields such as `category` are filled in as the engine does. With `--preview`, each action the
    decision asks for is rendered as it would be sent (fields not given render empty).
    """
    from rules import RulesError, derive_fields, load_rules

    try:
        ruleset = load_rules(file)
    except RulesError as error:
        _fail(error)
    fields = derive_fields(_parse_assignments(assignments, ruleset.fields))
    if explain:
        rules_view.print_traces(ruleset.explain(fields))
    decision = ruleset.route(fields)
    rules_view.print_decision(decision)
    if preview and not rules_view.print_previews(ruleset, decision, fields):
        raise PartialFailureError()


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


@rules_group.command("explain")
@click.argument("response_id")
@CONFIG_OPTION
@click.option("--source", help="The survey source, when several hold this response id.")
@JSON_OPTION
def explain_command(response_id: str, config_path: Path, source: str | None, as_json: bool) -> None:
    """Why a stored response got its actions: every rule and condition, with the values seen.

    The fields are rebuilt from the state store (the response and what the match stage found);
    nothing is asked of Salesforce or Zendesk.
    """

    from sync.app.runtime import open_store
    from sync.stages.recency import recorded_as_backfill_history, too_old
    from sync.stages.route import rebuild_fields, routed_at

    config = load(config_path)
    ruleset = _load_or_fail(config.rules, config)
    store = open_store(config, existing=True)
    try:
        stored = _find_response(store, response_id, source)
        ((_, _, fields),) = rebuild_fields(store, [stored])
    finally:
        store.close()
    window = config.routing.act_on_responses_newer_than
    stale = too_old(
        stored.response.created_at, routed_at(stored), window
    ) or recorded_as_backfill_history(stored.decision)
    if as_json:
        from sync.commands.documents import stored_decision_document
        from sync.commands.output import emit

        traces, decision = ruleset.explain(fields), ruleset.route(fields)
        emit(stored_decision_document(stored, ruleset.hash, fields, traces, decision, stale))
        return
    rules_view.print_stored_decision(stored, ruleset)
    click.echo("fields:")
    shown = {name: value for name, value in fields.items() if value is not None}
    width = max(map(len, shown), default=0)
    for name, value in sorted(shown.items()):
        click.echo(f"  {name.ljust(width)}  {value!r}")
    click.echo()
    rules_view.print_traces(ruleset.explain(fields))
    click.echo("decision under the rules in force:")
    rules_view.print_decision(ruleset.route(fields))
    if stale is not None:
        click.echo(f"no action is taken: {stale}")


def _load_or_fail(path: Path, config: Config) -> Ruleset:
    """The rules at ``path``, checked against the config they run with.

    A rules file that cannot be used ends the command like an invalid config (exit 2, one
    ``file:line:col`` per problem): nothing was explained or replayed.
    """
    from rules import load_rules
    from sync.core.config.checks import rules_against

    return load_rules(path, check=rules_against(config))


def _find_response(store: StateStore, response_id: str, source: str | None) -> StoredResponse:
    found = [
        stored
        for stored in store.inbox.find(response_id)
        if source is None or stored.response.source == source
    ]
    if not found:
        where = f" from source {source!r}" if source else ""
        raise click.ClickException(f"no stored response {response_id!r}{where}")
    if len(found) > 1:
        sources = ", ".join(sorted(s.response.source for s in found))
        raise click.ClickException(
            f"response {response_id!r} is in several sources ({sources}); pick one with --source"
        )
    stored = found[0]
    if stored.match is None:
        raise click.ClickException(
            f"response {response_id!r} has not been routed yet (it may be settling); "
            "there is no match to explain it with"
        )
    return stored


@rules_group.command("replay")
@CONFIG_OPTION
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="How far back to replay (by submission time): 30d, 12w, 6h.",
)
@click.option(
    "--rules",
    "candidate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A rules file to compare with the rules in force.",
)
@JSON_OPTION
def replay_command(config_path: Path, since: str, candidate: Path | None, as_json: bool) -> None:
    """Dry run over stored responses: the tasks and tickets each rule would create.

    Counts per rule, per task owner and per ticket group, for the rules in force and, with
    --rules, for a new file beside them. Cooldowns are applied in submission order. Nothing is
    written and nothing is asked of Salesforce or Zendesk.
    """
    from datetime import UTC, datetime

    from rich.console import Console

    from rules import format_duration, parse_duration
    from sync.app.runtime import open_store
    from sync.ops.replay import replay, unrecorded
    from sync.stages.recency import SETTING
    from sync.stages.route import rebuild_fields

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    config = load(config_path)
    in_force = _load_or_fail(config.rules, config)
    new = _load_or_fail(candidate, config) if candidate is not None else None
    now = datetime.now(UTC)
    store = open_store(config, existing=True)
    try:
        rebuilt = rebuild_fields(store, store.inbox.since(now - window))
    finally:
        store.close()
    act_window = config.routing.act_on_responses_newer_than
    current = replay(in_force, rebuilt, act_window)
    proposed = replay(new, rebuilt, act_window) if new is not None else None
    blind = unrecorded(new, in_force, rebuilt) if new is not None else {}
    if as_json:
        from sync.commands.documents import replay_document
        from sync.commands.output import emit

        emit(
            replay_document(
                since=now - window,
                in_force=in_force.hash,
                current=current,
                candidate=str(candidate) if candidate is not None else None,
                candidate_hash=new.hash if new is not None else None,
                proposed=proposed,
                unrecorded=blind,
            )
        )
        return
    console = Console()
    against = f" vs {candidate} ({new.hash[:12]})" if new is not None else ""
    console.print(
        f"{current.responses} routed responses submitted since "
        f"{(now - window).date().isoformat()}; rules in force {in_force.hash[:12]}{against}",
        highlight=False,
    )
    if current.too_old:
        console.print(
            f"{current.too_old} of them were too old to act on when routed (older than "
            f"{format_duration(act_window)}, {SETTING}): no actions counted for them",
            highlight=False,
        )
    for name, count in sorted(blind.items()):
        console.print(
            f"warning: the new rules read {name}, which routing did not record for {count} of "
            "these responses (the rules in force do not use it): the replay takes it as missing, "
            "so the counts of rules on it are not yet known",
            highlight=False,
            markup=False,
        )
    for table in rules_view.replay_tables(current, proposed):
        console.print(table)


def _print_diagnostics(error: RulesError) -> None:
    for diagnostic in error.diagnostics:
        click.echo(str(diagnostic), err=True)


def _fail(error: RulesError) -> NoReturn:
    _print_diagnostics(error)
    raise PartialFailureError()
