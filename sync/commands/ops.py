"""``nps-sync status``, ``failed`` and ``skipped``: what the daemon did and what needs a human
(the review list, ``unmatched``, is in :mod:`sync.commands.unmatched`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from sync.state import StateStore

#: Terminal width from which ``failed list`` shows each error in the table row.
WIDE = 120


def _store(config_path: Path, *, existing: bool = True) -> StateStore:
    """The state database of the config; by default only one that exists (these commands
    read it: an empty one made here would hide a missing file)."""
    from sync.app.runtime import open_store

    return open_store(load(config_path), existing=existing)


@click.group("state")
def state_group() -> None:
    """The state database itself."""


@state_group.command("check")
@CONFIG_OPTION
def state_check_command(config_path: Path) -> None:
    """Check the state database without changing it (SQLite: integrity check and file mode).

    Exit 2 when it is damaged or cannot be opened, 75 when its server does not answer, 78 when
    the server refuses the settings in state.url, 1 when it is readable by other users.
    """
    from sync.core.errors import PartialFailureError
    from sync.state.files import StateFileError, check

    found = check(load(config_path).state.url)
    click.echo(f"state database: {found.where}")
    if found.failure is not None:  # not reached at all: the server is down, a folder missing
        raise found.failure
    for note in found.notes:
        click.echo(f"  {note}")
    for warning in found.warnings:
        click.echo(f"  warning: {warning}")
    if found.problems:
        raise StateFileError(
            "\n".join(found.problems) + "\nnps-sync did not change it; restore it from a backup, "
            "then run nps-sync state restored."
        )
    if found.warnings:
        raise PartialFailureError()


@state_group.command("restored")
@CONFIG_OPTION
@click.option(
    "--answered-before",
    "answered_before",
    metavar="WHEN",
    help="ISO 8601 date or time; default now. Actions of answers given before it are looked "
    "up before they are created.",
)
def state_restored_command(config_path: Path, answered_before: str | None) -> None:
    """Run after restoring the state database from a backup, or starting it anew, before the
    next pass: what was done since the backup is found in Salesforce and Zendesk instead of
    being done again."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(answered_before) if answered_before else now
    except ValueError:
        raise click.BadParameter(
            f"{answered_before!r} is not an ISO 8601 date or time", param_hint="--answered-before"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    store = _store(config_path, existing=False)  # a new database may be marked before its pass
    try:
        in_force = store.restored.mark(moment, now)
        waiting = store.outbox.verify_unfinished(now)
    finally:
        store.close()
    click.echo(
        f"The actions of answers given before {in_force.isoformat(timespec='seconds')} are "
        f"looked up by their key before they are created ({waiting:,} queued now, and those "
        "the next passes queue); one found is recorded as done."
    )


@click.command("status")
@CONFIG_OPTION
@click.option(
    "--runs",
    "run_count",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many runs to list.",
)
@JSON_OPTION
def status_command(config_path: Path, run_count: int, as_json: bool) -> None:
    """Last runs, source cursors, the inbox, pending and failed actions, API budget left."""
    from datetime import UTC, datetime

    from rich.console import Console

    from sync.commands.documents import status_document
    from sync.commands.output import emit

    store = _store(config_path)
    try:
        if as_json:
            emit(status_document(store, datetime.now(UTC), run_count))
            return
        console = Console()
        if store.file_warning:
            console.print(f"[bold]warning:[/] {store.file_warning}", highlight=False)
        for part in status_report(store, datetime.now(UTC), run_count):
            console.print(part)
    finally:
        store.close()


def status_report(store: StateStore, now: datetime, run_count: int = 10) -> list[Any]:
    """The renderables ``nps-sync status`` prints, in order."""
    from sync.app.tables import DataTable, figure_column, text_column

    runs = store.runs.last(run_count)
    # Two tables, so that each fits 80 columns with every figure whole.
    history = DataTable(title="Last runs")
    figure_column(history, "id")
    text_column(history, "job")
    figure_column(history, "started (UTC)", justify="left")
    figure_column(history, "seconds")
    text_column(history, "status")
    figure_column(history, "errors")
    text_column(history, "worker")
    did = DataTable(title="What the last runs did")
    figure_column(did, "id")
    for header in ("pulled", "routed", "tasks", "tickets", "fields"):
        figure_column(did, header)
    for run in runs:
        stats = run.get("stats") or {}
        history.add_row(
            str(run["id"]),
            run.get("kind") or "pass",
            _when(run["started_at"]),
            str(stats.get("seconds", "")),
            run["status"],
            str(stats.get("error_count", len(stats.get("errors", [])))) if stats else "",
            _process(run.get("owner") or ""),
        )
        did.add_row(
            str(run["id"]),
            *(
                str(stats.get(key, ""))
                for key in ("pulled", "routed", "tasks_created", "tickets_created")
            ),
            str(stats.get("records_updated", "")),
        )
    cursors = DataTable(title="Source cursors")
    text_column(cursors, "source")
    text_column(cursors, "cursor")
    figure_column(cursors, "updated (UTC)", justify="left")
    for source, (value, updated) in sorted(store.cursors.all().items()):
        cursors.add_row(source, value or "", _when(updated))
    outbox = DataTable(title="Actions")
    text_column(outbox, "kind")
    figure_column(outbox, "due\nnow")
    figure_column(outbox, "waiting")
    text_column(outbox, "next attempt (UTC)")
    figure_column(outbox, "in\nflight")
    figure_column(outbox, "done")
    figure_column(outbox, "failed")
    for kind, c in sorted(store.outbox.summary(now).items()):
        outbox.add_row(
            kind,
            str(c.due),
            str(c.waiting),
            _when(c.next_attempt_at) if c.next_attempt_at else "-",
            str(c.in_flight),
            str(c.done),
            str(c.dead),
        )
    inbox = store.inbox.counts()
    queued = store.write_backs.queued()
    lines = [
        f"Responses: {inbox.get('pending', 0)} waiting to be routed, "
        f"{inbox.get('matched', 0)} matched, "
        f"{inbox.get('unmatched', 0) + inbox.get('ambiguous', 0)} unmatched (nps-sync unmatched), "
        f"{store.inbox.too_old_count()} too old to act on (history only; nps-sync rules explain "
        f"ID says why), {store.inbox.problem_count()} malformed records skipped",
        *(
            [f"Backfill: {inbox['importing']} responses imported but not matched yet: run it again"]
            if inbox.get("importing")
            else []
        ),
        *_backfill_range_lines(store),
        f"Write-backs queued: {len(queued.contacts)} contacts, {len(queued.accounts)} accounts",
        *(
            [f"Forgotten: {forgotten} answers (nps-sync forget), never stored again"]
            if (forgotten := store.forgotten.count())
            else []
        ),
        _skips_line(store.skips.counts()),
        _budget_line(runs),
        *_rules_lines(runs),
        *_refusal_lines(runs),
        *_deferral_lines(runs),
    ]
    return [history, did, cursors, outbox, *lines]


def _backfill_range_lines(store: StateStore) -> list[str]:
    """The range an unfinished backfill leaves as history, and the command that finishes it."""
    from sync.app.report import unfinished_backfill_warnings

    lines = unfinished_backfill_warnings(0, store.backfills.range_iso())
    # As a sentence of its own: "A backfill ..." (the command in it keeps its case).
    return [line.removeprefix("warning: ").replace("a", "A", 1) for line in lines]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _process(owner: str) -> str:
    """A run's worker as ``host:pid`` (the process space and thread id in the stored owner
    tell an operator nothing; ``status --json`` has it whole)."""
    from sync.app.workers import shown_owner

    return shown_owner(owner)


def _skips_line(counts: dict[tuple[str, bool], int]) -> str:
    """Actions routing could not take, per reason, and how many the rules did not expect."""
    by_reason: dict[str, int] = {}
    for (reason, _), count in counts.items():
        by_reason[reason] = by_reason.get(reason, 0) + count
    unexpected = sum(count for (_, expected), count in counts.items() if not expected)
    if not by_reason:
        return "Actions skipped: 0"
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(by_reason.items()))
    return (
        f"Actions skipped: {sum(by_reason.values())} ({reasons}), {unexpected} not expected by "
        "the rules (nps-sync skipped)"
    )


