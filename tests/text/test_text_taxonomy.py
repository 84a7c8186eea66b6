"""Taxonomy files: what an admin writes is read as written, and each mistake is reported at its
``file:line:col`` with every other mistake of the file."""

from __future__ import annotations

import pytest

from insights.text import TaxonomyError, Theme, parse_taxonomy


def test_a_taxonomy_is_read_in_file_order_with_whitespace_tidied() -> None:
    taxonomy = parse_taxonomy(
        "themes:\n"
        "  - name: onboarding\n"
        "    description: >\n"
        "      Getting started\n"
        "      and setup\n"
        "    examples: [setup was  confusing]\n"
        "  - name: pricing\n"
        "    description: Price and value\n",
        "t.yaml",
    )
    assert taxonomy.themes == (
        Theme("onboarding", "Getting started and setup", ("setup was confusing",)),
        Theme("pricing", "Price and value", ()),
    )


BAD = [
    ("themes: []\n", ["t.yaml:1:9: 'themes' must be a non-empty list of themes"]),
    ("- a\n", ["t.yaml:1:1: a taxonomy is a mapping with one key, 'themes'"]),
    ("themes: [a: b: c]\n", ["t.yaml:1:14: invalid YAML: expected ',' or ']', but got ':'"]),
    (
        "themes:\n  - name: a\n    description: d\n    exmples: [x]\ntheme: 1\n",
        [
            "t.yaml:4:5: unknown key 'exmples'; did you mean 'examples'?",
            "t.yaml:5:1: unknown key 'theme'; did you mean 'themes'?",
        ],
    ),
    (
        "themes:\n  - name: a\n    description: ''\n  - description: d\n",
        [
            "t.yaml:3:18: 'description' must be non-empty text",
            "t.yaml:4:5: the theme has no 'name'",
        ],
    ),
    (
        "themes:\n  - {name: Billing, description: d}\n  - {name: billing, description: e}\n",
        ["t.yaml:3:12: theme 'billing' is already defined (theme 1)"],
    ),
    (
        "themes:\n  - name: a\n    description: d\n    examples: [ok, 3]\n",
        ["t.yaml:4:20: each example must be non-empty text"],
    ),
    (
        "themes:\n  - name: a\n    description: d\n    examples: [1, null, ok, '']\n",
        [
            "t.yaml:4:16: each example must be non-empty text",
            "t.yaml:4:19: each example must be non-empty text",
            "t.yaml:4:29: each example must be non-empty text",
        ],
    ),
    (
        "themes:\n  - name: a\n    description: d\n    examples: one phrase\n",
        ["t.yaml:4:15: 'examples' must be a list of short phrases"],
    ),
]


BAD += [
    ("themes: " + "[" * 20_000 + "]" * 20_000, ["t.yaml:1:1: invalid YAML: nested too deeply"]),
    (
        "themes:\n  - name: a\n    description: d\n    examples: "
        + "{a: " * 3000
        + "x"
        + "}" * 3000,
        ["t.yaml:1:1: invalid YAML: nested too deeply"],
    ),
    ("# " + "x" * 1_000_000, ["t.yaml:1:1: the file has 1,000,002 characters"]),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_each_mistake_is_reported_where_it_was_written(text: str, expected: list[str]) -> None:
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(text, "t.yaml")
    found = [str(p) for p in caught.value.diagnostics]
    assert len(found) == len(expected)
    assert all(one.startswith(start) for one, start in zip(found, expected, strict=True))
