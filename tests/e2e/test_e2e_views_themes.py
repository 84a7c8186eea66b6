"""Comment themes in the views: the digest's repeat themes among the week's detractors and the
report's top themes, from the analysis stored by routing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory
from tests.support import run_cli
from tests.text.conftest import THEMES

STARTED = "Setup was confusing and nobody helped us get started."
#: Routes every answer at once (no settle delay) and acts on none.
RULES = """version: 1
rules:
  - name: everyone
    actions: []
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=3, responses=0) as w:
        yield w


def test_a_theme_three_detractors_mention_in_the_week_is_a_repeat_theme(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(THEMES, encoding="utf-8")
    text = {"enabled": True, "taxonomy": str(taxonomy)}
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    contacts = world.book.contacts[:4]
    for contact, score in zip(contacts[:3], (2, 5, 6), strict=True):
        world.delighted.add_response(email=contact.email, score=score, comment=STARTED)
    world.delighted.add_response(email=contacts[3].email, score=10, comment=STARTED)
    engine = make_engine(rules=rules, text=text)
    assert engine.run_once().errors == []
    config = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=engine.store.url, rules=rules, text=text)
    config.write_text(json.dumps(data, default=str), encoding="utf-8")

    digest = run_cli("digest", "-c", config, "--json")
    assert digest.returncode == 0, digest.stderr
    assert json.loads(digest.stdout)["repeat_themes"] == [{"theme": "onboarding", "detractors": 3}]
    text_digest = run_cli("digest", "-c", config)
    assert "Repeat themes among detractors: onboarding (3)" in text_digest.stdout

    report = run_cli("report", "-c", config, "--no-revenue", "--json")
    assert report.returncode == 0, report.stderr
    themes = json.loads(report.stdout)["themes"]
    assert themes[0] == {
        "theme": "onboarding", "mentions": 4, "promoters": 1, "passives": 0, "detractors": 3,
    }  # fmt: skip
