"""``rules`` is also the import name of a popular Django package: make sure we run our own."""

from __future__ import annotations

from pathlib import Path

import connectors
import rules
import sync

ROOT = Path(__file__).resolve().parent.parent


def test_packages_resolve_to_this_project() -> None:
    for module in (connectors, rules, sync):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent.parent == ROOT, module.__file__


def test_rules_and_connectors_do_not_import_sync_or_each_other() -> None:
    forbidden = {
        "rules": ("import sync", "from sync", "import connectors", "from connectors"),
        "connectors": ("import sync", "from sync", "import rules", "from rules"),
    }
    offenders = []
    for package, needles in forbidden.items():
        for path in (ROOT / package).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.lstrip().startswith(needles):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
