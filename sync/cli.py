"""The ``nps-sync`` command line.

Only click is imported at module level so ``nps-sync --help`` answers instantly; each command
imports what it needs when it runs. Commands raise the error of their tier and :class:`Main`
turns it into the exit code of :func:`sync.core.errors.exit_code`, here and nowhere else: 1 when
some of the work failed, 2 for an invalid config or rules file (and usage errors) or a damaged
state database, 75 when a system is unavailable for now, 78 when a system refuses the credentials
or settings, or when another installed distribution shadows one of this project's packages
(checked on import, before any of them is loaded).
"""

from __future__ import annotations

from typing import Any

import click

from sync.core.install import refuse_shadowed_packages

# Before the command modules import rules, connectors or emulators, make sure those are this
# installation's (a shadowing package would otherwise fail later, or run someone else's code).
refuse_shadowed_packages()

from sync.commands.check import check_command
from sync.commands.fields import backfill_command, explain_group, fields_group
from sync.commands.forget import forget_command
from sync.commands.insights import insights_group
from sync.commands.loop import loop_group
from sync.commands.ops import (
    failed_group,
    rejected_command,
    skipped_command,
    state_group,
    status_command,
)
from sync.commands.rules import rules_group
from sync.commands.run import collect_rarely, demo_command, run_command, sync_command
from sync.commands.sandbox import sandbox_command
from sync.commands.text import text_group
from sync.commands.unmatched import unmatched_group
from sync.commands.views import digest_command, queue_command, report_command


def show_error(error: Exception) -> None:
    """An error of a known tier as the user sees it: no traceback, diagnostics one per line,
    then what to do about it when the message does not say."""
    from sync.core.errors import fix_for
    from sync.core.logs import json_error_line

    lines = [str(d) for d in getattr(error, "diagnostics", ())]
    fix = fix_for(error)
    document = json_error_line(lines or [str(error)], fix)
    if document is not None:  # JSON logs: the error is one more record, not free text
        click.echo(document, err=True)
        return
    if lines:  # a config or rules file: one file:line:col line per problem, like a compiler
        for line in lines:
            click.echo(line, err=True)
    elif str(error):
        click.echo(f"Error: {error}", err=True)
    if fix:
        click.echo(f"Fix: {fix}", err=True)


class Main(click.Group):
    """The command group; maps every error with a tier to that tier's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from sync.core.errors import exit_code

        collect_rarely()  # before the command imports what it needs: see its docstring
        try:
            return super().invoke(ctx)
        except Exception as error:
            code = exit_code(error)
            if code is None:
                code = _state_code(error)
            if code is None:  # click's own exceptions, and bugs, keep their usual handling
                raise
            show_error(error)
            raise click.exceptions.Exit(code) from error


def _state_code(error: Exception) -> int | None:
    """The state database's own tiers: a damaged or unopenable file is fixed like a config
    file (2), a server that does not answer is tried later (75), one that refuses the settings
    in state.url is misconfigured (78)."""
    from sync.core.errors import EXIT_CONFIG_FILE, EXIT_REFUSED, EXIT_TEMPORARY
    from sync.state.errors import StateFileError, StateRefusedError, StateUnavailableError

    codes: tuple[tuple[type[Exception], int], ...] = (
        (StateFileError, EXIT_CONFIG_FILE),
        (StateUnavailableError, EXIT_TEMPORARY),
        (StateRefusedError, EXIT_REFUSED),
    )
    return next((code for tier, code in codes if isinstance(error, tier)), None)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nps-sync")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    envvar="NPS_SYNC_LOG_FORMAT",
    help="Logs on stderr as text lines or one JSON object per line (PII redacted); "
    "overrides logging.format in the config. [env: NPS_SYNC_LOG_FORMAT]",
)
def main(log_format: str | None) -> None:
    """Close the loop on NPS: survey responses become Salesforce tasks, Zendesk tickets and CRM
    fields."""
    from sync.core.logs import choose_format

    choose_format("json" if log_format == "json" else "text" if log_format else None)


for command in (
    queue_command,
    report_command,
    digest_command,
    insights_group,
    demo_command,
    sandbox_command,
    sync_command,
    run_command,
    check_command,
    status_command,
    state_group,
    failed_group,
    rejected_command,
    skipped_command,
    unmatched_group,
    rules_group,
    fields_group,
    explain_group,
    backfill_command,
    loop_group,
    text_group,
    forget_command,
):
    main.add_command(command)