def _rules_lines(runs: list[dict[str, Any]]) -> list[str]:
    """The rules the newest run used, and a rejected newer version of their file, if any."""
    for run in runs:
        rules = (run.get("stats") or {}).get("rules")
        if not rules:
            continue
        lines = [f"Rules in force: {rules.get('file') or '(fixed)'}, hash {rules['hash'][:12]}"]
        if rules.get("rejected"):
            lines.append(
                "Rules file changed but was rejected; the rules above stay in force until it "
                f"is fixed:\n{rules['rejected']}"
            )
        return lines
    return []


def _refusal_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Each system's last refusal of the credentials or settings, if the newest runs saw one."""
    seen: dict[str, str] = {}
    for run in runs:
        for system, message in ((run.get("stats") or {}).get("refused") or {}).items():
            if system not in seen:
                seen[system] = (
                    f"Refused by {system}: {message} (run {run['id']}, "
                    f"{_when(run['started_at'])} UTC): fix the credentials or settings"
                )
    return list(seen.values())


def _deferral_lines(runs: list[dict[str, Any]]) -> list[str]:
    """What the newest run that did work left for later because a system asked us to wait."""
    from sync.app.jobs import WRITE_ONLY_JOBS
    from sync.app.report import deferral_summary

    for run in runs:
        stats = run.get("stats") or {}
        if run.get("kind") in WRITE_ONLY_JOBS or not stats:
            continue
        deferred = stats.get("deferred_until") or {}
        if not deferred:
            return []
        when = f"run {run['id']}, {_when(run['started_at'])} UTC"
        return [f"{deferral_summary(deferred, stats.get('waiting') or {})} ({when})"]
    return []


