"""``resurvey`` actions: read with their defaults, mistakes reported where they were made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules import ResurveyAction, RulesError, parse_rules


def test_a_resurvey_action_is_read_with_its_default_cooldown() -> None:
    ruleset = parse_rules(
        "version: 1\nactions:\n  w: {type: resurvey, after: 14d, properties: {Campaign: x}}\n"
        "rules: []\n",
        "r.yaml",
    )
    action = ruleset.actions["w"]
    assert isinstance(action, ResurveyAction)
    assert (action.after, action.cooldown) == (timedelta(days=14), timedelta(days=90))
    rendered = ruleset.render_action("w", {})
    assert rendered.properties == {"Campaign": "x"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{type: resurvey}", "3:6: missing required key 'after'"),
        (
            "{type: resurvey, after: 2 weeks}",
            "3:30: expected a duration like 30m, 4h, 2d or 1w, got '2 weeks'",
        ),
        (
            "{type: resurvey, after: 1d, cooldwn: 9d}",
            "3:34: unknown key 'cooldwn' in resurvey action; did you mean 'cooldown'?",
        ),
    ],
)
def test_resurvey_mistakes_are_reported_with_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(f"version: 1\nactions:\n  w: {text}\nrules: []\n", "r.yaml")
    assert str(caught.value).startswith(f"r.yaml:{message}")
