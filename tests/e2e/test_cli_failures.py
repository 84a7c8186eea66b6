"""Every command against every failure an admin should expect, in one table, through the real
command line against the emulators: the exit code of the failure's tier (2 config or usage, 75
unavailable for now, 78 refused, 1 a check that found problems), never a traceback, and a
message that names the host or the file and says what to do.

The daemon (``run``) appears only where it must stop at start-up: an unreachable or rate-limited
system at start-up is waited out by design (``tests/reliability/test_rel_startup.py``).
Timeouts are short and the worlds tiny, so the whole table runs in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from emulators.base import Fault
from emulators.world import EmulatedWorld
from rules import EXAMPLES_DIR
from sync.cli import main
from tests.support import acting_on_the_seeded_year, closed_port

#: Commands that take a config file, by the name the table uses.
COMMANDS: dict[str, tuple[str, ...]] = {
    "sync": ("sync",),
    "run": ("run",),
    "status": ("status",),
    "failed list": ("failed", "list"),
    "unmatched": ("unmatched",),
    "check": ("check",),
    "backfill": ("backfill", "--since", "2025-01-01"),
    "fields setup": ("fields", "setup"),
    "fields reconcile": ("fields", "reconcile"),
    "explain account": ("explain", "account", "001000000000001AAA"),
    "explain segments": ("explain", "segments"),
    "rules explain": ("rules", "explain", "r-1"),
    "rules replay": ("rules", "replay"),
    "state check": ("state", "check"),
    "text themes": ("text", "themes"),
}
EVERY_COMMAND = tuple(COMMANDS)
#: Commands that open the state database.
STATEFUL = tuple(c for c in COMMANDS if c not in ("check", "fields setup", "state check"))

LOGIN_HOST = "login.salesforce.com"
REACH_FIX = "Fix: check that this machine reaches the host named above"
CREDENTIALS_FIX = "Fix: check the salesforce settings and credentials in the config file"


@dataclass(frozen=True)
class Case:
    command: str
    failure: str
    code: int
    #: Fragments the output must hold: the host or file, and the fix. ``{dir}`` is the case's
    #: folder, ``{port}`` the closed port of the scenario.
    says: tuple[str, ...]


def cases(
    failure: str, code: int, commands: tuple[str, ...], *says: str, **exceptions: int
) -> list[Case]:
    """One case per command; ``exceptions`` give other codes by command (spaces as _)."""
    return [Case(c, failure, exceptions.get(c.replace(" ", "_"), code), says) for c in commands]


NETWORK = ("sync", "check", "backfill", "fields reconcile")
TABLE: list[Case] = [
    *cases("unreachable", 75, NETWORK, f"cannot connect to {LOGIN_HOST}", "reaches", check=1),
    *cases(
        "bad credentials",
        78,
        ("sync", "run", "check", "backfill", "fields reconcile"),
        f"{LOGIN_HOST} refused the login: INVALID_LOGIN",
        "credentials",
        check=1,
    ),
    Case("sync", "zendesk rate limit", 75, ("acme.zendesk.com answered 429", "run again later")),
    Case("check", "zendesk rate limit", 1, ("acme.zendesk.com answered 429", "run the check")),
    Case(
        "sync",
        "salesforce quota spent",
        75,
        ("REQUEST_LIMIT_EXCEEDED", "out of API quota); run again later"),
    ),
    Case("check", "salesforce quota spent", 1, ("REQUEST_LIMIT_EXCEEDED", "allowance")),
    Case("backfill", "salesforce quota spent", 75, ("REQUEST_LIMIT_EXCEEDED", "again later")),
    *cases(
        "missing config",
        2,
        EVERY_COMMAND,
        "{dir}/absent.yaml does not exist",
        "--config PATH",
    ),
    *cases(
        "invalid config",
        2,
        EVERY_COMMAND,
        "{dir}/nps-sync.yaml:",
        "unknown key 'batch_sise' in the config file; did you mean 'batch_size'?",
    ),
    *cases(
        "missing rules",
        2,
        ("sync", "run", "check", "rules explain", "rules replay"),
        "{dir}/absent-rules.yaml: cannot read file",
        "check the path",
        check=1,
    ),
    *cases(
        "missing csv",
        2,
        ("sync", "run", "check", "backfill"),
        "{dir}/absent.csv",
        "path",
        check=1,
    ),
    *cases(
        "state server down",
        75,
        (*STATEFUL, "check", "state check"),
        "state database at 127.0.0.1:{port}",
        "Check that the database server runs",
        check=1,
    ),
    *cases(
        "missing taxonomy",
        2,
        ("sync", "run", "check", "text themes"),
        "text.taxonomy: cannot read {dir}/absent-themes.yaml",
        "put the themes file there",
        check=1,
    ),
    *cases(
        "state file missing",
        2,
        tuple(c for c in STATEFUL if c not in ("sync", "run", "backfill", "fields reconcile")),
        "there is no state database at {dir}/absent.db",
        "nps-sync sync creates it",
    ),
    *cases(
        "state folder missing",
        2,
        (*STATEFUL, "check", "state check"),
        "the folder {dir}/no/such does not exist",
        "Create it",
        check=1,
    ),
]


Change = Callable[[dict[str, Any], Path, int], None]


def _unreachable(data: dict[str, Any], _: Path, port: int) -> None:
    data["loopback_routes"] = dict.fromkeys(data["loopback_routes"], f"http://127.0.0.1:{port}")


def _bad_credentials(data: dict[str, Any], _: Path, __: int) -> None:
    data["salesforce"]["auth"]["password"] = {"env": "NPS_TEST_WRONG_SECRET"}
    data["zendesk"]["auth"]["token"] = {"env": "NPS_TEST_WRONG_SECRET"}


def _missing_csv(data: dict[str, Any], folder: Path, _: int) -> None:
    data["sources"] = [{"type": "file", "name": "export", "path": str(folder / "absent.csv")}]


def _state_server_down(data: dict[str, Any], _: Path, port: int) -> None:
    data["state"] = {"url": f"postgresql+psycopg://nps@127.0.0.1:{port}/nps"}


def _missing_taxonomy(data: dict[str, Any], folder: Path, _: int) -> None:
    data["text"] = {"enabled": True, "taxonomy": str(folder / "absent-themes.yaml")}


def _state_file_missing(data: dict[str, Any], folder: Path, _: int) -> None:
    data["state"] = {"url": f"sqlite:///{folder / 'absent.db'}"}


def _state_folder_missing(data: dict[str, Any], folder: Path, _: int) -> None:
    data["state"] = {"url": f"sqlite:///{folder / 'no' / 'such' / 'state.db'}"}


def _as_it_is(data: dict[str, Any], folder: Path, port: int) -> None:
    """The world itself refuses work (its faults are set up in :func:`worlds`)."""


#: How each failure is written into a healthy config.
CHANGES: dict[str, Change] = {
    "unreachable": _unreachable,
    "bad credentials": _bad_credentials,
    "zendesk rate limit": _as_it_is,
    "salesforce quota spent": _as_it_is,
    "invalid config": lambda data, _, __: data.update(batch_sise=3),
    "missing rules": lambda data, folder, _: data.update(rules=str(folder / "absent-rules.yaml")),
    "missing csv": _missing_csv,
    "state server down": _state_server_down,
    "missing taxonomy": _missing_taxonomy,
    "state file missing": _state_file_missing,
    "state folder missing": _state_folder_missing,
}
#: The world each failure runs against (the healthy one unless named).
WORLD_OF = {"zendesk rate limit": "zendesk", "salesforce quota spent": "quota"}


@pytest.fixture(scope="module")
def worlds() -> Iterator[dict[str, EmulatedWorld]]:
    """A healthy world, and two whose systems refuse work for now."""
    healthy = EmulatedWorld(seed=5, accounts=3, responses=4)
    zendesk_limited = EmulatedWorld(seed=5, accounts=3, responses=4)
    quota_spent = EmulatedWorld(seed=5, accounts=3, responses=4)
    zendesk_limited.zendesk.inject(Fault("429", rate=1.0, retry_after=600))
    quota_spent.salesforce.api_used = quota_spent.salesforce.daily_limit
    with healthy, zendesk_limited, quota_spent:
        yield {"healthy": healthy, "zendesk": zendesk_limited, "quota": quota_spent}


def write_config(
    world: EmulatedWorld, folder: Path, change: Change = _as_it_is, port: int = 0
) -> Path:
    """The world's config with short timeouts and ``change`` written into it."""
    data = world.config_data(state_url=f"sqlite:///{folder / 'state.db'}")
    data["routing"] = acting_on_the_seeded_year()
    data["salesforce"]["timeout_seconds"] = 2
    data["zendesk"]["timeout_seconds"] = 2
    change(data, folder, port)
    path = folder / "nps-sync.yaml"
    with path.open("w", encoding="utf-8") as out:
        YAML().dump(data, out)
    return path


