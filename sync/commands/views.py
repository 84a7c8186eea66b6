"""The views per stakeholder: ``nps-sync queue`` (whom to call today), ``nps-sync report`` (the
executive report as one HTML file) and ``nps-sync digest`` (the team leads' week).

Each reads the store only; ``--json`` prints the figures the view shows, by name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sync.commands.dates import UntilType
from sync.commands.output import JSON_OPTION, emit, iso
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from sync.reports.answers import Answer
    from sync.reports.queue import Call


UNTIL_OPTION = click.option(
    "--until",
    type=UntilType(),
    default=None,
    help="Make the view as of this moment (UTC) instead of now; a date alone: the end of it.",
)


def _until(value: datetime | None) -> datetime:
    return value.replace(tzinfo=UTC) if value is not None else datetime.now(UTC)


def _answers(config_path: Path, since: datetime) -> list[Answer]:
    from sync.app.runtime import open_store
    from sync.reports.answers import gather

    config = load(config_path)
    store = open_store(config, existing=True)
    try:
        return gather(store, config, since)
    finally:
        store.close()


@click.command("queue")
@CONFIG_OPTION
@click.option("--owner", required=True, help="The account owner's email.")
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3660),
    help="Look at answers from this many days back.",
)
@UNTIL_OPTION
@JSON_OPTION
def queue_command(
    config_path: Path, owner: str, days: int, until: datetime | None, as_json: bool
) -> None:
    """Whom to call today: the owner's open detractors and passives close to renewal, most
    urgent first (past SLA, then due within a day; then lowest score, largest ARR, soonest
    renewal), with why and a suggested next step. Shows survey comments: for the owner only."""
    from sync.reports.answers import owners
    from sync.reports.queue import call_json, call_list

    now = _until(until)
    answers = _answers(config_path, now - timedelta(days=days))
    calls = call_list([a for a in answers if a.answered_at <= now], owner, now)
    known = owners(answers)
    if as_json:
        emit(
            {
                "owner": owner.strip().lower(),
                "now": iso(now),
                "known_owner": owner.strip().lower() in known,
                "calls": [call_json(c) for c in calls],
            }
        )
        return
    _print_queue(owner, calls, known, days)


def _print_queue(owner: str, calls: list[Call], known: list[str], days: int) -> None:
    from rich import box
    from rich.console import Console
    from rich.text import Text

    from sync.app.tables import DataTable

    console = Console()
    if not calls and owner.strip().lower() not in known:
        # A mistyped address would otherwise read as a clear desk.
        shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        console.print(
            f"No account owned by {owner} has an answer of the last {days} days"
            + (f"; the owners with answers: {shown}." if known else ".")
        )
        return
    if not calls:
        console.print(f"No one to call today for {owner}: every loop is closed or in time.")
        return
    table = DataTable(title=f"To call today: {owner} ({len(calls)})", box=box.SIMPLE_HEAD)
    for header in ("#", "who", "account", "score", "why", "next step"):
        table.add_column(header, overflow="fold")
    for i, call in enumerate(calls, 1):
        a = call.answer
        who = Text(a.person_name or a.email)
        if a.comment.strip():  # survey text: shown as typed, never read as markup
            who.append(f"\n“{a.comment.strip()}”", style="dim")
        table.add_row(
            str(i),
            who,
            a.account_name or "-",
            str(a.score),
            "; ".join(call.reasons),
            call.next_step,
        )
    console.print(table)


@click.command("report")
@CONFIG_OPTION
@click.option(
    "--period",
    type=click.Choice(["month", "quarter"]),
    default="month",
    show_default=True,
    help="Report on the month or the quarter holding --until, with the trend before it.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the HTML report to this file.",
)
@click.option(
    "--pdf",
    "pdf",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also print the same page to this PDF file (with the system's headless Chromium).",
)
@click.option(
    "--revenue/--no-revenue",
    default=True,
    show_default=True,
    help="Read the accounts' Opportunities from Salesforce for revenue by NPS category.",
)
@UNTIL_OPTION
@JSON_OPTION
def report_command(
    config_path: Path,
    period: str,
    out: Path | None,
    pdf: Path | None,
    revenue: bool,
    until: datetime | None,
    as_json: bool,
) -> None:
    """The executive report: NPS trend with 95% intervals, category mix, NPS by segment (the
    Account fields of insights.segments.account_fields included), comment themes, drivers,
    revenue and the closed loop, as one self-contained HTML file (charts inline, nothing
    fetched when viewed), and with --pdf the same page as a PDF. --json prints every figure
    the page draws."""
    from dataclasses import replace
    from typing import cast

    from sync.app.runtime import open_store
    from sync.commands.report_sections import (
        account_field_values,
        drivers_section,
        revenue_section,
        themes_section,
    )
    from sync.reports.answers import gather
    from sync.reports.executive import (
        TREND_PERIODS,
        Period,
        executive_report,
        periods,
        report_json,
    )
    from sync.reports.page import Section

    if out is None and pdf is None and not as_json:
        raise click.UsageError("give --out FILE.html, --pdf FILE.pdf, or --json for the figures")
    chromium = None
    if pdf is not None:  # before the work: a missing Chromium is said at once
        from sync.reports.pdf import find_chromium

        chromium = find_chromium()
    now = _until(until)
    chosen = cast(Period, period)
    since = periods(now, chosen, TREND_PERIODS[period])[0][1]
    config = load(config_path)
    store = open_store(config, existing=True)
    fields = list(config.insights.segments.account_fields)
    try:
        answers = gather(store, config, since)
        answers, values, note = account_field_values(config, answers, fields)
        report = executive_report(answers, chosen, now, fields if values is not None else ())
        report = replace(report, segments_note=note)
        sections = [themes_section(report.themes)]
        drivers, drivers_json = drivers_section(config, store, since, now, values)
        sections.append(drivers)
        if revenue:
            money, revenue_json = revenue_section(config, store, since, now)
        else:
            money = Section("revenue", "Revenue by NPS category", empty="Left out (--no-revenue).")
            revenue_json = None
        sections.append(money)
    finally:
        store.close()
    extra = {"drivers": drivers_json or None, "revenue": revenue_json}
    report = replace(report, extra=extra)
    if out is not None or pdf is not None:
        from sync.reports.page import render

        html = render(report, sections)
        summary = f"({report.label}, {report.headline.n} answers)"
        if out is not None:
            from sync.core.files import write_text_whole

            write_text_whole(out, html)
            click.echo(f"Wrote {out} {summary}.", err=as_json)
        if pdf is not None and chromium is not None:
            from sync.reports.pdf import print_pdf

            print_pdf(html, pdf, chromium=chromium)
            click.echo(f"Wrote {pdf} {summary}.", err=as_json)
    if as_json:
        emit(report_json(report))


@click.command("digest")
@CONFIG_OPTION
@UNTIL_OPTION
@JSON_OPTION
def digest_command(config_path: Path, until: datetime | None, as_json: bool) -> None:
    """The team leads' week: new detractors, open loops past their SLA, repeat themes among
    detractors (when comment themes exist) and segments whose NPS moved beyond its interval.
    The text is what the daemon sends to Slack and email (views.digest); no comments in it."""
    from sync.reports.answers import analysed
    from sync.reports.digest import LOOKBACK, digest, digest_json, digest_text, stored_themes

    now = _until(until)
    answers = _answers(config_path, now - LOOKBACK)
    week = digest(answers, now, stored_themes if analysed(answers) else None)
    if as_json:
        emit(digest_json(week))
        return
    click.echo(digest_text(week))
