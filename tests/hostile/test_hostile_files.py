"""Hostile rules, cases and config files, each through the CLI that reads it.

Every file ends in a diagnostic naming the file (and line where there is one) or is accepted,
within its ceiling of CPU seconds and megabytes, and never with a traceback. Rules and cases files
go through ``nps-sync rules check`` / ``rules test`` (the same loader the daemon uses at start and
on reload); config files through ``nps-sync sync -c``, which stops at the loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.conftest import Measured, no_crash, run_measured, write

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES = ROOT / "rules/examples/default.yaml"

#: Ceilings of every file case: a rules check starts in ~0.3 s and ~45 MB; the slowest hostile
#: file (YAML nested thousands deep) is refused in ~4 s.
SECONDS = 10.0
MEGABYTES = 150.0

TASK = "{type: salesforce_task, owner: account_owner, subject: x, due_in: 1d"


def rules_with(*, description: str = "x", when: str = "", name: str = "r") -> str:
    condition = f"\n    when: {when}" if when else ""
    return (
        "version: 1\nactions:\n"
        f"  t: {TASK}, description: {description!r}}}\n"
        f"rules:\n  - name: {name}{condition}\n    actions: [t]\n"
    )


def alias_bomb(prefix: str = "version: 1\n") -> str:
    lines = [prefix + 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    lines = ["version: 1", "m0: &m0 {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x}"]
    for level in range(1, 9):
        refs = ", ".join(f"s{i}: *m{level - 1}" for i in range(9))
        lines.append(f"m{level}: &m{level} {{{refs}}}")
    return "\n".join(lines) + "\n"


def deep(prefix: str = "version: 1\n") -> str:
    return prefix + "x: " + "[" * 20_000 + "]" * 20_000 + "\n"


MINIMAL_CONFIG = f"""\
salesforce:
  instance_url: https://acme.my.salesforce.com
zendesk:
  subdomain: acme
