"""The rules package stands alone (no engine, connector or emulator imports at run time) and the
routing benchmark's synthetic workload really exercises the whole rule list."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from rules.loader import parse_rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is not an installed package
    return importlib.import_module("bench.synthetic_rules")


def test_importing_the_rules_package_loads_no_engine_connector_or_emulator() -> None:
    code = (
        "import sys, rules, rules.cases, rules.schema, rules.loader, rules.router\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('sync', 'connectors', 'emulators'))\n"
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


def test_synthetic_rules_parse_with_a_closing_catch_all(synthetic: ModuleType) -> None:
    ruleset = parse_rules(synthetic.synthetic_rules(100), "bench.yaml")
    assert len(ruleset.rules) == 100
    assert ruleset.rules[-1].name == "catch-all"
    assert [rule.name for rule in ruleset.rules[:3]] == ["rule-0", "rule-1", "rule-2"]


def test_synthetic_responses_reach_rules_all_along_the_list(synthetic: ModuleType) -> None:
    # A workload that only ever reached the catch-all would measure nothing but the fail-fast
    # path; the responses must stop at real rules from the start to the end of the list.
    ruleset = parse_rules(synthetic.synthetic_rules(100), "bench.yaml")
    hits: Counter[int] = Counter()
    continued = 0
    for fields in synthetic.synthetic_responses(2000, 100):
        decision = ruleset.route(fields)
        assert decision.matches, fields  # the catch-all guarantees a decision
        assert not decision.matches[-1].continues
        continued += len(decision.matches) - 1
        hits.update(match.index for match in decision.matches)
    real = {index for index in hits if index < 99}
    assert len(real) >= 30
    assert min(real) < 25
    assert max(real) >= 75
    assert continued > 0  # the `continue: true` rules are reached too
    assert synthetic.synthetic_responses(50, 100) == synthetic.synthetic_responses(50, 100)


def test_route_throughput_times_the_routing(synthetic: ModuleType) -> None:
    rate = synthetic.route_throughput(n_rules=10, n_responses=200)
    assert 0 < rate < math.inf