def invoke(*args: str) -> Result:
    env = {"COLUMNS": "1000", "NO_COLOR": "1", "NPS_TEST_WRONG_SECRET": "not-the-secret"}
    return CliRunner().invoke(main, list(args), env=env)


def assert_handled(result: Result, code: int, says: list[str]) -> None:
    """The exit code of the tier, no traceback, and every fragment in the output."""
    shown = f"exit {result.exit_code}:\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output, shown
    assert result.exit_code == code, shown
    for fragment in says:
        assert fragment in result.output, f"{fragment!r} missing from {shown}"


@pytest.mark.parametrize("case", TABLE, ids=lambda c: f"{c.command}|{c.failure}")
def test_every_command_ends_an_expected_failure_with_its_code_and_a_fix(
    case: Case, worlds: dict[str, EmulatedWorld], tmp_path: Path
) -> None:
    port = closed_port()
    if case.failure == "missing config":
        config = tmp_path / "absent.yaml"
    else:
        world = worlds[WORLD_OF.get(case.failure, "healthy")]
        config = write_config(world, tmp_path, CHANGES[case.failure], port)
    args = [*COMMANDS[case.command], "-c", str(config)]
    says = [s.format(dir=tmp_path, port=port) for s in case.says]
    assert_handled(invoke(*args), case.code, says)
    # A command that only reads the state leaves a missing database missing.
    assert case.failure != "state file missing" or not (tmp_path / "absent.db").exists()


