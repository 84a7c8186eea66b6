"""``nps-sync forget EMAIL...``: erase respondents (see :mod:`sync.ops.forget`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from sync.ops.forget import ForgetPlan
    from sync.state.forgotten import FollowUp


#: Addresses and answers named in the summary line; the rest are counted.
NAMED = 5


@click.command("forget")
@CONFIG_OPTION
@JSON_OPTION
@click.argument("emails", nargs=-1)
@click.option(
    "--response",
    "responses",
    nargs=2,
    multiple=True,
    metavar="SOURCE ID",
    help="Forget this one answer (a test, a mistake) and keep the person's others. Repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be forgotten; change nothing.")
def forget_command(
    config_path: Path,
    as_json: bool,
    emails: tuple[str, ...],
    responses: tuple[tuple[str, str], ...],
    dry_run: bool,
) -> None:
    """Forget the people with these email addresses (an erasure request), or single answers.

    Their answers and everything derived from them leave the state database, and are never
    stored again if a source delivers them again; the next pass clears the NPS fields of their
    Salesforce contact and Zendesk user, deletes their history records and recomputes their
    accounts. Tasks and tickets made for the answers are listed, for Salesforce's and
    Zendesk's own erasure tools.
    """
    from datetime import UTC, datetime

    from connectors.addresses import is_plain_email
    from connectors.surveys.fields import email_fault
    from sync.app.runtime import open_store
    from sync.commands.output import emit
    from sync.ops.forget import forget

    if not emails and not responses:
        raise click.UsageError("give email addresses, or --response SOURCE ID")
    if any(not e.strip() for e in emails):
        raise click.UsageError("an email address is blank")
    for email in emails:
        if not is_plain_email(email.strip().lower()):
            # No source stores such an answer, so nothing could be forgotten for it.
            fault = email_fault(email.strip().lower())
            raise click.UsageError(f"{email.strip()!r} is not an email address ({fault})")
    config = load(config_path)
    store = open_store(config, existing=True)
    try:
        now = datetime.now(UTC)
        result = forget(store, config, emails, now, dry_run=dry_run, responses=responses)
    finally:
        store.close()
    if as_json:
        emit(forget_document(result, dry_run=dry_run))
        return
    for line in forget_lines(result, dry_run=dry_run):
        click.echo(line)


def forget_document(result: ForgetPlan, *, dry_run: bool) -> dict[str, Any]:
    """``nps-sync forget --json``."""
    person = result.person
    return {
        "dry_run": dry_run,
        "emails": list(person.emails),
        "answers": [{"source": s, "response_id": r} for s, r in person.answers],
        "store_rows_removed": result.removed,
        "fields_cleared": [
            {"system": c.system, "object": c.object, "record_id": c.record_id, "fields": c.fields}
            for c in result.clears
        ],
        "recomputed": [{"object": o, "record_id": r} for o, r in result.recomputed],
        "history_erased": [
            {"object": result.history_object[0], "external_id": key} for key in result.history
        ]
        if result.history_object
        else [],
        "left_in_place": [
            {
                "system": "salesforce" if f.kind == "salesforce_task" else "zendesk",
                "object": "Task" if f.kind == "salesforce_task" else "ticket",
                "id": f.external_id or None,
                **({"marker": f.marker} if f.marker else {}),
            }
            for f in person.follow_ups
        ],
    }


def forget_lines(result: ForgetPlan, *, dry_run: bool) -> list[str]:
    """What ``nps-sync forget`` prints."""
    person = result.person
    asked = [*person.emails, *(f"{s} {r}" for s, r in person.responses)]
    who = ", ".join(asked[:NAMED])
    if len(asked) > NAMED:
        who += f" and {len(asked) - NAMED:,} more"
    if not person.answers:
        return [f"Nothing is stored for {who}: nothing to forget."]
    count = len(person.answers)
    lines = [
        f"Would forget {count} answer(s) for {who}."
        if dry_run
        else f"Forgot {count} answer(s) for {who} ({result.removed} stored rows removed)."
    ]
    verb = "would clear" if dry_run else "clears"
    for clear in result.clears:
        system = "Salesforce" if clear.system == "salesforce" else "Zendesk"
        lines.append(
            f"  The next pass {verb} the NPS fields of {system} {clear.object} {clear.record_id}."
        )
    if result.history_object is not None and result.history:
        erases = "would delete" if dry_run else "deletes"
        obj = result.history_object[0]
        lines.append(f"  The next pass {erases} their {len(result.history)} {obj} record(s).")
    for obj, record_id in result.recomputed:
        recomputes = "would recompute" if dry_run else "recomputes"
        lines.append(f"  The next pass {recomputes} the NPS fields of {obj} {record_id}.")
    left = [_follow_up(f) for f in person.follow_ups]
    if left:
        lines.append(
            "Still holding their words (erase them with Salesforce's and Zendesk's own tools "
            "if the request covers them):"
        )
        lines += [f"  {item}" for item in dict.fromkeys(left)]
    return lines


def _follow_up(follow_up: FollowUp) -> str:
    task = follow_up.kind == "salesforce_task"
    name = "Salesforce Task" if task else "Zendesk ticket"
    if follow_up.external_id:
        return f"{name} {follow_up.external_id}"
    # Its create got no answer: found, if it was made, by the key it carries.
    where = "its NPS key field" if task else "its external id"
    return f"{name} with {follow_up.marker} in {where}, if it was made (its create got no answer)"
