"""The rules package stands alone: no engine or connector imports, usable in bench/."""

from __future__ import annotations

import subprocess
import sys

from rules.bench import route_throughput, synthetic_rules
from rules.loader import parse_rules


def test_rules_imports_neither_sync_nor_connectors() -> None:
    code = (
        "import sys, rules, rules.bench, rules.cases, rules.schema\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sync', 'connectors'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_the_rules_command_group_imports_the_rules_package_lazily() -> None:
    code = "import sys, sync.commands.rules\nprint('rules' in sys.modules)\n"
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_synthetic_bench_rules_are_valid_and_throughput_is_reported() -> None:
    assert len(parse_rules(synthetic_rules(100), "bench.yaml").rules) == 100
    assert route_throughput(n_rules=10, n_responses=200) > 0
