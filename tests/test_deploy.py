"""The deployment examples hold together: the compose file's daemon waits for a healthy database
and is itself checked on /readyz, its config loads, every secret it names has a line in the
example env file; the image runs as a non-root user with the pinned versions; the systemd unit
passes ``systemd-analyze verify``. (No Docker engine runs here: nothing is built or started.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sync.core.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    data = YAML(typ="safe").load((DEPLOY / "compose" / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_daemon_waits_for_postgres_and_is_checked_on_readyz() -> None:
    services = compose()["services"]
    db, daemon = services["db"], services["nps-sync"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert daemon["depends_on"]["db"]["condition"] == "service_healthy"
    port = daemon["command"][daemon["command"].index("--listen") + 1].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/readyz" in " ".join(daemon["healthcheck"]["test"])
    assert f"{port}:{port}" in daemon["ports"]


def test_compose_config_loads_and_its_secrets_have_a_place_in_the_env_file() -> None:
    folder = DEPLOY / "compose"
    config = load_config(folder / "nps-sync.yaml")
    assert config.state.url.startswith("postgresql+psycopg://nps@db:")
    assert config.logging.format == "json"
    mounts = {v.split(":")[1] for v in compose()["services"]["nps-sync"]["volumes"]}
    assert {"/etc/nps-sync/nps-sync.yaml", str(config.rules)} <= mounts
    named = set(re.findall(r"\{env: (\w+)\}", (folder / "nps-sync.yaml").read_text()))
    given = {line.split("=")[0] for line in (folder / "nps-sync.env.example").read_text().split()}
    assert named | {"PGPASSWORD"} <= given


def test_image_runs_unprivileged_with_the_pinned_versions() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.rsplit("\nFROM ", 1)[1]
    user = re.search(r"^USER (\S+)", final, re.MULTILINE)
    assert user is not None
    assert user.group(1).split(":")[0] not in ("root", "0")
    assert "pip install --no-cache-dir -c constraints.txt ." in text
    assert "/readyz" in final


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (DEPLOY / "systemd" / "nps-sync.service").read_text()
    assert "EnvironmentFile=/etc/nps-sync/nps-sync.env" in unit
    script = Path(sys.executable).with_name("nps-sync")  # where the unit's venv would have it
    local = unit.replace("/opt/nps-sync/bin/nps-sync", str(script)).replace(
        "/etc/nps-sync/nps-sync.env", str(DEPLOY / "systemd" / "nps-sync.env.example")
    )
    path = tmp_path / "nps-sync.service"
    path.write_text(local)
    done = subprocess.run(  # noqa: S603 - a system tool on our own file
        [analyze, "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys and bad values are warnings
