"""``nps-sync sandbox``: the emulators kept running, and a config pointing every command at them.

Unlike ``demo``, which runs two passes and exits, the sandbox stays in the foreground until
Ctrl-C or SIGTERM, so an admin can try ``sync``, ``run``, ``status``, ``explain`` and rule edits
from another terminal against a believable, seeded Salesforce, Zendesk and Delighted. The
emulators listen on fixed loopback ports (``--port-base``), so the config written once keeps
working each time the sandbox is started again with the same ports.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Iterator

    from emulators.world import EmulatedWorld
    from sync.ops.sandbox import SandboxFiles

#: Salesforce on this port, Zendesk on the next one, Delighted on the one after.
DEFAULT_PORT_BASE = 18640
#: The daemon's schedule in the sandbox: short, so an admin sees passes happen.
SCHEDULE = {"poll_interval_seconds": 30, "drain_interval_seconds": 10}
READY = "Sandbox ready"
#: Answers the sandbox's Typeform form holds at start (``--typeform``).
TYPEFORM_RESPONSES = 200
#: How long a write whose answer was lost is given to show up before it is sent again: the
#: emulators carry a write out before they answer, or (a Zendesk job) within two seconds.
SETTLE_SECONDS = 5.0


#: How often the main thread wakes while it waits: Python runs a signal handler in the main
#: thread only, and one the kernel handed to an emulator's thread would otherwise wait for it.
SIGNAL_CHECK_SECONDS = 0.5


def _ticks(stop: threading.Event, every: float) -> Iterator[None]:
    """A tick ``every`` seconds after the previous one was handled (none when 0), until
    ``stop`` is set."""
    due = time.monotonic() + every if every else math.inf
    while not stop.wait(min(SIGNAL_CHECK_SECONDS, max(due - time.monotonic(), 0.0))):
        if time.monotonic() >= due:
            yield
            due = time.monotonic() + every


@click.command("sandbox")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default="nps-sync-sandbox",
    show_default=True,
    help="Where to write the config, the rules to edit and the state file.",
)
@click.option(
    "--port-base",
    type=click.IntRange(1024, 65533),
    default=DEFAULT_PORT_BASE,
    show_default=True,
    help="Salesforce listens on this port, Zendesk on the next, Delighted on the one after.",
)
@click.option("--accounts", default=300, show_default=True, help="Accounts in the seed data.")
@click.option("--responses", default=1500, show_default=True, help="Survey responses to serve.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated data.")
@click.option(
    "--new-response-every",
    "every",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds between new survey responses, so a running daemon has work (0: none).",
)
@click.option(
    "--webhook-url",
    metavar="URL",
    default=None,
    help="Also POST each new response as a signed Delighted webhook to this URL, e.g. "
    "http://127.0.0.1:8080/webhooks/delighted/delighted for `nps-sync run --listen "
    "127.0.0.1:8080`.",
)
@click.option(
    "--typeform",
    "typeform",
    is_flag=True,
    help="Also serve a Typeform form (on the port after Delighted's) with 200 answers, as a "
    "second source; new responses then alternate between Delighted and Typeform.",
)
@click.option(
    "--typeform-webhook-url",
    metavar="URL",
    default=None,
    help="With --typeform: POST each new Typeform response as a signed webhook to this URL, "
    "e.g. http://127.0.0.1:8080/webhooks/typeform/typeform.",
)
@click.option(
    "--faults",
    "fault_rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    metavar="FRACTION",
    help="Fail this fraction of the requests to each emulator at random, as the real APIs "
    "fail: 429 with Retry-After, 500, 503, a connection reset, an answer lost after the write "
    "took effect (logins are spared). 0: none.",
)
@click.option(
    "--fault-seed",
    type=int,
    default=None,
    help="Seed of the --faults draws: the same requests in the same order meet the same "
    "faults.  [default: --seed]",
)
def sandbox_command(
    directory: Path,
    port_base: int,
    accounts: int,
    responses: int,
    seed: int,
    every: float,
    webhook_url: str | None,
    typeform: bool,
    typeform_webhook_url: str | None,
    fault_rate: float,
    fault_seed: int | None,
) -> None:
    """Start seeded emulators of Salesforce, Zendesk and Delighted and keep them running.

    Writes a working config (DIR/nps-sync.yaml) and a copy of the default rules to edit
    (DIR/rules.yaml, kept if it is there), empties the SQLite state (DIR/state.db), prints how to
    point every command at them, and runs until Ctrl-C or SIGTERM. Exits 75 when one of the
    ports is taken. With --faults, a fraction of the requests fail at random; the faults
    injected are counted when it stops.
    """
    from emulators.world import DEFAULT_RULES, DEMO_ENV, LIVE_JOBS, EmulatedWorld
    from sync.core.errors import UnavailableError
    from sync.ops.sandbox import prepare

    # A year of answers up to today (the start of the day, so a restart the same day serves the
    # same world): the last days' answers are recent enough to act on, the rest is history.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    world = EmulatedWorld(
        seed=seed,
        accounts=accounts,
        responses=responses,
        end=today,
        port_base=port_base,
        typeform_responses=TYPEFORM_RESPONSES if typeform else 0,
        zendesk_options=LIVE_JOBS,
    )
    try:
        world.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        last = port_base + (3 if typeform else 2)
        raise UnavailableError(
            f"a port from {port_base} to {last} is in use (is another sandbox running?); "
            "stop it, or choose other ports with --port-base"
        ) from None
    fault_seed = seed if fault_seed is None else fault_seed
    world.inject_steady_faults(fault_rate, fault_seed)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        secrets = {k: v for k, v in DEMO_ENV.items() if typeform or "TYPEFORM" not in k}
        files = prepare(directory, _config_data(world), secrets, DEFAULT_RULES, SCHEDULE)
        _print_guide(world, files, every, (fault_rate, fault_seed))
        click.echo(f"{READY}; Ctrl-C or SIGTERM stops the emulators.")
        answered = 0
        for _ in _ticks(stop, every):
            answered += 1
            if typeform and answered % 2 == 0:
                token, score = world.respond_on_typeform()
                click.echo(f"new Typeform response {token} (score {score})")
                if typeform_webhook_url:
                    click.echo(f"  webhook: {_send_typeform(world, typeform_webhook_url, token)}")
                continue
            response_id, score = world.respond_again()
            click.echo(f"new survey response {response_id} (score {score})")
            if webhook_url:
                click.echo(f"  webhook: {_send(world, webhook_url, response_id)}")
    finally:
        world.stop()
    if fault_rate:
        click.echo(_faults_summary(world))
    click.echo("Sandbox stopped.")


def _config_data(world: EmulatedWorld) -> dict[str, Any]:
    """The world's config, with the settle windows of its emulators: a write whose answer was
    lost (a fault, a killed client) is looked up again after seconds, not the minutes to an
    hour real systems may take to carry it out, since the emulators do it within seconds."""
    data = world.config_data(state_url="sqlite:///state.db")
    data["salesforce"]["tasks"] = {"settle_seconds": SETTLE_SECONDS}
    data["zendesk"]["tickets"] = {"settle_seconds": SETTLE_SECONDS}
    return data


def _faults_summary(world: EmulatedWorld) -> str:
    """The faults injected so far per emulator, by kind, out of its requests."""
    from emulators.steady_faults import faults_served

    parts = []
    for app in world.apps():
        served = faults_served(app)
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(served.items()))
        parts.append(
            f"{app.system} {sum(served.values())} of {app.total_calls()} requests"
            + (f" ({kinds})" if kinds else "")
        )
    return "Faults injected: " + "; ".join(parts)


def _send(world: EmulatedWorld, url: str, response_id: str) -> str:
    """POST the response's signed webhook; what came back, in a few words."""
    try:
        return f"answered {world.delighted.send_webhook(url, response_id)}"
    except OSError as error:  # the daemon is not listening (yet): polling picks it up
        return f"not delivered ({error}); the next poll pulls it"


