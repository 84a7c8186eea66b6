"""``nps-sync loop report``: how fast and how often detractors are reached, resolved and won
back, from the loop states nps-sync follows (nothing is asked of Salesforce or Zendesk)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION, iso
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from sync.core.config import Config
    from sync.loop.metrics import LoopMetrics, LoopRecord, Overdue
    from sync.state import StateStore

GROUPS = ("owner", "team", "tier", "rule")
HEADERS = (
    "detractors",
    "in SLA",
    "to contact\nmed / p90",
    "to resolve\nmed / p90",
    "resolved",
    "never\nreached",
)


@click.group("loop")
def loop_group() -> None:
    """Each response's loop: open, contacted, resolved or closed."""


@loop_group.command("report")
@CONFIG_OPTION
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Responses answered within this window: 30d, 12w, 6h.",
)
@click.option(
    "--by",
    "group_by",
    type=click.Choice(GROUPS),
    help="A row per account owner, team (the Zendesk group of the ticket), tier or rule.",
)
@JSON_OPTION
def report_command(config_path: Path, since: str, group_by: str | None, as_json: bool) -> None:
    """Detractors contacted within SLA, time to contact and to resolution (median, p90), share
    resolved and never contacted, score recovery, and the open loops past their SLA by owner."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from rules import parse_duration
    from sync.app.runtime import open_store
    from sync.loop.calendar import BusinessHours
    from sync.loop.metrics import by_group, loop_metrics, overdue
    from sync.loop.sla import records

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    config = load(config_path)
    now = datetime.now(UTC)
    bh = config.business_hours
    hours = BusinessHours(ZoneInfo(bh.timezone), bh.start_hour, bh.end_hour)
    store = open_store(config, existing=True)
    try:
        teams = _teams(config, store, now - window) if group_by == "team" else {}
        rows = records(store.loops.facts(now - window), config.loop.sla, hours, teams)
    finally:
        store.close()
    total = loop_metrics(rows, now)
    groups = by_group(rows, lambda r: str(getattr(r, group_by)), now) if group_by else {}
    late = overdue(rows, now)
    if as_json:
        from sync.commands.output import emit

        emit(
            {
                "since": iso(now - window),
                "now": iso(now),
                "by": group_by,
                "total": _metrics_json(total),
                "groups": {name: _metrics_json(m) for name, m in groups.items()},
                "past_sla": [_overdue_json(o) for o in late],
            }
        )
        return
    _print(total, groups, group_by, late, rows, since)


def _teams(config: Config, store: StateStore, since: datetime) -> dict[tuple[str, str], str]:
    """The Zendesk group each response's ticket went to, as the rules in force name it."""
    from rules import ZendeskTicketAction, load_rules

    groups = {
        name: action.group
        for name, action in load_rules(config.rules).actions.items()
        if isinstance(action, ZendeskTicketAction) and action.group
    }
    teams: dict[tuple[str, str], str] = {}
    for key, items in store.loops.followups(since).items():
        for item in items:
            if item.kind == "zendesk_ticket" and item.action in groups:
                teams.setdefault(key, groups[item.action])
    return teams


def _share(m: LoopMetrics, count: int) -> float | None:
    share = m.share(count)
    return round(share, 4) if share is not None else None


