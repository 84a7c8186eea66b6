"""``nps-sync status``, ``failed`` and ``unmatched``: what the daemon did and what needs a human."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from sync.state import StateStore


def _store(config_path: Path) -> StateStore:
    from sync.runtime import open_store

    return open_store(load(config_path))


@click.command("status")
@CONFIG_OPTION
def status_command(config_path: Path) -> None:
    """Last runs, source cursors, pending and failed actions."""
    from rich.console import Console
    from rich.table import Table

    store = _store(config_path)
    console = Console()
    runs = Table(title="Last runs")
    for col in ("id", "started", "status", "pulled", "tasks", "tickets", "fields", "errors"):
        runs.add_column(col)
    for run in store.last_runs(10):
        stats = run.get("stats") or {}
        runs.add_row(
            str(run["id"]),
            run["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            run["status"],
            str(stats.get("pulled", "")),
            str(stats.get("tasks_created", "")),
            str(stats.get("tickets_created", "")),
            str(stats.get("records_updated", "")),
            str(len(stats.get("errors", []))),
        )
    console.print(runs)
    cursors = Table(title="Source cursors")
    cursors.add_column("source")
    cursors.add_column("cursor")
    cursors.add_column("updated")
    for source, (value, updated) in sorted(store.cursors().items()):
        cursors.add_row(source, value or "", updated.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(cursors)
    counts = store.action_counts()
    console.print(
        "Actions: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("pending", "claimed", "done", "dead"))
    )
    last = store.last_runs(1)
    usage = ((last[0].get("stats") or {}).get("api_usage") if last else None) or None
    if usage:
        console.print(f"Salesforce API usage at the last run: {usage[0]}/{usage[1]}")


@click.group("failed")
def failed_group() -> None:
    """Actions that failed for good (the dead-letter list)."""


@failed_group.command("list")
@CONFIG_OPTION
def failed_list(config_path: Path) -> None:
    """Every failed action with its last error."""
    from rich.console import Console
    from rich.table import Table

    from sync.logs import redact

    rows = _store(config_path).actions(status="dead")
    table = Table(title=f"Failed actions ({len(rows)})")
    for col in ("id", "kind", "rule", "response", "attempts", "last error"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            row.key[:12],
            row.kind,
            row.rule,
            f"{row.source}/{row.response_id}",
            str(row.attempts),
            redact(row.last_error or ""),
        )
    Console().print(table)


@failed_group.command("retry")
@CONFIG_OPTION
@click.argument("ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed action.")
def failed_retry(config_path: Path, ids: tuple[str, ...], retry_all: bool) -> None:
    """Queue failed actions again (by the id prefix `failed list` shows, or --all)."""
    from datetime import UTC, datetime

    if not ids and not retry_all:
        raise click.UsageError("give action ids or --all")
    store = _store(config_path)
    keys: list[str] | None = None
    if not retry_all:
        dead = [row.key for row in store.actions(status="dead")]
        keys = []
        for prefix in ids:
            found = [k for k in dead if k.startswith(prefix)]
            if len(found) != 1:
                raise click.ClickException(
                    f"{prefix}: {'no' if not found else 'more than one'} failed action matches"
                )
            keys.extend(found)
    count = store.revive_actions(keys, datetime.now(UTC))
    click.echo(f"{count} action(s) queued again; the next pass runs them.")


@click.command("unmatched")
@CONFIG_OPTION
def unmatched_command(config_path: Path) -> None:
    """Responses not matched to a Salesforce contact: the review list."""
    from rich.console import Console
    from rich.table import Table

    rows = _store(config_path).unmatched()
    table = Table(title=f"Unmatched responses ({len(rows)})")
    for col in ("source", "response", "email", "score", "submitted", "why"):
        table.add_column(col)
    for row in rows:
        r = row.response
        match = row.match or {}
        why = "ambiguous" if match.get("status") == "ambiguous" else "no contact with this email"
        table.add_row(
            r.source, r.response_id, r.email, str(r.score), r.created_at.date().isoformat(), why
        )
    Console().print(table)
