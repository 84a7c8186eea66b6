"""A template render is bounded in loops, time, output and memory, whatever the template says."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from rules.errors import RenderError
from rules.templates import TemplateSourceError, compile_template

CONTEXT = {"c": "y" * 2000, "n": 3, "arr": 2_500_000, "items": [1, 2, 3]}

# (template, expected refusal) rendered against CONTEXT; each must stop within the ceilings.
REFUSED_AT_RENDER = [
    ("{% for a in c %}{% for b in c %}{% endfor %}{% endfor %}", "loops ran more than 10,000"),
    ("{% for a in c %}{% for b in c %}x{% endfor %}{% endfor %}", "loops ran more than 10,000"),
    ("{% for i in range(99999) %}{% for j in range(9) %}{% endfor %}{% endfor %}", "loops ran"),
    ("{{ 'x' * 1000000000 }}", "'*' was given 1,000,000,000"),
    ("{{ [1] * 1000000000 }}", "'*' was given 1,000,000,000"),
    ("{{ 10 ** 1000000 }}", "exponent of 1,000,000"),
    ("{{ c|center(1000000000) }}", "filter 'center' was given 1,000,000,000"),
    ("{{ c|wordwrap(1000000000) }}", "filter 'wordwrap' was given"),
    ("{{ c.ljust(1000000000) }}", "ljust() was given 1,000,000,000"),
    ("{{ '%0999999999d' % 1 }}", "format width above 100,000"),
    ("{{ '{:>999999999}'.format(1) }}", "format width above 100,000"),
    ("{{ '%0999999999d'|format(1) }}", "format width above 100,000"),
    ("{{ range(100000)|join(',') }}", "filter 'join' would make 588,889 characters"),
    ("{% for i in range(5000) %}{{ c }}{% endfor %}", "output is longer than 100,000"),
    # Growth that builds its string before any output: refused before it is built.
    ("{{ range(99999)|join('b' * 99999) }}", "filter 'join' would make 9,999,700,002"),
    ("{% set s = 'b' * 99999 %}" + "{% set s = s ~ s %}" * 20 + "{{ s }}", "'~' would make"),
    ("{% set s = 'b' * 99999 %}" + "{% set s = s + s %}" * 20 + "{{ s }}", "'+' would make"),
    ("{% set s = 'b' * 99999 %}{{ s.replace('b', s) }}", "replace() would make"),
    ("{% set s = 'b' * 99999 %}{{ s.join(s|list) }}", "join() would make"),
    ("{{ ('\\n' * 99999)|indent(99999) }}", "filter 'indent' would make"),
    ("{{ ('\\n' * 99999)|indent('y' * 99999) }}", "filter 'indent' would make"),
    ("{{ ('x' * 99999)|replace('x', 'y' * 99999) }}", "filter 'replace' would make"),
    ("{{ 'x'|center(99999)|replace(' ', 'ab' * 49999) }}", "filter 'replace' would make"),
    ("{{ c|replace('y', 'ab' * 99) }}", "filter 'replace' would make 396,000"),
    ("{{ c|wordwrap(2, true, '\\n' * 99999) }}", "filter 'wordwrap' would make"),
    ("{{ ('\\t' * 99999).expandtabs(99999) }}", "expandtabs() would make"),
    ("{{ '{:{}}'.format('x', 10 ** 9) }}", "format width taken from the arguments"),
    ("{{ '%*d'|format(10 ** 9, 1) }}", "format width taken from the arguments"),
]

REFUSED_AT_COMPILE = [
    ("{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}", "macros are not supported"),
    ("{% call range(3) %}x{% endcall %}", "call blocks are not supported"),
    ("{% for i in items recursive %}{{ loop(items) }}{% endfor %}", "recursive loops"),
    ("{% set ns = namespace(s='a') %}{{ ns.s }}", "namespace() is not supported"),
]

ALLOWED = [
    ("NPS {{ n }}: {{ '{:,}'.format(arr) }}", "NPS 3: 2,500,000"),
    ("{% for x in items %}{{ loop.index }}:{{ x }} {% endfor %}", "1:1 2:2 3:3 "),
    ("{{ c[:5]|upper }}{{ c|truncate(8) }}", "YYYYYyyyyy..."),
    ("{{ '%05d' % n }} {{ (arr / 1000)|round|int }}k", "00003 2500k"),
    ("{{ 'NPS ' ~ n ~ ': ' ~ c[:3] }} {{ items|join(', ') }}", "NPS 3: yyy 1, 2, 3"),
    ("{{ '{{x}} {}'.format(n) }} {{ '100%% of %d'|format(n) }}", "{x} 3 100% of 3"),
    ("{{ c[:6]|replace('y', 'ab', 2) }} {{ c[:7]|wordwrap(3, true, '|') }}", "ababyyyy yyy|yyy|y"),
    ("{{ 'a\\nb'|indent('> ', true) }}", "> a\n> b"),
]

SECONDS = 3.0
MEGABYTES = 20


def _render(source: str) -> tuple[str, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        return compile_template(source).render(CONTEXT), *_spent(started)
    finally:
        tracemalloc.stop()


def _spent(started: float) -> tuple[float, float]:
    return time.perf_counter() - started, tracemalloc.get_traced_memory()[1] / 1e6


@pytest.mark.parametrize(("source", "reason"), REFUSED_AT_RENDER)
def test_a_runaway_render_stops_with_a_reason(source: str, reason: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(RenderError, match=re.escape(reason)):
            compile_template(source).render(CONTEXT)
        seconds, megabytes = _spent(started)
    finally:
        tracemalloc.stop()
    assert seconds < SECONDS
    assert megabytes < MEGABYTES


@pytest.mark.parametrize(("source", "reason"), REFUSED_AT_COMPILE)
def test_constructs_that_grow_without_a_loop_are_refused(source: str, reason: str) -> None:
    with pytest.raises(TemplateSourceError, match=re.escape(reason)):
        compile_template(source)


@pytest.mark.parametrize(("source", "expected"), ALLOWED)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    text, seconds, _ = _render(source)
    assert text == expected
    assert seconds < SECONDS


def test_the_loop_budget_is_per_render() -> None:
    template = compile_template("{% for i in range(6000) %}{% endfor %}ok")
    assert [template.render({}) for _ in range(3)] == ["ok", "ok", "ok"]


def test_rules_check_on_nested_loops_returns_quickly_with_the_position() -> None:
    bad = Path(__file__).parents[2] / "rules" / "testdata" / "template_nested_loops.yaml"
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own CLI on a file of the test suite
        [sys.executable, "-c", "from sync.cli import main; main()", "rules", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.perf_counter() - started < 30
    assert done.returncode == 1
    assert f"{bad}:5:14: template fails on a 32,000-character comment" in done.stderr
