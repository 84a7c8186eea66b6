"""Which package may import which, and the four import names are this project's own (the CLI
refuses to run on someone else's).

The import rules are contracts in ``pyproject.toml``, checked by ``lint-imports`` (``make lint``)
and here, so that the test suite alone guards them too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import connectors
import emulators
import rules
import sync
from sync.core.errors import EXIT_REFUSED
from sync.core.install import EXIT_CODE, installation_problem

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603 - the installed dev tool, fixed arguments
        [str(lint_imports), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_packages_resolve_to_this_project() -> None:
    for module in (connectors, emulators, rules, sync):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent.parent == ROOT, module.__file__
    assert installation_problem() is None
    assert EXIT_CODE == EXIT_REFUSED  # a misconfigured environment, as the README's table says


def _cli(args: list[str], pythonpath: Path) -> subprocess.CompletedProcess[str]:
    """The entry point in a fresh interpreter with ``pythonpath`` ahead of the installation."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(pythonpath)
    code = "import sys; from sync.cli import main; sys.exit(main())"
    return subprocess.run(  # noqa: S603 - our own interpreter and entry point
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=pythonpath.parent,  # not the project root, which `-c` would put first on the path
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", ["rules", "connectors", "emulators"])
def test_cli_refuses_to_run_on_a_shadowing_package(tmp_path: Path, name: str) -> None:
    # Another distribution's package of the same name, earlier on the path (as the Django
    # ``rules`` package would be, installed into site-packages ahead of an editable install).
    site = tmp_path / "site"
    (site / name).mkdir(parents=True)
    # Importing it at all (before the check has run) fails the test with a traceback.
    (site / name / "__init__.py").write_text('raise RuntimeError("someone else\'s package")\n')
    result = _cli(["rules", "check", "--help"], site)
    assert result.returncode == EXIT_CODE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"package {name!r} is imported from {site / name}" in lines[0]
    assert "shadows it" in lines[0]
    assert result.stdout == ""


def test_cli_runs_when_nothing_shadows(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "unrelated").mkdir(parents=True)
    (site / "unrelated" / "__init__.py").write_text("")
    result = _cli(["rules", "check", "--help"], site)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("listing", "text"),
    [
        ("top_level.txt", "rules\n"),
        # Wheels from most build backends have no top_level.txt: the file list tells instead.
        ("RECORD", "rules/__init__.py,,\nrules/core.py,,\nrules-3.5.dist-info/METADATA,,\n"),
    ],
)
def test_cli_refuses_to_run_beside_a_distribution_that_installs_the_same_package(
    tmp_path: Path, listing: str, text: str
) -> None:
    # Both installed into one site-packages: the files overwrite each other, so the paths agree
    # and only the other distribution's metadata tells.
    site = tmp_path / "site"
    info = site / "rules-3.5.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rules\nVersion: 3.5\n")
    (info / listing).write_text(text)
    result = _cli(["rules", "check", "--help"], site)
    assert result.returncode == EXIT_CODE, result.stderr
    assert result.stderr.strip() == (
        "nps-sync: package 'rules' of nps-sync is also installed by rules: the two overwrite "
        "each other; uninstall one or use a separate virtual environment"
    )
