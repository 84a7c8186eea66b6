"""``nps-sync fields``, ``explain`` and ``backfill``: set up, justify and fill the NPS fields.

- ``fields setup`` prints the custom fields nps-sync needs (the ``write_back`` mapping's, the Task
  marker, the account fields it reads) and, with ``--metadata DIR``, writes them with a permission
  set as a Salesforce DX project to deploy with the Salesforce CLI;
- ``fields reconcile`` runs the nightly repair now (recompute, read back, rewrite what differs);
- ``explain account ID`` shows how each account field value was computed, from which responses;
- ``explain segments --by tier`` shows revenue-weighted NPS per segment;
- ``backfill --since DATE`` imports history (no rules, no actions) and computes every field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from rich.console import Console

    from sync.app.runtime import Connections
    from sync.core.config import Config
    from sync.fields.explain import AccountExplanation
    from sync.fields.fieldmap import RequiredField
    from sync.fields.metrics import AccountFacts
    from sync.state import StateStore

DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"])


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _connect(config: Config) -> tuple[StateStore, Connections]:
    from sync.app.runtime import connect_all, open_store

    return open_store(config), connect_all(config)


# -- fields --------------------------------------------------------------------------------------
@click.group("fields")
def fields_group() -> None:
    """The NPS fields nps-sync writes: set them up and keep them right."""


def _fields_table(required: list[RequiredField], title: str) -> Any:
    from sync.app.tables import DataTable

    table = DataTable(title=title)
    for col in ("object", "field", "type", "size", "metric"):
        table.add_column(col, no_wrap=True)
    table.add_column("what it holds")
    for f in required:
        if f.precision is not None:
            size = f"{f.precision},{f.scale or 0}"
        elif f.picklist_values:
            size = f"{len(f.picklist_values)} values"
        elif f.reference_to:
            size = f"-> {f.reference_to}"
        else:
            size = str(f.length or "")
        kind = f"{f.type} (external id)" if f.external_id else f.type
        what = f.description
        if f.picklist_values:
            what += f" Values: {', '.join(f.picklist_values)}."
        table.add_row(f.object, f.field, kind, size, f.metric, what)
    return table


@fields_group.command("setup")
@CONFIG_OPTION
@click.option(
    "--all",
    "every_metric",
    is_flag=True,
    help="Every metric nps-sync offers (suggested names), not only the mapped ones.",
)
@click.option(
    "--metadata",
    "metadata_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every Salesforce field `nps-sync check` needs, with a permission set, as a "
    "Salesforce DX project (sfdx-project.json, package.xml) into this directory.",
)
def setup_command(config_path: Path, every_metric: bool, metadata_dir: Path | None) -> None:
    """Print the custom fields to create, with their types; optionally write Salesforce metadata."""
    from rich.console import Console
    from ruamel.yaml import YAML

    from sync.checks.salesforce import setup_fields
    from sync.fields.fieldmap import required_fields, suggested_mapping

    config = load(config_path)
    if every_metric:
        config = config.model_copy(
            update={"write_back": type(config.write_back).model_validate(suggested_mapping())}
        )
    sf = setup_fields(config)
    zd = [f for f in required_fields(config) if f.system == "zendesk"]
    console = Console()
    console.print(_fields_table(sf, "Salesforce custom fields"))
    console.print(_fields_table(zd, "Zendesk user and organization fields (key, type)"))
    console.print(
        "Zendesk: Admin Center > People > Configuration > User fields / Organization fields; "
        "give each field the key shown."
    )
    outcome_title = config.zendesk.fields.ticket_loop_outcome
    if outcome_title:
        from sync.loop.states import OUTCOME_LABELS, OUTCOME_TAGS

        options = ", ".join(f"{n} ({t})" for n, t in zip(OUTCOME_LABELS, OUTCOME_TAGS, strict=True))
        console.print(
            f"Zendesk ticket field for the loop outcome: a Drop-down titled {outcome_title!r} "
            f"with the options {options} (Admin Center > Objects and rules > Tickets > Fields).",
            highlight=False,
        )
    if every_metric:
        console.print("\nPaste into your config to write every metric:")
        YAML().dump({"write_back": suggested_mapping()}, console.file)
    if metadata_dir is not None:
        _write_metadata(console, config, sf, metadata_dir)


def _write_metadata(
    console: Console, config: Config, fields: list[RequiredField], directory: Path
) -> None:
    """The Salesforce DX project for ``fields``, and how to deploy it."""
    from sync.app.tables import print_flagged
    from sync.fields.sfmetadata import PERMISSION_SET, write_metadata

    history = config.write_back.history
    objects = [(history.object, "NPS Response")] if history.enabled else []
    try:
        result = write_metadata(
            fields,
            directory,
            api_version=config.salesforce.api_version,
            custom_objects=objects,
            reconcile_cron=config.schedule.reconcile_cron,
        )
    except OSError as error:
        why = error.strerror or str(error)
        raise click.BadParameter(
            f"cannot write {error.filename or directory}: {why}; choose a directory you may "
            "write to",
            param_hint="--metadata",
        ) from None
    for f, why in result.skipped:
        print_flagged(console, "skipped", f"{f.object}.{f.field}: {why}")
    user = config.salesforce.auth.username or "INTEGRATION_USER"
    console.print(
        f"wrote {len(result.written)} files under {directory} (a Salesforce DX project). "
        "To deploy them with the Salesforce CLI and let the integration user see the fields:\n"
        f"  cd {directory}\n"
        "  sf project deploy start --manifest package.xml --target-org YOUR_ORG\n"
        f"  sf org assign permset --name {PERMISSION_SET} --on-behalf-of {user} "
        "--target-org YOUR_ORG\n"
        "then run nps-sync check.",
        highlight=False,
        soft_wrap=True,
    )


@fields_group.command("reconcile")
@CONFIG_OPTION
def reconcile_command(config_path: Path) -> None:
    """Recompute every managed record, read Salesforce back and rewrite what differs (drift)."""
    from rich.console import Console

    from sync.app.jobs import recorded_job
    from sync.app.tables import print_flagged
    from sync.core.errors import PartialFailureError, UnavailableError
    from sync.core.retry import RetryPolicy
    from sync.stages.writeback import reconcile

    config = load(config_path)
    store, conn = _connect(config)
    with store.locks.singleton("reconcile") as mine:
        if not mine:  # the daemon's nightly run, or another one of these
            raise UnavailableError(
                "another nps-sync process is reconciling the fields; nothing was rewritten",
                fix="run it again once that one has finished (nps-sync status lists it)",
            )
        with recorded_job(store, "reconcile") as run:
            now = datetime.now(UTC)
            stats = reconcile(store, config, conn.crm, conn.helpdesk, RetryPolicy(), now)
            run.finished(stats.errors, records_updated=stats.total(), drift=stats.drift)
    console = Console()
    written = ", ".join(f"{k} {v}" for k, v in sorted(stats.updated.items())) or "nothing"
    console.print(f"rewrote: {written}; hand edits repaired: {stats.drift}")
    for error in stats.errors[:50]:
        print_flagged(console, "error", error)
    if stats.errors:
        raise PartialFailureError(
            f"{len(stats.errors)} error(s) in the reconciliation (listed above): run it again"
        )


# -- explain -------------------------------------------------------------------------------------
@click.group("explain")
def explain_group() -> None:
    """Show how written values were computed."""


def _live_facts(config: Config, account_id: str, rows: Any) -> AccountFacts | None:
    """Facts from Salesforce, as the nightly reconciliation sees them; None when unreachable."""
    from connectors.errors import ConnectorError
    from connectors.transport import CallCounter
    from sync.app.runtime import build_salesforce
    from sync.core.errors import ConfigFileError
    from sync.core.retry import RetryPolicy
    from sync.fields.facts import account_facts
    from sync.fields.fieldmap import field_map

    try:
        crm = build_salesforce(config, CallCounter())
        return account_facts(
            {account_id: rows},
            crm=crm,
            fmap=field_map(config),
            metrics=config.metrics,
            retry=RetryPolicy(attempts=2),
            fresh=True,
        )[account_id]
    except (ConnectorError, ConfigFileError) as exc:
        click.echo(f"Salesforce not reachable ({exc}); using the stored match data", err=True)
        return None


def print_explanation(console: Console, e: AccountExplanation) -> None:
    from rich.text import Text

    from sync.app.tables import DataTable, figure_column, text_column

    s = e.settings
    cur = e.metrics.current
    assert cur is not None
    console.print(
        Text.assemble(
            (e.account_name or e.account_id, "bold"),
            f" ({e.account_id}) at {e.now:%Y-%m-%d %H:%M} UTC",
        )
    )
    decay = f"half-life {s.half_life.days} days" if s.half_life else "none"
    console.print(
        f"window ({cur.start:%Y-%m-%d %H:%M}, {cur.end:%Y-%m-%d %H:%M}] ({s.window.days} days), "
        f"latest response per contact; decay: {decay}; ARR {e.facts.arr:,.2f}"
    )
    responses = DataTable(title=f"Responses ({len(e.responses)})")
    text_column(responses, "contact")
    text_column(responses, "response")
    figure_column(responses, "submitted", justify="left")
    figure_column(responses, "score")
    text_column(responses, "category")
    figure_column(responses, "weight")
    text_column(responses, "counted?")
    for line in e.responses:
        counted = line.status == "counted"
        responses.add_row(
            f"{line.contact_name} ({line.contact_id})" if line.contact_name else line.contact_id,
            line.response_id,
            f"{line.submitted:%Y-%m-%d %H:%M}",
            str(line.score),
            line.category,
            f"{line.weight:.3f}" if line.weight is not None else "",
            Text(line.status, style="green" if counted else "dim"),
        )
    console.print(responses)
    fields = DataTable(title="Fields")
    text_column(fields, "metric")
    figure_column(fields, "value")
    text_column(fields, "how")
    text_column(fields, "written to")
    for f in e.fields:
        value = "" if f.value is None else str(f.value)
        target = Text(", ".join(f.written_to)) if f.written_to else Text("(not mapped)", "dim")
        fields.add_row(f.label, value, f.formula, target)
    console.print(fields)


@explain_group.command("account")
@click.argument("account_id")
@CONFIG_OPTION
@click.option("--offline", is_flag=True, help="Do not ask Salesforce; use the stored match data.")
@JSON_OPTION
def explain_account_command(
    config_path: Path, account_id: str, offline: bool, as_json: bool
) -> None:
    """How each field of ACCOUNT_ID was computed: counted responses, window, formulas, values."""
    from rich.console import Console

    from sync.app.runtime import open_store
    from sync.fields.explain import explain_account

    config = load(config_path)
    store = open_store(config, existing=True)
    if len(account_id) == 15:  # the id as the Salesforce UI shows it: find the 18-character one
        _, known = store.inbox.routed_record_ids()
        account_id = next((a for a in known if a.startswith(account_id)), account_id)
    rows = store.inbox.routed(account_ids=[account_id])
    if not rows:
        raise click.ClickException(f"no routed response for account {account_id}")
    facts = None if offline else _live_facts(config, account_id, rows)
    explanation = explain_account(config, account_id, rows, now=datetime.now(UTC), facts=facts)
    if as_json:
        from sync.commands.documents import account_document
        from sync.commands.output import emit

        emit(account_document(explanation))
        return
    print_explanation(Console(), explanation)


@explain_group.command("segments")
@CONFIG_OPTION
@click.option("--by", "segment", type=click.Choice(["tier", "region", "industry"]), default="tier")
@JSON_OPTION
def explain_segments_command(config_path: Path, segment: str, as_json: bool) -> None:
    """Revenue-weighted NPS per segment: sum(ARR x NPS) / sum(ARR) over accounts with an NPS."""
    from rich.console import Console

    from sync.app.runtime import open_store
    from sync.app.tables import DataTable, figure_column, text_column
    from sync.fields.explain import segment_report

    config = load(config_path)
    store = open_store(config, existing=True)
    _, accounts = store.inbox.routed_record_ids()
    rows = store.inbox.routed(account_ids=accounts)
    segments = segment_report(config, rows, by=segment, now=datetime.now(UTC))
    if as_json:
        from sync.commands.documents import segments_document
        from sync.commands.output import emit

        emit(segments_document(segment, segments))
        return
    table = DataTable(title=f"NPS by {segment}")
    text_column(table, "segment")
    for header in ("accounts with NPS", "their ARR", "revenue-weighted NPS", "average"):
        figure_column(table, header)
    for s in segments:
        table.add_row(
            s.segment,
            str(s.accounts),
            f"{s.arr:,.0f}",
            "" if s.revenue_weighted_nps is None else f"{s.revenue_weighted_nps:g}",
            "" if s.average_nps is None else f"{s.average_nps:g}",
        )
    Console().print(table)


# -- backfill ------------------------------------------------------------------------------------
class _Bar:
    """The backfill's progress, on a rich progress bar."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.reading = progress.add_task("reading responses", total=None)
        self.writing_task = progress.add_task("writing fields", total=None, visible=False)

    def read(self, count: int) -> None:
        self.progress.advance(self.reading, count)

    def writing(self, total: int) -> None:
        self.progress.update(self.reading, total=self.progress.tasks[self.reading].completed)
        self.progress.update(self.writing_task, total=total, visible=True)

    def wrote(self, count: int) -> None:
        self.progress.advance(self.writing_task, count)


