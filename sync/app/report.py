"""Rendering run reports as tables (rich)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from sync.app.engine import RunReport
from sync.app.tables import figure_column, print_flagged, text_column
from sync.core.config import Config
from sync.stages.recency import history_summary

ROWS: list[tuple[str, str]] = [
    ("Responses pulled", "pulled"),
    ("  new / updated", "new_updated"),
    ("  skipped (malformed)", "problems"),
    ("Responses routed", "routed"),
    ("  matched to Salesforce", "matched"),
    ("  unmatched (review list)", "unmatched"),
    ("  too old to act on (history only)", "too_old"),
    ("Salesforce tasks created", "tasks_created"),
    ("Zendesk tickets created", "tickets_created"),
    ("  comments on open NPS tickets", "tickets_attached"),
    ("Already done (found by marker)", "found_existing"),
    ("Records updated (NPS fields)", "records_updated"),
    ("Fields set by rules", "fields_set"),
    ("Notifications sent", "notifications_sent"),
    ("Escalations fired", "escalations_fired"),
    ("Tickets solved / reopened (tracked)", "solved_reopened"),
    ("Actions to retry / deferred / failed", "retry_defer_dead"),
    ("Actions skipped / unexpected", "skipped"),
    ("Errors", "errors"),
    ("Seconds", "seconds"),
]


def _cell(report: RunReport, key: str) -> str:
    if key == "new_updated":
        return f"{report.new} / {report.updated}"
    if key == "problems":
        return str(report.problem_count)
    if key == "errors":
        return str(len(report.errors))
    if key == "solved_reopened":
        return f"{report.tickets_solved} / {report.tickets_reopened}"
    if key == "retry_defer_dead":
        return f"{report.retried} / {report.deferred} / {report.dead}"
    if key == "skipped":
        return f"{report.skipped_total} / {report.skipped_unexpected}"
    return str(getattr(report, key))


def report_table(reports: Sequence[tuple[str, RunReport]], title: str = "nps-sync") -> Table:
    """One column per run, one row per figure, then API calls per system."""
    table = Table(title=title)
    text_column(table, "")
    for name, _ in reports:
        figure_column(table, name)
    reasons = sorted({reason for _, r in reports for reason in r.skipped})
    for label, key in ROWS:
        table.add_row(label, *(_cell(r, key) for _, r in reports))
        if key == "skipped":  # one row per reason code seen (nps-sync skipped lists each)
            for reason in reasons:
                table.add_row(f"  {reason}", *(str(r.skipped.get(reason, 0)) for _, r in reports))
    table.add_row(
        "Salesforce API usage",
        *(f"{r.api_usage[0]:,} / {r.api_usage[1]:,}" if r.api_usage else "-" for _, r in reports),
    )
    systems = sorted({s for _, r in reports for s in r.api_calls})
    for system in systems:
        table.add_row(
            f"API calls: {system}", *(str(r.api_calls.get(system, 0)) for _, r in reports)
        )
    return table


def print_problems(console: Console, report: RunReport, limit: int = 10) -> None:
    for problem in report.problems[:limit]:
        print_flagged(console, "skipped", problem)
    if report.problem_count > limit:
        console.print(f"... and {report.problem_count - limit} more skipped records")
    # One line per distinct error: stages stopped by the same outage each record it.
    errors = Counter(report.errors)
    for error, times in list(errors.items())[:limit]:
        print_flagged(console, "error", error if times == 1 else f"{error} ({times} times)")
    if len(errors) > limit:
        console.print(f"... and {len(errors) - limit} more errors")
    if report.skipped_unexpected:
        console.print(
            f"[yellow]skipped[/] {report.skipped_unexpected} action(s) the rules do not expect "
            "to skip: `nps-sync skipped --unexpected` lists them with why; fix the cause, or "
            "declare the reason with `expect_skip:` in the rules",
            highlight=False,
            markup=True,
        )


def deferral_summary(deferred_until: dict[str, str], waiting: dict[str, int]) -> str:
    """One line: which systems asked us to wait, until when, and what waits for them."""
    now = datetime.now(UTC)

    def until(when: str) -> str:
        # Due at once (the API reserve: the next pass reads the usage again before a call).
        moment = datetime.fromisoformat(when)
        if (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) <= now:
            return "the next pass"
        return f"{when.replace('T', ' ').removesuffix('+00:00')} UTC"

    systems = ", ".join(
        f"{system} until {until(when)}" for system, when in sorted(deferred_until.items())
    )
    left = waiting_summary(waiting)
    return f"Deferred (rate limit or API allowance): {systems}; left for the next pass: {left}"


def waiting_summary(waiting: dict[str, int]) -> str:
    """What waits for the next pass, as counts."""

    def count(key: str, noun: str) -> str:
        n = waiting.get(key, 0)
        return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

    return (
        f"{count('responses', 'response')} to route, {count('actions', 'action')} "
        f"({waiting.get('detractor_actions', 0)} for detractors), "
        f"{count('write_backs', 'record')} to write back"
    )


def print_deferred(console: Console, report: RunReport) -> None:
    """What a rate limit, a spent API allowance or a system that is down left for the next
    pass, and the creates held until they can no longer land (none of them lost)."""
    if report.deferred_until:
        print_flagged(console, "deferred", deferral_summary(report.deferred_until, report.waiting))
    elif report.unavailable and report.waiting:
        line = f"Left for the next pass while a system is down: {waiting_summary(report.waiting)}"
        print_flagged(console, "waiting", line)
    if report.held_until:
        systems = ", ".join(
            f"{system} until {when.replace('T', ' ').removesuffix('+00:00')} UTC"
            for system, when in sorted(report.held_until.items())
        )
        line = f"Held (creates that got no answer, so none is made twice): {systems}"
        print_flagged(console, "held", line)


def print_unfinished_backfill(console: Console, report: RunReport) -> None:
    """A backfill was stopped before it read its range or matched what it imported: what
    routing and the NPS fields do about it until it runs again."""
    for line in unfinished_backfill_warnings(report.unfinished_backfill, report.backfilling):
        console.print(line, highlight=False)


def unfinished_backfill_warnings(count: int, backfilling: Sequence[str] | None) -> list[str]:
    """The warnings for an interrupted backfill: its range (ISO start and end), which routing
    takes as history, and the responses it imported without matching them."""
    lines = []
    if backfilling:
        since, until = (datetime.fromisoformat(moment) for moment in backfilling)
        start, end = _option(since), _option(until, up=True)
        lines.append(
            f"warning: a backfill of the answers given from {start} to {end} did not finish: "
            "answers from that range are stored as history (no Tasks, tickets or notifications) "
            f"until `nps-sync backfill --since {start} --until {end}` runs again and finishes"
        )
    if count:
        lines.append(
            f"warning: {count} responses an interrupted backfill imported are not matched yet: "
            "the NPS fields leave their answers out until `nps-sync backfill` runs again (with "
            "the same --since) and finishes"
        )
    return lines


def _option(moment: datetime, *, up: bool = False) -> str:
    """``moment`` as the backfill's ``--since``/``--until`` take it: the day at midnight, else
    to the second (rounded ``up`` for an end, so that a re-run covers the whole range)."""
    moment = moment.astimezone(UTC)
    if moment == moment.replace(hour=0, minute=0, second=0, microsecond=0):
        return moment.date().isoformat()
    if up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def print_history_note(console: Console, config: Config, report: RunReport) -> None:
    """How many responses the pass stored as history only, and how to import history on purpose."""
    if report.too_old:
        window = config.routing.act_on_responses_newer_than
        console.print(
            history_summary(report.too_old, window, backfilling=bool(report.backfilling)),
            highlight=False,
            markup=False,
        )
