"""``nps-sync sync``, ``run`` and ``demo``: the commands that do the work."""

from __future__ import annotations

import gc
import logging
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION

if TYPE_CHECKING:
    from sync.app.engine import Engine
    from sync.core.config import Config
    from sync.state import StateStore


class ConfigPath(click.Path):
    """The config file option: it must exist, and a missing one says how to get one."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str | Path) and not Path(value).exists():
            self.fail(
                f"{value} does not exist. Name your config file with --config PATH, or create "
                "one from config.example.yaml (every setting is documented there).",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


CONFIG_OPTION = click.option(
    "--config",
    "-c",
    "config_path",
    type=ConfigPath(),
    default="nps-sync.yaml",
    show_default=True,
    help="Configuration file.",
)


def load(config_path: Path) -> Config:
    """The validated config (its log format adopted); an invalid file ends the command with
    exit code 2."""
    from sync.core.config import load_config
    from sync.core.logs import adopt_config_format

    config = load_config(config_path)
    adopt_config_format(config.logging.format)
    return config


#: Allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


def collect_rarely() -> None:
    """Fewer young collections, from before a command imports what it needs.

    A sync allocates millions of short-lived objects: at the default of 700 the collector ran
    thousands of times (about 4% of the CPU). Its start-up allocates hundreds of thousands that
    live as long as the process (modules, classes, functions): importing the engine ran it some
    270 times, a twentieth of a second of every start.
    """
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def freeze_imports() -> None:
    """Move what start-up imported out of the garbage collector's reach, once per process.

    Modules, classes, functions and the libraries' tables live as long as the process; every
    full collection walked them again, which was most of the collector's time (about 5% of the
    CPU of a first sync). Once only: a later call would also freeze whatever else is alive then.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        collect_rarely()


def build_engine(
    config: Config,
    *,
    patient: Callable[[float], bool] | None = None,
    store: StateStore | None = None,
) -> Engine:
    """Connect everything a config describes (errors end the command with their tier's code).

    With ``patient`` (a daemon), a system that is unreachable or failing for now at start-up
    is tried again with capped backoff, ``patient(seconds)`` waiting between tries (True: stop);
    only a configuration error ends the command. ``store``: one opened already.
    """
    from sync.app.engine import Engine
    from sync.app.reload import RulesHolder
    from sync.app.runtime import (
        connect_all,
        open_store,
        require_context_templates,
        require_source_files,
        require_taxonomy,
    )
    from sync.checks.references import reload_check, require_custom_fields
    from sync.core.config.checks import rules_against
    from sync.core.retry import keep_trying

    freeze_imports()
    rules = RulesHolder.load(config.rules, check=rules_against(config))
    require_source_files(config)
    require_taxonomy(config)
    require_context_templates(config)
    if store is None:
        store = open_store(config)
    if patient is None:
        connections = connect_all(config, login_later=True)
    else:
        connections = keep_trying(
            lambda: connect_all(config, login_later=True),
            what="connecting at start-up",
            wait=patient,
        )
    engine = Engine(config, store, connections, rules)
    require_custom_fields(rules.current, connections.crm, config.rules, engine.retry)
    fallback = config.salesforce.fallback_owner_id
    rules.verify = reload_check(connections.crm, connections.helpdesk, fallback, engine.retry)
    return engine


@click.command("sync")
@CONFIG_OPTION
@JSON_OPTION
def sync_command(config_path: Path, as_json: bool) -> None:
    """Run one pass: pull, match, route, act, write back.

    Exits 1 if some records failed or the rules asked for actions that could not be taken and
    were not declared `expect_skip` (`nps-sync skipped` lists them), 75 if a system was
    unavailable (run again later). A rate limit or a spent API allowance does not end the pass: it
    defers the work that needed that system, does the rest, prints what waits and until when,
    and exits 75 (not an error: run again after that time, the next pass resumes it).
    """
    from rich.console import Console

    from sync.app.engine import RefusedError, RunReport
    from sync.app.report import (
        print_deferred,
        print_history_note,
        print_problems,
        print_unfinished_backfill,
        report_table,
    )
    from sync.commands.documents import not_started_document, run_document
    from sync.commands.output import emit
    from sync.core.errors import PartialFailureError, UnavailableError, exit_code
    from sync.core.logs import configure

    configure("WARNING")
    config = load(config_path)
    try:
        engine = build_engine(config)
    except Exception as error:  # a system refused or unreachable at sign-in: no pass was run
        if as_json and exit_code(error) is not None:
            emit(not_started_document(error))
        raise
    console = Console()

    def show(report: RunReport) -> None:
        if as_json:
            emit(run_document(report))
        else:
            console.print(report_table([("this pass", report)]))

    try:
        report = engine.run_once()
        report.unfinished_backfill = engine.store.inbox.importing_count()
        report.backfilling = engine.store.backfills.range_iso()
    except RefusedError as exc:  # what the other systems' stages did, then exit 78
        show(exc.report)
        raise
    finally:
        engine.store.close()
    show(report)
    if not as_json:
        print_problems(console, report)
        print_deferred(console, report)
        print_history_note(console, engine.config, report)
        print_unfinished_backfill(console, report)
    if report.unavailable:
        raise UnavailableError(
            "a system is unavailable for now: the work that needs it waits for the next pass",
            fix="the errors listed name each system and why (unreachable, rate-limited, out of "
            "API quota); for a host that cannot be reached, check that this machine reaches it "
            "(DNS, proxy, firewall); run again later, `nps-sync run` retries by itself",
        )
    if report.errors:
        where = "in the document" if as_json else "above"
        raise PartialFailureError(f"{len(report.errors)} error(s) in this pass (listed {where})")
    if report.skipped_unexpected:
        raise PartialFailureError(
            f"{report.skipped_unexpected} action(s) skipped that the rules do not expect"
        )
    if report.deferred_until:
        raise UnavailableError(
            "the pass did what it could; the rest waits for "
            + ", ".join(f"{system} until {when}" for system, when in report.deferred_until.items()),
            fix="a system asked us to wait (rate-limited, out of API quota); run again later, "
            "`nps-sync run` resumes by itself",
        )


