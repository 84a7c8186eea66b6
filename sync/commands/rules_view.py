"""What the ``nps-sync rules`` commands print: decisions, traces, previews and replay tables.

Formatting only; the commands in :mod:`sync.commands.rules` load, route and read the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collections import Counter

    from rich.table import Table

    from rules import CaseResult, Decision, Ruleset, RuleTrace
    from sync.ops.replay import ReplayResult
    from sync.state import StoredResponse


def expectation(result: CaseResult) -> tuple[str, str]:
    """The EXPECTED and ACTUAL cells: only what the case states an expectation about."""
    expected, actual = [], []
    if result.case.expect is not None:
        expected.append(f"actions: {names(result.case.expect)}")
        actual.append(f"actions: {names(result.actions)}")
    if result.case.expect_rules is not None:
        expected.append(f"rules: {names(result.case.expect_rules)}")
        actual.append(f"rules: {names(result.rules)}")
    if result.case.expect_settle is not None:
        from rules import format_duration

        expected.append(f"settle: {format_duration(result.case.expect_settle) or 'none'}")
        actual.append(f"settle: {format_duration(result.settle) or 'none'}")
    return "; ".join(expected), "; ".join(actual)


def names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def print_previews(ruleset: Ruleset, decision: Decision, fields: Mapping[str, object]) -> bool:
    """Print each action the decision asks for, rendered; False if one cannot be rendered."""
    import dataclasses

    from rules import RenderError

    ok = True
    for name in dict.fromkeys(decision.action_names):
        click.echo(f"\n{name} ({ruleset.actions[name].type}):")
        try:
            payload = ruleset.render_action(name, fields)
        except RenderError as error:
            click.echo(f"  cannot be rendered: {error}")
            ok = False
            continue
        for item in dataclasses.fields(payload):
            if item.name == "action":
                continue
            lines = shown_value(getattr(payload, item.name)).splitlines() or [""]
            click.echo(f"  {item.name}: {lines[0]}")
            for line in lines[1:]:
                click.echo(f"    {line}".rstrip())
    return ok


def shown_value(value: object) -> str:
    from collections.abc import Mapping
    from datetime import timedelta

    from rules import OwnerRef, format_duration

    if value is None:
        return "-"
    if isinstance(value, OwnerRef):
        return str(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, Mapping):
        return "\n".join(f"{key}: {item}" for key, item in value.items())
    return str(value).rstrip()


def print_decision(decision: Decision) -> None:
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
        actions = names(match.actions)
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        click.echo(f"{match.rule.ljust(width)}  -> {actions}{suffix}")


def print_traces(traces: Sequence[RuleTrace]) -> None:
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


def print_stored_decision(stored: StoredResponse, ruleset: Ruleset) -> None:
    r = stored.response
    click.echo(
        f"response {r.source}/{r.response_id}: score {r.score}, "
        f"submitted {r.created_at.isoformat()}"
    )
    match = stored.match or {}
    contact, account = match.get("contact"), match.get("account")
    if contact or account:
        parts = [
            f"{kind} {data['id']} ({data.get('name') or '?'})"
            for kind, data in (("contact", contact), ("account", account))
            if data
        ]
        click.echo(f"matched: {', '.join(parts)}")
    else:
        click.echo(f"not matched ({match.get('status', 'unmatched')})")
    decision = stored.decision or {}
    stored_hash = str(decision.get("ruleset", ""))
    under = f"decided under rules {stored_hash[:12]}" if stored_hash else "stored decision"
    click.echo(
        f"{under}: rules {names(decision.get('rules') or [])}; "
        f"actions {names(decision.get('actions') or [])}"
    )
    for note in decision.get("notes") or []:
        click.echo(f"  note: {note}")
    same = "the same" if stored_hash == ruleset.hash else "changed since; the trace uses these"
    click.echo(f"rules in force: {ruleset.hash[:12]} ({same})")
    click.echo()


def replay_tables(current: ReplayResult, proposed: ReplayResult | None) -> list[Table]:
    from collections import Counter

    emails = {**current.owner_emails, **(proposed.owner_emails if proposed else {})}

    def per_rule(result: ReplayResult) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (rule, kind), count in result.by_rule.items():
            counts[f"{rule}\t{kind}"] += count
        for (rule, kind, reason), count in result.skipped.items():
            counts[f"{rule}\t{kind} (skipped: {reason})"] += count
        for rule, count in result.suppressed.items():
            counts[f"{rule}\t(responses skipped by cooldown)"] += count
        return counts

    return [
        comparison(
            "Actions per rule",
            ("Rule", "Action type"),
            per_rule(current),
            per_rule(proposed) if proposed else None,
        ),
        comparison(
            "Salesforce tasks per owner",
            ("Owner",),
            owners(current.by_owner, emails),
            owners(proposed.by_owner, emails) if proposed else None,
        ),
        comparison(
            "Zendesk tickets per group",
            ("Group",),
            current.by_group,
            proposed.by_group if proposed else None,
        ),
    ]


def owners(by_owner: Counter[str], emails: Mapping[str, str]) -> Counter[str]:
    """Owners shown by email and id where the email is known, else as the rules name them."""
    from collections import Counter

    shown: Counter[str] = Counter()
    for owner, count in by_owner.items():
        shown[f"{emails[owner]} ({owner})" if owner in emails else owner] += count
    return shown


def comparison(
    title: str, keys: tuple[str, ...], current: Counter[str], proposed: Counter[str] | None
) -> Table:
    from sync.app.tables import DataTable, figure_column, text_column

    table = DataTable(title=title, title_justify="left")
    for key in keys:
        text_column(table, key)
    figure_column(table, "in force")
    if proposed is not None:
        figure_column(table, "new rules")
        figure_column(table, "change")
    names = sorted(set(current) | set(proposed or {}))
    for name in names:
        cells = name.split("\t")
        before = current.get(name, 0)
        if proposed is None:
            table.add_row(*cells, str(before))
        else:
            after = proposed.get(name, 0)
            change = f"{after - before:+d}" if after != before else ""
            table.add_row(*cells, str(before), str(after), change)
    if not names:
        table.add_row("(none)", *[""] * (len(table.columns) - 1))
    return table