def _budget_line(runs: list[dict[str, Any]]) -> str:
    """Salesforce's daily API allowance left, as its last answer reported it."""
    for run in runs:
        usage = (run.get("stats") or {}).get("api_usage")
        if usage:
            used, total = int(usage[0]), int(usage[1])
            return (
                f"Salesforce API budget: {total - used:,} of {total:,} daily calls left "
                f"(run {run['id']}, {_when(run['started_at'])} UTC)"
            )
    return "Salesforce API budget: unknown (no run has talked to Salesforce yet)"


@click.group("failed")
def failed_group() -> None:
    """Actions that failed for good (the dead-letter list)."""


@failed_group.command("list")
@CONFIG_OPTION
@JSON_OPTION
def failed_list(config_path: Path, as_json: bool) -> None:
    """Every failed action with its last error."""
    from rich.console import Console

    from sync.app.tables import DataTable, figure_column, text_column
    from sync.commands.documents import failed_document
    from sync.commands.output import emit
    from sync.core.logs import redact

    rows = _store(config_path).outbox.actions(status="dead")
    if as_json:
        emit(failed_document(rows))
        return
    console = Console()
    # At 80 columns the errors go below the table, which would otherwise squeeze every column.
    wide = console.width >= WIDE
    table = DataTable(title=f"Failed actions ({len(rows)})")
    figure_column(table, "id", justify="left")
    for col in ("kind", "rule", "response"):
        text_column(table, col)
    figure_column(table, "attempts")
    if wide:
        text_column(table, "last error")
    for row in rows:
        error = redact(row.last_error or "")
        cells = [row.key[:12], row.kind, row.rule, f"{row.source} {row.response_id}"]
        table.add_row(*cells, str(row.attempts), *([error] if wide else []))
    console.print(table)
    if not wide and rows:
        console.print("Last errors:")
        for row in rows:
            error = redact(row.last_error or "")
            console.print(f"  {row.key[:12]}  {error}", highlight=False, markup=False)


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
        dead = [row.key for row in store.outbox.actions(status="dead")]
        keys = []
        for prefix in ids:
            found = [k for k in dead if k.startswith(prefix)]
            if len(found) != 1:
                raise click.ClickException(
                    f"{prefix}: {'no' if not found else 'more than one'} failed action matches"
                )
            keys.extend(found)
    count = store.outbox.revive(keys, datetime.now(UTC))
    click.echo(f"{count} action(s) queued again; the next pass runs them.")