def _rate(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _metrics_json(m: LoopMetrics) -> dict[str, Any]:
    return {
        "detractors": m.detractors,
        "contacted": m.contacted,
        "contacted_within_sla": m.contacted_within_sla,
        "share_contacted_within_sla": _share(m, m.contacted_within_sla),
        "hours_to_contact": {"median": m.contact_hours_median, "p90": m.contact_hours_p90},
        "hours_to_resolution": {
            "median": m.resolution_hours_median,
            "p90": m.resolution_hours_p90,
        },
        "resolved": m.resolved,
        "share_resolved": _share(m, m.resolved),
        "never_contacted": m.never_contacted,
        "share_never_contacted": _share(m, m.never_contacted),
        "sla_breaches": {"first_contact": m.contact_breaches, "resolution": m.resolution_breaches},
        "score_recovery": {
            "pairs": m.recovery.pairs,
            "mean_before": m.recovery.mean_before,
            "mean_after": m.recovery.mean_after,
            "recovered": m.recovery.recovered,
        },
        "resurvey": {
            "sent": m.resurvey.sent,
            "answered": m.resurvey.answered,
            "response_rate": _rate(m.resurvey.response_rate),
            "mean_before": m.resurvey.mean_before,
            "mean_after": m.resurvey.mean_after,
            "recovered": m.resurvey.recovered,
        },
    }


def _overdue_json(o: Overdue) -> dict[str, Any]:
    return {
        "owner": o.owner,
        "source": o.source,
        "response_id": o.response_id,
        "state": o.state,
        "deadline": o.deadline,
        "due": iso(o.due),
        "hours_over": round(o.hours_over, 2),
    }


def _pct(m: LoopMetrics, count: int) -> str:
    share = m.share(count)
    return "-" if share is None else f"{share:.0%}"


def _h(value: float | None) -> str:
    """Hours up to two days, days beyond (whole days from ten on)."""
    if value is None:
        return "-"
    if value < 48:
        return f"{value:.1f}h"
    return f"{value / 24:.1f}d" if value < 240 else f"{value / 24:.0f}d"


def _print(
    total: LoopMetrics,
    groups: dict[str, LoopMetrics],
    group_by: str | None,
    late: list[Overdue],
    rows: list[LoopRecord],
    since: str,
) -> None:
    from rich import box
    from rich.console import Console

    from sync.app.tables import DataTable, figure_column

    console = Console()
    table = DataTable(
        title=f"Detractors answered in the last {since}", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column(group_by or "", overflow="fold", min_width=8)
    for header in HEADERS:
        figure_column(table, header)
    shown = [(name, m) for name, m in groups.items() if m.detractors]
    lines = [*shown, ("all", total)]
    for name, m in lines:
        table.add_row(
            name,
            str(m.detractors),
            _pct(m, m.contacted_within_sla),
            f"{_h(m.contact_hours_median)}/{_h(m.contact_hours_p90)}",
            f"{_h(m.resolution_hours_median)}/{_h(m.resolution_hours_p90)}",
            _pct(m, m.resolved),
            _pct(m, m.never_contacted),
        )
    console.print(table)
    console.print(
        f"SLA breaches: {total.contact_breaches} first contacts late or missing, "
        f"{total.resolution_breaches} resolutions late or missing.",
        highlight=False,
    )
    rec = total.recovery
    if rec.pairs:
        console.print(
            f"Score recovery: {rec.pairs} detractors answered again; mean score "
            f"{rec.mean_before:.1f} before, {rec.mean_after:.1f} after; {rec.recovered} came "
            "back at 7 or more.",
            highlight=False,
        )
    else:
        console.print("Score recovery: no detractor has answered again yet.")
    rs = total.resurvey
    if rs.sent:
        after = (
            f"; mean score {rs.mean_before:.1f} before, {rs.mean_after:.1f} after; "
            f"{rs.recovered} came back at 7 or more"
            if rs.answered and rs.mean_before is not None and rs.mean_after is not None
            else ""
        )
        console.print(f"Resurveys: {rs.sent} sent, {rs.answered} answered{after}.", highlight=False)
    if not late:
        console.print("No open loop is past its SLA.")
        return
    table = DataTable(title=f"Open loops past SLA ({len(late)})")
    table.add_column("owner", overflow="fold", min_width=14)
    figure_column(table, "response", justify="left")
    figure_column(table, "state", justify="left")
    figure_column(table, "due (UTC)", justify="left")
    figure_column(table, "over by")
    for o in late:
        due = f"{o.deadline.replace('_', ' ')} {o.due.strftime('%m-%d %H:%M')}"
        table.add_row(o.owner, o.response_id, o.state, due, _h(o.hours_over))
    console.print(table)