rules: {DEFAULT_RULES}
"""


@dataclass(frozen=True)
class FileCase:
    """A hostile file, the command that reads it, and what it must end with."""

    name: str
    content: Callable[[], bytes | str]
    kind: str  # rules | cases | config
    code: int
    expect: str  # a substring of the output ("" for an accepted file)


RULES_CASES = [
    FileCase("alias bomb", alias_bomb, "rules", 1, "expands to more than 100,000 values"),
    FileCase("merge-key bomb", merge_bomb, "rules", 1, "expands to more than 100,000 values"),
    FileCase("nested 20,000 deep", deep, "rules", 1, "nested too deeply"),
    FileCase("NUL byte", lambda: "version: 1\x00\n", "rules", 1, "unacceptable character"),
    FileCase("UTF-16", lambda: "version: 1\nrules: []\n".encode("utf-16"), "rules", 1,
             "not UTF-8"),
    FileCase("latin-1 name", lambda: rules_with().replace("name: r", "name: caf\xe9").encode(
        "latin-1"), "rules", 1, "not UTF-8"),
    FileCase("invalid UTF-8 bytes", lambda: b"version: 1\n\xff\xfe\xc0\xaf: x\n", "rules", 1,
             "not UTF-8"),
    FileCase("UTF-8 BOM", lambda: b"\xef\xbb\xbf" + rules_with().encode(), "rules", 0, "ok"),
    FileCase("CRLF line ends", lambda: rules_with().replace("\n", "\r\n"), "rules", 0, "ok"),
    FileCase("CR line ends", lambda: rules_with().replace("\n", "\r"), "rules", 0, "ok"),
    FileCase("3 MB file", lambda: "version: 1\n" + "# x\n" * 800_000, "rules", 1,
             "the limit is 2,000,000"),
    FileCase("slow regexes", lambda: rules_with(
        when="{any: [{comment: {regex: '(a+)+$'}}, {comment: {regex: '.*.*x$'}}, "
             "{comment: {regex: 'a*a*a*a*a*b'}}, {comment: {regex: '(x+x+)+y'}}]}"),
        "rules", 0, "ok"),
    FileCase("backreference regex", lambda: rules_with(
        when="{comment: {regex: '(a)\\1'}}"), "rules", 1, "rules.yaml:"),
    FileCase("lookbehind regex", lambda: rules_with(
        when="{comment: {regex: '(?<=a)b'}}"), "rules", 1, "rules.yaml:"),
    FileCase("nested template loops", lambda: rules_with(
        description="{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}"
                    "{% endfor %}"), "rules", 1, "loops ran more than"),
    FileCase("loops over the comment", lambda: rules_with(
        description="{% for a in response.comment %}{% for b in response.comment %}"
                    "{% endfor %}{% endfor %}"), "rules", 1, "loops ran more than"),
    FileCase("template output of a gigabyte", lambda: rules_with(
        description="{{ 'x' * 1000000000 }}"), "rules", 1, "1,000,000,000"),
    FileCase("template power", lambda: rules_with(description="{{ 10 ** 1000000 }}"), "rules",
             1, "exponent"),
    FileCase("template recursion", lambda: rules_with(
        description="{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"), "rules", 1,
        "macros are not supported"),
    FileCase("template join of a range", lambda: rules_with(
        description="{{ range(100000)|join(',') }}"), "rules", 1, "would make 588,889 characters"),
    FileCase("10,000-character rule name", lambda: rules_with(name="r" * 10_000), "rules", 1,
             "invalid name"),
    FileCase("2,000 rules", lambda: rules_with(when="{category: detractor}") + "".join(
        f"  - name: r{i}\n    when: {{score: {{eq: {i % 11}}}}}\n    actions: [t]\n"
        for i in range(2000)), "rules", 0, "ok"),
    FileCase("empty file", lambda: b"", "rules", 1, "rules.yaml"),
    FileCase("binary garbage", lambda: bytes(range(256)) * 64, "rules", 1, "not UTF-8"),
    FileCase("a mapping key of 100,000 characters", lambda: "version: 1\n" + "k" * 100_000 +
             ": x\n", "rules", 1, "rules.yaml:"),
    FileCase("cases alias bomb", lambda: alias_bomb(prefix=""), "cases", 1, "expands"),
    FileCase("cases nested deep", lambda: deep(prefix=""), "cases", 1, "nested too deeply"),
    FileCase("cases NUL byte", lambda: "- response: {score: 3}\x00\n", "cases", 1,
             "unacceptable character"),
    FileCase("config alias bomb", lambda: alias_bomb(prefix=MINIMAL_CONFIG), "config", 2,
             "expands to more than 100,000 values"),
    FileCase("config nested deep", lambda: deep(prefix=MINIMAL_CONFIG), "config", 2,
             "nested too deeply"),
    FileCase("config UTF-16", lambda: MINIMAL_CONFIG.encode("utf-16"), "config", 2,
             "nps-sync.yaml"),
    FileCase("config NUL byte", lambda: MINIMAL_CONFIG + "\x00\n", "config", 2,
             "unacceptable character"),
    FileCase("config source name of 10,000 characters", lambda: MINIMAL_CONFIG +
             "sources:\n  - {type: file, path: x.csv, name: " + "n" * 10_000 + "}\n", "config",
             2, "at most 100 characters"),
    FileCase("config wildcard alias domain", lambda: MINIMAL_CONFIG.replace(
        "  instance_url: https://acme.my.salesforce.com\n",
        "  instance_url: https://acme.my.salesforce.com\n  matching:\n"
        "    account_aliases: {'*.acme.com': Acme}\n"), "config", 2, "plain domains"),
]  # fmt: skip


def run_case(case: FileCase, tmp_path: Path) -> Measured:
    if case.kind == "rules":
        path = write(tmp_path / "rules.yaml", case.content())
        return run_measured("rules", "check", str(path), timeout=60)
    if case.kind == "cases":
        path = write(tmp_path / "default.cases.yaml", case.content())
        return run_measured("rules", "test", str(DEFAULT_RULES), str(path), timeout=60)
    path = write(tmp_path / "nps-sync.yaml", case.content())
    return run_measured("sync", "-c", str(path), timeout=60)


@pytest.mark.parametrize("case", RULES_CASES, ids=[c.name for c in RULES_CASES])
def test_a_hostile_file_ends_in_a_reason_within_its_ceiling(case: FileCase, tmp_path: Path) -> None:
    result = run_case(case, tmp_path)
    no_crash(result)
    assert result.code == case.code, result.output[-2000:]
    assert case.expect in result.output, result.output[-2000:]
    if case.code != 0:  # the diagnostic names the file it is about
        assert tmp_path.name in result.output or "nps-sync.yaml" in result.output
    assert result.within(SECONDS, MEGABYTES), (result.seconds, result.megabytes)
    print(f"\n{case.name}: {result.seconds} CPU s, {result.megabytes} MB")


def test_the_file_corpus_is_large_enough() -> None:
    assert len(RULES_CASES) >= 30
