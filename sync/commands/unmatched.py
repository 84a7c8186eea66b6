"""``nps-sync unmatched``: the review list with the fix for each group, and ``unmatched rematch``.

``unmatched`` is a group that lists when no subcommand is given, so ``nps-sync unmatched -c X``
works as it always did; ``-c`` may be given before or after ``rematch``.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import ConfigPath, build_engine, load

if TYPE_CHECKING:
    from sync.app.engine import RunReport
    from sync.core.config import Config
    from sync.ops.rematch import RematchResult
    from sync.ops.review import Review, ReviewCrm
    from sync.state import StoredResponse

DEFAULT_CONFIG = Path("nps-sync.yaml")
REVIEW_CONFIG = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Configuration file.  [default: {DEFAULT_CONFIG}]",
)


def _config_file(ctx: click.Context, given: Path | None) -> Path:
    """The config file named here or on ``unmatched`` (default ``nps-sync.yaml``); it must exist."""
    parent = ctx.parent.params.get("config_path") if ctx.parent is not None else None
    path = given or parent or DEFAULT_CONFIG
    param = next(p for p in ctx.command.params if p.name == "config_path")
    checked: Path = ConfigPath().convert(path, param, ctx)
    return checked


@click.group("unmatched", invoke_without_command=True)
@REVIEW_CONFIG
@JSON_OPTION
@click.option("--offline", is_flag=True, help="Do not ask Salesforce for the closest accounts.")
@click.pass_context
def unmatched_group(
    ctx: click.Context, config_path: Path | None, as_json: bool, offline: bool
) -> None:
    """Responses matched to no contact or account (the review list), with the fix for each group.

    Fixes name the closest account and the YAML to add to the config when the config can express
    them. After fixing, `nps-sync unmatched rematch` matches the list again and acts on what now
    matches.
    """
    if ctx.invoked_subcommand is not None:
        return
    from sync.app.runtime import open_store
    from sync.commands.documents import unmatched_document
    from sync.commands.output import emit
    from sync.ops.review import review

    path = _config_file(ctx, config_path)
    config = load(path)
    store = open_store(config, existing=True)
    try:
        rows = store.inbox.unmatched()
    finally:
        store.close()
    crm, note = (None, "") if offline or not rows else _review_crm(config)
    found = review(rows, config, crm)
    found.note = found.note or note
    if as_json:
        emit(unmatched_document(rows, found))
        return
    _print_review(rows, found, path)


def _review_crm(config: Config) -> tuple[ReviewCrm | None, str]:
    """Salesforce for the suggestions, or why it cannot be asked (the list is shown anyway)."""
    from connectors.errors import ConnectorError
    from connectors.transport import CallCounter
    from sync.app.runtime import build_salesforce
    from sync.core.errors import ConfigFileError

    try:
        return build_salesforce(config, CallCounter()), ""
    except (ConnectorError, ConfigFileError) as error:
        return None, f"Salesforce could not be asked ({error}); the fixes name no accounts"


def _print_review(rows: Sequence[StoredResponse], found: Review, path: Path) -> None:
    from rich.console import Console

    from sync.app.tables import DataTable, figure_column, text_column
    from sync.commands.documents import unmatched_reason

    number = {key: n for n, fix in enumerate(found.fixes, 1) for key in fix.responses}
    table = DataTable(title=f"Unmatched responses ({len(rows)})")
    for col in ("source", "response", "email"):
        text_column(table, col)
    figure_column(table, "score")
    figure_column(table, "submitted", justify="left")
    text_column(table, "why")
    figure_column(table, "fix")
    for row in rows:
        r = row.response
        table.add_row(
            r.source,
            r.response_id,
            r.email,
            str(r.score),
            r.created_at.date().isoformat(),
            unmatched_reason(row),
            str(number.get((r.source, r.response_id), "")),
        )
    Console().print(table)
    if found.note:
        click.echo(
            "\n" + textwrap.fill(f"Note: {found.note}", shutil.get_terminal_size((80, 24)).columns)
        )
    if not found.fixes:
        return
    width = shutil.get_terminal_size((80, 24)).columns
    click.echo(f"\nFixes ({len(found.fixes)}):")
    for n, fix in enumerate(found.fixes, 1):
        count = len(fix.responses)
        heading = f"{n}. {fix.problem} ({count} response{'s' if count != 1 else ''})"
        click.echo("\n" + textwrap.fill(heading, width, subsequent_indent="   "))
        click.echo(textwrap.fill(fix.advice, width, initial_indent="   ", subsequent_indent="   "))
        if fix.snippet:
            click.echo(f"   Add to {path.name}:")
            for line in fix.snippet.splitlines():
                click.echo(f"     {line}")


@unmatched_group.command("rematch")
@REVIEW_CONFIG
@JSON_OPTION
@click.pass_context
def rematch_command(ctx: click.Context, config_path: Path | None, as_json: bool) -> None:
    """Match the review list again (after fixing the config or Salesforce), route what now
    matches, act on it and write its fields back.

    Actions already taken for a response are not taken again, so a second run finds nothing
    new. Exits 1 if some actions failed, 75 if a system was unavailable or another nps-sync was
    routing at the moment (run it again).
    """
    from rich.console import Console

    from sync.app.engine import RefusedError
    from sync.app.report import print_problems
    from sync.commands.documents import rematch_document
    from sync.commands.output import emit
    from sync.core.errors import PartialFailureError, UnavailableError
    from sync.core.logs import configure
    from sync.ops.rematch import rematch

    configure("WARNING")
    as_json = as_json or bool(ctx.parent is not None and ctx.parent.params.get("as_json"))
    path = _config_file(ctx, config_path)
    engine = build_engine(load(path))
    try:
        result, report = rematch(engine)
    except RefusedError as exc:
        if as_json:
            from sync.commands.documents import run_document

            emit(run_document(exc.report))
        raise
    finally:
        engine.store.close()
    if as_json:
        emit(rematch_document(result, report))
    else:
        for line in rematch_lines(result, report, path):
            click.echo(line)
        print_problems(Console(), report)
    if result.busy:
        raise UnavailableError("another nps-sync is routing at the moment: run rematch again")
    if report.unavailable:
        raise UnavailableError("rematch stopped early: a system is unavailable for now")
    if report.errors:
        where = "in the document" if as_json else "above"
        raise PartialFailureError(f"{len(report.errors)} error(s) (listed {where})")


def rematch_lines(result: RematchResult, report: RunReport, path: Path) -> list[str]:
    """What ``unmatched rematch`` prints: how many now match, and what routing them did."""
    if result.busy:
        return ["Another nps-sync holds the routing lock: nothing was matched."]
    reviewed = f"{result.reviewed} response{'s' if result.reviewed != 1 else ''}"
    by_step = ", ".join(f"{step} {n}" for step, n in sorted(result.matched.items()))
    now = (
        f"{result.now_matched} now match ({by_step})" if result.now_matched else "none matches yet"
    )
    lines = [f"Review list: {reviewed}; {now}, {result.still_unmatched} still unmatched."]
    if result.waiting:
        lines.append(f"{result.waiting} with a newer version waiting: the next pass routes them.")
    acted = (
        f"{report.tasks_created} tasks and {report.tickets_created} tickets created, "
        f"{report.tickets_attached} comments on open tickets, "
        f"{report.records_updated} records updated."
    )
    if result.now_matched:
        lines.append(f"Routed {report.routed}: {report.intents} new actions; {acted}")
        if report.too_old:
            lines.append(
                f"{report.too_old} of them older than routing.act_on_responses_newer_than: "
                "recorded and counted, no actions."
            )
    elif any(
        (
            report.tasks_created,
            report.tickets_created,
            report.tickets_attached,
            report.records_updated,
        )
    ):
        # Rematch drains what earlier passes queued, as a pass does: say what that did.
        lines.append(f"Work queued by earlier passes carried out: {acted}")
    if result.still_unmatched:
        lines.append(f"Still unmatched: `nps-sync unmatched -c {path}` shows why and the fixes.")
    return lines
