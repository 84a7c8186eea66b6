"""The ``nps-sync`` command line.

Only click is imported at module level so ``nps-sync --help`` answers instantly; each command
imports what it needs when it runs.
"""

from __future__ import annotations

import sys

import click

from sync.commands.check import check_command
from sync.commands.fields import backfill_command, explain_group, fields_group
from sync.commands.ops import failed_group, status_command, unmatched_command
from sync.commands.rules import rules_group
from sync.commands.run import demo_command, run_command, sync_command
from sync.core.install import EXIT_CODE, installation_problem


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nps-sync")
def main() -> None:
    """Close the loop on NPS: survey responses become Salesforce tasks, Zendesk tickets and CRM
    fields."""
    problem = installation_problem()
    if problem is not None:
        click.echo(f"nps-sync: {problem}", err=True)
        sys.exit(EXIT_CODE)


for command in (
    demo_command,
    sync_command,
    run_command,
    check_command,
    status_command,
    failed_group,
    unmatched_command,
    rules_group,
    fields_group,
    explain_group,
    backfill_command,
):
    main.add_command(command)