@click.command("skipped")
@CONFIG_OPTION
@click.option("--reason", help="Only this reason code (no_requester, owner_not_found, ...).")
@click.option("--rule", help="Only actions of this rule.")
@click.option("--unexpected", is_flag=True, help="Only skips the rules do not expect.")
@JSON_OPTION
def skipped_command(
    config_path: Path, reason: str | None, rule: str | None, unexpected: bool, as_json: bool
) -> None:
    """Actions the rules asked for and routing could not take, with the reason for each.

    Reasons are stable codes: no_owner, owner_not_found, no_requester, group_not_found,
    no_record_to_update, template_failed, cooldown. A skip the rules expect (`expect_skip:`, or a
    cooldown) is listed too; the others made their pass exit 1.
    """
    from rules import SKIP_CODES, did_you_mean

    if reason is not None and reason not in SKIP_CODES:
        raise click.BadParameter(
            f"unknown reason {reason!r}{did_you_mean(reason, SKIP_CODES)}; "
            f"reasons are {', '.join(SKIP_CODES)}",
            param_hint="--reason",
        )
    store = _store(config_path)
    try:
        rows = store.skips.rows(reason=reason, rule=rule, unexpected_only=unexpected)
    finally:
        store.close()
    if as_json:
        from sync.commands.documents import skipped_document
        from sync.commands.output import emit

        emit(skipped_document(rows))
        return
    from rich.console import Console

    from sync.app.tables import DataTable, figure_column, text_column

    console = Console()
    # At 80 columns the reasons' details go below the table, as failed list does with errors.
    wide = console.width >= WIDE
    table = DataTable(title=f"Skipped actions ({len(rows)})")
    text_column(table, "response")
    text_column(table, "rule / action")
    figure_column(table, "reason", justify="left")
    figure_column(table, "expected", justify="left")
    if wide:
        figure_column(table, "decided (UTC)", justify="left")
        text_column(table, "why")
    for row in rows:
        skip = row.skip
        cells = [
            f"{skip.source} {skip.response_id}",
            f"{skip.rule} / {skip.action}",
            skip.reason,
            "yes" if skip.expected else "no",
        ]
        table.add_row(*cells, *([_when(row.skipped_at), skip.detail] if wide else []))
    console.print(table)
    if not wide and rows:
        console.print("Why:")
        for row in rows:
            skip = row.skip
            where = f"{skip.source} {skip.response_id} {skip.rule}/{skip.action}"
            console.print(f"  {where}: {skip.detail}", highlight=False, markup=False)


@click.command("rejected")
@CONFIG_OPTION
@click.option("--source", help="Only records of this source (its name in the config).")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="How many."
)
@JSON_OPTION
def rejected_command(config_path: Path, source: str | None, limit: int, as_json: bool) -> None:
    """Survey records the sources could not use, newest first: where each was (file:line, or
    the response id) and why, so the export or the survey can be fixed. Nothing else of the
    pass waited for them."""
    from sync.core.logs import redact

    store = _store(config_path)
    try:
        rows = store.inbox.recent_problems(limit, source)
        total = store.inbox.problem_count()
    finally:
        store.close()
    if as_json:
        from sync.commands.output import emit, iso

        emit(
            {
                "total": total,
                "rejected": [
                    {
                        "seen_at": iso(seen),
                        "source": p.source,
                        "location": p.location,
                        "reason": redact(p.reason),
                    }
                    for seen, p in rows
                ],
            }
        )
        return
    from rich.console import Console

    from sync.app.tables import DataTable, figure_column, text_column

    table = DataTable(title=f"Rejected records ({len(rows)} of {total}, newest first)")
    figure_column(table, "seen (UTC)", justify="left")
    text_column(table, "source")
    text_column(table, "where")
    text_column(table, "why")
    for seen, problem in rows:
        table.add_row(_when(seen), problem.source, problem.location, redact(problem.reason))
    Console().print(table)