#: Commands that take files rather than a config: the file named, and the code.
FILE_CASES = [
    (("rules", "check", "{dir}/absent.yaml"), 1, ["{dir}/absent.yaml: cannot read file"]),
    (
        ("rules", "test", "{dir}/absent.yaml", str(EXAMPLES_DIR / "default.cases.yaml")),
        1,
        ["{dir}/absent.yaml: cannot read file", "check the path"],
    ),
    (
        ("rules", "test", str(EXAMPLES_DIR / "default.yaml"), "{dir}/absent.cases.yaml"),
        1,
        ["{dir}/absent.cases.yaml: cannot read file"],
    ),
    (("rules", "route", "{dir}/absent.yaml", "score=3"), 1, ["{dir}/absent.yaml: cannot read"]),
    (
        ("rules", "route", str(EXAMPLES_DIR / "default.yaml"), "score=high"),
        2,
        ["score is a whole number, got 'high'"],
    ),
    (("demo", "--accounts", "many"), 2, ["'many' is not a valid integer"]),
]


@pytest.mark.parametrize(("args", "code", "says"), FILE_CASES, ids=lambda v: None)
def test_file_commands_name_the_file_without_a_traceback(
    args: tuple[str, ...], code: int, says: list[str], tmp_path: Path
) -> None:
    result = invoke(*(a.format(dir=tmp_path) for a in args))
    assert_handled(result, code, [s.format(dir=tmp_path) for s in says])


def test_metadata_that_cannot_be_written_is_a_usage_error(
    worlds: dict[str, EmulatedWorld], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    config = write_config(worlds["healthy"], tmp_path)
    args = ["fields", "setup", "-c", str(config), "--metadata", str(blocker / "metadata")]
    assert_handled(invoke(*args), 2, [f"cannot write {blocker}", "choose a directory"])


def test_a_state_database_that_refuses_the_settings_exits_78(
    worlds: dict[str, EmulatedWorld], pg_database: str, tmp_path: Path
) -> None:
    """The server answers, but the database state.url names does not exist there."""
    url = pg_database.rsplit("/", 1)[0] + "/nps_sync_no_such_database"

    def change(data: dict[str, Any], _: Path, __: int) -> None:
        data["state"] = {"url": url}

    config = write_config(worlds["healthy"], tmp_path, change)
    for command in ("status", "sync", "state check"):
        result = invoke(*COMMANDS[command], "-c", str(config))
        assert_handled(result, 78, ["refused the connection", "Check the user, password"])


def test_sync_json_says_why_the_pass_did_not_start(
    worlds: dict[str, EmulatedWorld], tmp_path: Path
) -> None:
    """A script reading `sync --json` still gets one document, not an empty stdout."""
    config = write_config(worlds["healthy"], tmp_path, CHANGES["bad credentials"], closed_port())
    result = invoke("sync", "-c", str(config), "--json")
    assert result.exit_code == 78
    document = json.loads(result.stdout)
    assert document["started"] is False
    assert document["exit_code"] == 78
    assert LOGIN_HOST in document["error"]


def test_sync_json_names_every_host_a_pass_could_not_reach(
    worlds: dict[str, EmulatedWorld], tmp_path: Path
) -> None:
    """With no system answering, the pass runs all the same (each stage stops alone), and the
    document's errors name the hosts."""
    config = write_config(worlds["healthy"], tmp_path, CHANGES["unreachable"], closed_port())
    result = invoke("sync", "-c", str(config), "--json")
    assert result.exit_code == 75
    document = json.loads(result.stdout)
    assert (document["started"], document["unavailable"]) == (True, True)
    for host in (LOGIN_HOST, "acme.zendesk.com", "api.delighted.com"):
        assert any(f"cannot connect to {host}" in e for e in document["errors"]), host