@click.command("run")
@CONFIG_OPTION
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="The least severe log records written.",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Also receive webhooks (and serve /healthz, /readyz, /metrics) on this address; "
    "overrides webhooks.listen.",
)
def run_command(config_path: Path, log_level: str, listen: str | None) -> None:
    """Run as a daemon until SIGTERM/SIGINT: poll, drain and reconcile on the configured schedule.

    With --listen (or webhooks.listen), survey-response webhooks are stored as they arrive and
    routed at once; polling goes on as the safety net. On a signal the listener stops taking
    requests, the batch in flight is finished and recorded, leases are released, exit 0.
    """
    from sync.app.receiver import Receiver
    from sync.app.report import unfinished_backfill_warnings
    from sync.app.runtime import open_store
    from sync.app.scheduler import Daemon
    from sync.core.logs import configure
    from sync.core.retry import StoppedError

    configure(log_level)
    config = load(config_path)
    address = listen or config.webhooks.listen
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # until the daemon installs its own
        signal.signal(signum, lambda *_: stop.set())
    store = open_store(config)
    receiver = None
    try:
        if address:  # webhooks are taken into the store while the connectors still connect
            receiver = Receiver.open(config, store, address)
            receiver.listener.start()
        try:
            engine = build_engine(config, patient=stop.wait, store=store)
        except StoppedError:
            return  # asked to stop before anything started: nothing to finish
        backfilling = store.backfills.range_iso()
        for line in unfinished_backfill_warnings(store.inbox.importing_count(), backfilling):
            logging.getLogger("sync.commands.run").warning("%s", line)
        observe = receiver.observe if receiver is not None else None
        daemon = Daemon(engine, config.schedule, on_report=observe, views=config.views)
        if receiver is not None:
            receiver.attach(daemon)
        daemon.run(stop_asked=stop)
    finally:
        if receiver is not None:
            receiver.listener.stop()
        store.close()


@click.command("demo")
@click.option("--accounts", default=300, show_default=True, help="Accounts in the seed data.")
@click.option("--responses", default=1500, show_default=True, help="Survey responses to sync.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated data.")
def demo_command(accounts: int, responses: int, seed: int) -> None:
    """Run the whole loop against built-in emulators of Salesforce, Zendesk and Delighted.

    Starts the emulators on 127.0.0.1, seeds a book of business with a year of survey responses
    up to today, runs one full sync, which acts only on the recent ones (the rest is history),
    and then a second one, which must find nothing left to do.
    """
    from datetime import UTC, datetime

    from rich.console import Console

    from emulators.world import LIVE_JOBS, EmulatedWorld
    from rules import load_rules
    from sync.app.engine import Engine
    from sync.app.report import print_history_note, print_problems, report_table
    from sync.app.runtime import connect_all, open_store
    from sync.core.config import Config
    from sync.core.config.checks import rules_against
    from sync.core.errors import PartialFailureError
    from sync.core.logs import configure

    configure("ERROR")
    console = Console()
    with (
        tempfile.TemporaryDirectory(prefix="nps-sync-demo-") as tmp,
        EmulatedWorld(
            seed=seed,
            accounts=accounts,
            responses=responses,
            end=datetime.now(UTC).replace(microsecond=0),
            zendesk_options=LIVE_JOBS,
        ) as world,
    ):
        config = Config.model_validate(world.config_data(state_url=f"sqlite:///{tmp}/state.db"))
        console.print(
            f"Emulators on 127.0.0.1: {len(world.book.accounts)} accounts, "
            f"{len(world.book.contacts)} contacts, {len(world.book.responses)} survey responses "
            "over the year up to today."
        )
        store = open_store(config)
        ruleset = load_rules(config.rules, check=rules_against(config))
        reports = []
        for name in ("first sync", "second sync"):
            engine = Engine(config, store, connect_all(config), ruleset)
            with console.status(f"Running the {name}..."):
                reports.append((name, engine.run_once()))
        console.print(report_table(reports, title="nps-sync demo"))
        print_problems(console, reports[0][1])
        first, second = reports[0][1], reports[1][1]
        print_history_note(console, config, first)
        if first.errors or second.errors:
            raise PartialFailureError("the demo sync reported errors (see above)")
        if first.skipped_unexpected or second.skipped_unexpected:
            raise PartialFailureError("the demo sync skipped actions the rules do not expect")
        if second.tasks_created or second.tickets_created:
            raise PartialFailureError("the second sync created actions again")
        console.print(
            "The second sync created 0 tasks and 0 tickets: every action happened exactly once."
        )
        store.close()