def _send_typeform(world: EmulatedWorld, url: str, token: str) -> str:
    """POST the Typeform response's signed webhook; what came back, in a few words."""
    try:
        return f"answered {world.typeform.send_webhook(url, token)}"
    except OSError as error:
        return f"not delivered ({error}); the next poll pulls it"


def _shown(path: Path) -> str:
    """``path`` as the admin would type it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _commented(commands: list[tuple[str, str]]) -> list[str]:
    """Each command under a shell comment saying what it shows, so both can be pasted."""
    return [line for command, what in commands for line in (f"  # {what}", f"  {command}")]


def _print_guide(
    world: EmulatedWorld, files: SandboxFiles, every: float, faults: tuple[float, int]
) -> None:
    from emulators.world import DELIGHTED_HOST, SF_HOST, TYPEFORM_HOST, ZD_HOST

    fault_rate, fault_seed = faults
    routes = world.routes
    book = world.book
    config = _shown(files.config)
    directory = _shown(files.directory) + os.sep
    known = {c.email: c for c in book.contacts}
    example = max(
        (r for r in book.responses if r.score <= 6 and r.email in known),
        key=lambda r: r.created_at,
    )  # the latest detractor: recent enough to have been acted on
    account = known[example.email].account_id
    trickle = f"; a new response every {every:g} s" if every else ""
    kept = "yours, kept from before" if files.rules_kept else "a copy of the default rules"
    opt = f"--config {config}"
    lines = [
        "nps-sync sandbox: emulators of Salesforce, Zendesk and Delighted on 127.0.0.1",
        f"  Salesforce  {routes[SF_HOST]}  (as {SF_HOST})",
        f"  Zendesk     {routes[ZD_HOST]}  (as {ZD_HOST})",
        f"  Delighted   {routes[DELIGHTED_HOST]}  (as {DELIGHTED_HOST})",
        *(
            [
                f"  Typeform    {routes[TYPEFORM_HOST]}  (as {TYPEFORM_HOST}), a form of "
                f"{world.typeform_responses} answers"
            ]
            if TYPEFORM_HOST in routes
            else []
        ),
        f"  {len(book.accounts)} accounts, {len(book.contacts)} contacts, "
        f"{len(book.responses)} survey responses over the year up to today (seed {world.seed})"
        f"{trickle}",
        *(
            [
                f"  faults: {fault_rate:.1%} of the requests to each emulator fail at random "
                f"(429, 500, 503, resets, lost answers; logins spared; seed {fault_seed})"
            ]
            if fault_rate
            else []
        ),
        "",
        f"Files in {directory}",
        "  nps-sync.yaml  the config every command below reads",
        f"  rules.yaml     the routing rules: {kept}; edit them",
        "  state.db       the state, emptied at each start (the emulators start from their seed)",
        "  secrets/       the emulators' dummy credentials, which the config references",
        "",
        "In another terminal:",
        *_commented(
            [
                (f"nps-sync check {opt}", "everything the config names exists"),
                (f"nps-sync sync {opt}", "one pass: pull, match, route, act, write back"),
                (
                    f"nps-sync run {opt}",
                    f"the daemon: a pass every {SCHEDULE['poll_interval_seconds']} s",
                ),
                (
                    f"nps-sync run --listen 127.0.0.1:8080 {opt}",
                    "with webhooks: start the sandbox with --webhook-url "
                    "http://127.0.0.1:8080/webhooks/delighted/delighted",
                ),
                (f"nps-sync status {opt}", "runs, cursors, actions, API budget"),
                (f"nps-sync unmatched {opt}", "the review list"),
                (f"nps-sync failed list {opt}", "actions that failed for good"),
                (f"nps-sync explain account {account} {opt}", "how its NPS was computed"),
                (f"nps-sync rules explain {example.id} {opt}", "why it got its actions"),
                (f"nps-sync rules replay --since 30d {opt}", "what each rule would create"),
            ]
        ),
        "Add --json to status, failed list, unmatched, check, sync, explain and rules",
        "explain/replay for one JSON document on stdout.",
        "",
        f"Rules: while `nps-sync run` is up, edit {_shown(files.rules)}; the daemon takes up a",
        'valid edit at its next pass ("rules reloaded from ..." in its log); an invalid one is',
        "logged as file:line:col and the rules in force stay (`nps-sync status` shows both).",
        "To see what an edit would change first, edit a copy and replay it against the rules",
        "in force:",
        f"  nps-sync rules replay --since 30d --rules my-rules.yaml {opt}",
        "",
    ]
    for line in lines:
        click.echo(line)
