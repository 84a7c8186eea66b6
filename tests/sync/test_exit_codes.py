"""Exit codes per error tier, through the real command line (click's CliRunner)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from connectors.errors import ConfigError, ConnectorError, DeferError, RecordError, RetryableError
from rules import EXAMPLES_DIR
from sync.cli import Main, main
from sync.core.errors import (
    ConfigFileError,
    PartialFailureError,
    UnavailableError,
)

DEFAULT_RULES = EXAMPLES_DIR / "default.yaml"


@pytest.mark.parametrize(
    ("error", "code", "stderr"),
    [
        (PartialFailureError("2 records failed"), 1, "Error: 2 records failed\n"),
        (PartialFailureError(), 1, ""),
        (RecordError("bad value", system="salesforce"), 1, "Error: salesforce: bad value\n"),
        (
            ConfigFileError("nps.yaml: cannot read config"),
            2,
            "Error: nps.yaml: cannot read config\n",
        ),
        (UnavailableError("try later"), 75, "Error: try later\n"),
        (
            UnavailableError("try later", fix="wait"),
            75,
            "Error: try later\nFix: wait\n",
        ),
        (
            RetryableError(
                "cannot connect to acme.zendesk.com: connection refused", system="zendesk"
            ),
            75,
            "Error: zendesk: cannot connect to acme.zendesk.com: connection refused\nFix: check "
            "that this machine reaches the host named above (DNS, proxy, firewall) and that it "
            "is up, then run again; `nps-sync check -c CONFIG` tries every connection\n",
        ),
        (
            DeferError("daily quota spent", system="salesforce"),
            75,
            "Error: salesforce: daily quota spent\nFix: salesforce refuses work for now (rate "
            "limit or daily API quota); run again later, `nps-sync run` waits by itself\n",
        ),
        (
            ConfigError("401 invalid token", system="zendesk"),
            78,
            "Error: zendesk: 401 invalid token\nFix: check the zendesk settings and credentials "
            "in the config file (and the variables or files its secrets name); `nps-sync check "
            "-c CONFIG` lists each problem\n",
        ),
        (ConnectorError("odd answer", system="zendesk"), 1, "Error: zendesk: odd answer\n"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_tier_ends_the_command_with_its_code(error: Exception, code: int, stderr: str) -> None:
    @click.group(cls=Main)
    def cli() -> None:
        pass

    @cli.command("fail")
    def fail() -> None:
        raise error

    result = CliRunner().invoke(cli, ["fail"])
    assert (result.exit_code, result.stderr) == (code, stderr)


def test_a_bug_is_not_mistaken_for_a_tier() -> None:
    @click.group(cls=Main)
    def cli() -> None:
        pass

    @cli.command("fail")
    def fail() -> None:
        raise KeyError("bug")

    result = CliRunner().invoke(cli, ["fail"])
    assert result.exit_code == 1
    assert isinstance(result.exception, KeyError)


def write(tmp_path: Path, text: str, name: str = "nps-sync.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = """\
salesforce:
  instance_url: https://acme.my.salesforce.com
  auth: {{method: session, session_id: {{env: NPS_TEST_SF_SESSION}}}}
zendesk:
  subdomain: acme
  auth: {{email: agent@acme.example, token: {{env: NPS_TEST_ZD_TOKEN}}}}
rules: {rules}
state: {{url: "sqlite:///state.db"}}
loopback_routes:
  https://acme.my.salesforce.com: http://127.0.0.1:9
  https://acme.zendesk.com: http://127.0.0.1:9
"""


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        [str(a) for a in args],
        env={"NPS_TEST_SF_SESSION": "session", "NPS_TEST_ZD_TOKEN": "token", "COLUMNS": "200"},
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize("command", [["status"], ["sync"], ["failed", "list"], ["check"]])
def test_an_invalid_config_exits_2_with_its_diagnostics(tmp_path: Path, command: list[str]) -> None:
    config = write(tmp_path, CONFIG.format(rules=DEFAULT_RULES) + "batch_sise: 100\n")
    code, stderr = run(*command, "-c", config)
    assert code == 2
    hint = "did you mean 'batch_size'?"
    assert stderr == f"{config}:12:1: unknown key 'batch_sise' in the config file; {hint}\n"


def test_an_invalid_rules_file_named_by_the_config_exits_2(tmp_path: Path) -> None:
    rules = write(
        tmp_path, "version: 1\nactions: {}\nrules:\n  - name: x\n    actons: []\n", "r.yaml"
    )
    config = write(tmp_path, CONFIG.format(rules=rules))
    code, stderr = run("sync", "-c", config)
    assert code == 2
    assert stderr.startswith(f"{rules}:5:5: unknown key 'actons'")


def test_a_usage_error_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path, CONFIG.format(rules=DEFAULT_RULES))
    assert run("failed", "retry", "-c", config)[0] == 2
    code, output = run("run", "-c", config, "--log-level", "bogus")
    assert code == 2
    assert "'bogus' is not one of" in output
    assert "Traceback" not in output


def test_a_missing_secret_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path, CONFIG.format(rules=DEFAULT_RULES).replace("NPS_TEST_SF", "UNSET_SF"))
    code, stderr = run("sync", "-c", config)
    assert code == 2
    assert stderr == (
        "Error: salesforce.auth.session_id: environment variable UNSET_SF_SESSION is not set\n"
        "Fix: export UNSET_SF_SESSION in the environment nps-sync runs in, or name another "
        "variable or a file in the config\n"
    )


def test_unreachable_systems_exit_75(tmp_path: Path) -> None:
    config = write(tmp_path, CONFIG.format(rules=DEFAULT_RULES))
    code, stderr = run("sync", "-c", config)
    assert code == 75
    assert (
        "Error: a system is unavailable for now: the work that needs it waits for the next pass\n"
        in stderr
    )
    assert stderr.endswith("run again later, `nps-sync run` retries by itself\n")


def test_a_rules_check_that_finds_problems_exits_1(tmp_path: Path) -> None:
    rules = write(tmp_path, "version: 1\nactions: {}\nrules: []\nextra: 1\n", "r.yaml")
    assert run("rules", "check", rules)[0] == 1


def test_rules_that_conflict_with_the_config_exit_2(tmp_path: Path) -> None:
    rules = Path(__file__).parent / "config_testdata" / "rules" / "email_without_smtp.yaml"
    config = write(tmp_path, CONFIG.format(rules=rules))
    code, stderr = run("sync", "-c", config)
    assert code == 2
    assert stderr.startswith(f"{rules}:5:14: action 'tell_cx' sends email, but the config has no")


def test_a_connector_error_is_tiered_without_loading_the_text_model() -> None:
    """The error path of every command stays light: telling a tier loads no numpy."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from connectors.errors import DeferError\n"
        "from sync.core.errors import exit_code\n"
        "print(exit_code(DeferError('later', system='zendesk')), 'numpy' in sys.modules)\n"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["75", "False"]