@click.command("backfill")
@CONFIG_OPTION
@click.option("--since", type=DATE, required=True, help="First day to import (UTC).")
@click.option("--until", type=DATE, default=None, help="Import before this moment (default: now).")
def backfill_command(config_path: Path, since: datetime, until: datetime | None) -> None:
    """Import past responses (no rules, no actions) and compute every field from them."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from sync.app.jobs import recorded_job
    from sync.app.runtime import require_source_files
    from sync.app.tables import print_flagged
    from sync.core.errors import PartialFailureError, UnavailableError
    from sync.core.logs import configure
    from sync.core.retry import RetryPolicy
    from sync.ops.backfill import backfill

    configure("WARNING")
    config = load(config_path)
    require_source_files(config)
    store, conn = _connect(config)
    now = datetime.now(UTC)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with recorded_job(store, "backfill") as run, Progress(*columns) as progress:
        stats = backfill(
            config,
            store,
            conn,
            RetryPolicy(),
            since=_utc(since),
            until=_utc(until) if until else now,
            now=now,
            progress=_Bar(progress),
        )
        run.finished(
            stats.errors + stats.write.errors,
            pulled=stats.read,
            new=max(stats.imported - stats.resumed, 0),
            matched=stats.matched,
            unmatched=stats.unmatched,
            problem_count=stats.problem_count,
            records_updated=stats.write.total(),
        )
    console = Console()
    written = ", ".join(f"{k} {v}" for k, v in sorted(stats.write.updated.items())) or "nothing"
    # What an interrupted backfill left is matched now, not imported: it was read then.
    resumed = f", with the {stats.resumed} an interrupted backfill left" if stats.resumed else ""
    console.print(
        f"read {stats.read}, imported {max(stats.imported - stats.resumed, 0)} "
        f"({stats.matched} matched, {stats.unmatched} unmatched{resumed}), already known "
        f"{stats.known}; {stats.contacts} contacts and {stats.accounts} accounts computed; wrote "
        f"{written} in {stats.seconds:.1f} s"
    )
    for problem in stats.problems[:20]:
        print_flagged(console, "skipped", problem)
    errors = stats.errors + stats.write.errors
    for error in errors[:50]:
        print_flagged(console, "error", error)
    if stats.unavailable:
        raise UnavailableError(
            f"{len(errors)} error(s) in the backfill (listed above): a system was unavailable",
            fix="run the same backfill again later (unreachable, rate-limited or out of API "
            "quota, as listed); it keeps what it imported and finishes the rest",
        )
    if errors:
        raise PartialFailureError(f"{len(errors)} error(s) in the backfill (listed above)")
