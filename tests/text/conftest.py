"""Fixtures for the comment analytics: the model is loaded once per test process."""

from __future__ import annotations

from pathlib import Path

import pytest

from insights.text import Taxonomy, parse_taxonomy
from insights.text.encoder import SentenceEncoder

THEMES = """\
themes:
  - name: onboarding
    description: Getting started, setup and the first weeks with the product
    examples: [setup was confusing, nobody helped us get started, installation took weeks]
  - name: support
    description: Help from the support team, tickets and response times
    examples: [support was slow, nobody answered my ticket, the support agent was great]
  - name: pricing
    description: Price, cost, invoices and value for money
    examples: [too expensive, the invoice was wrong, good value for money]
"""


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture
def taxonomy() -> Taxonomy:
    return parse_taxonomy(THEMES, "themes.yaml")


@pytest.fixture
def themes_file(tmp_path: Path) -> Path:
    path = tmp_path / "themes.yaml"
    path.write_text(THEMES, encoding="utf-8")
    return path
