"""The sandbox's directory: a config that points every command at the local emulators.

``nps-sync sandbox`` starts the emulators on fixed loopback ports and calls :func:`prepare`, which
writes into the directory the admin chose:

- ``nps-sync.yaml``: the config, checked by the same loader every command uses; its
  ``loopback_routes`` send the public Salesforce, Zendesk and Delighted hosts to the emulators;
- ``secrets/``: one file per credential, holding the emulators' dummy values (they accept these
  and nothing else), referenced as ``{file: ...}`` like any production secret;
- ``rules.yaml``: a copy of the default rules, to edit while the daemon runs; an existing one is
  kept, since it holds the admin's edits;
- ``state.db``: the SQLite state, emptied at each start, because the emulators start from their
  seed each time and a state that remembers records they no longer hold would mislead.

The config is written again at each start (with the ports in use), so one written once keeps
working as long as the sandbox is started with the same ports.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sync.core.config import load_config

#: Which file each emulator credential goes to, by the environment variable the world names.
SECRET_FILES: Mapping[str, str] = {
    "NPS_DEMO_SF_PASSWORD": "salesforce-password",
    "NPS_DEMO_SF_TOKEN": "salesforce-security-token",
    "NPS_DEMO_ZD_TOKEN": "zendesk-api-token",
    "NPS_DEMO_DELIGHTED_KEY": "delighted-api-key",
    "NPS_DEMO_TYPEFORM_TOKEN": "typeform-token",
    "NPS_DEMO_TYPEFORM_SECRET": "typeform-webhook-secret",
}

HEADER = """\
# nps-sync sandbox: every system below is a local emulator that `nps-sync sandbox` runs on
# 127.0.0.1. Written by `nps-sync sandbox` at each start; edit rules.yaml, not this file.
#
# loopback_routes sends the real clients' requests for the public hosts to the emulators. It
# exists for the sandbox, the demo and the tests, and accepts loopback addresses only: a
# production config has no loopback_routes.
#
# The secret files under secrets/ hold emulator-only dummy values (the emulators accept these
# and nothing else); real credentials never belong there.
"""


@dataclass(frozen=True)
class SandboxFiles:
    """Where the sandbox's files are."""

    directory: Path
    config: Path
    rules: Path
    state: Path
    rules_kept: bool
    """True when an existing rules.yaml (the admin's edits) was kept as it was."""


def prepare(
    directory: Path,
    config_data: Mapping[str, Any],
    secrets: Mapping[str, str],
    default_rules: Path,
    schedule: Mapping[str, Any],
) -> SandboxFiles:
    """Write the sandbox's files; ``config_data`` is the world's config mapping, ``secrets`` its
    environment variable -> dummy value."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    rules = directory / "rules.yaml"
    rules_kept = rules.exists()
    if not rules_kept:
        shutil.copyfile(default_rules, rules)
    secret_dir = directory / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    for variable, value in secrets.items():
        _write_private(secret_dir / SECRET_FILES[variable], value + "\n")
    state = directory / "state.db"
    for leftover in (state, state.with_name("state.db-wal"), state.with_name("state.db-shm")):
        leftover.unlink(missing_ok=True)
    data = _as_files(dict(config_data), secret_dir)
    data["state"] = {"url": "sqlite:///state.db"}
    data["rules"] = "rules.yaml"
    data["schedule"] = dict(schedule)
    config = directory / "nps-sync.yaml"
    yaml = YAML()
    yaml.width = 4096  # a long path stays on its line
    with config.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        yaml.dump(_ordered(data), out)
    load_config(config)  # the file every command will read: refuse to hand out a broken one
    return SandboxFiles(directory, config, rules, state, rules_kept)


def _as_files(data: dict[str, Any], secret_dir: Path) -> dict[str, Any]:
    """Every ``{env: NAME}`` secret of the world's config as ``{file: PATH}`` (another shell
    that runs ``nps-sync`` does not have the sandbox's environment)."""

    def swap(node: Any) -> Any:
        if isinstance(node, Mapping):
            if set(node) == {"env"} and node["env"] in SECRET_FILES:
                return {"file": str(secret_dir / SECRET_FILES[node["env"]])}
            return {key: swap(value) for key, value in node.items()}
        if isinstance(node, list):
            return [swap(item) for item in node]
        return node

    swapped: dict[str, Any] = swap(data)
    return swapped


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """The sections in the order an admin reads them; the loopback routes last."""
    first = ("state", "schedule", "sources", "salesforce", "zendesk", "rules")
    ordered = {key: data[key] for key in first if key in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered and k != "loopback_routes"})
    ordered["loopback_routes"] = data.get("loopback_routes", {})
    return ordered


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only, as the project's secret files should be."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)
