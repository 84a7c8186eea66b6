"""The text settings and the tags a comment's themes put on tickets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sync.core.config.model import TextConfig
from sync.stages.comment_text import theme_tags


@pytest.mark.parametrize(
    ("themes", "tags"),
    [
        (["onboarding"], ["theme_onboarding"]),
        (
            ["Late Flight", "late flight", "Billing & Invoices"],
            ["theme_late_flight", "theme_billing_invoices"],
        ),
        (["!!!"], []),
        (None, []),
        ("onboarding", []),
    ],
)
def test_each_theme_becomes_one_zendesk_tag(themes: object, tags: list[str]) -> None:
    assert theme_tags(themes) == tags


def test_text_analytics_need_a_taxonomy() -> None:
    with pytest.raises(ValidationError, match="text analytics need a taxonomy file"):
        TextConfig.model_validate({"enabled": True})
    assert TextConfig.model_validate({"enabled": False}).taxonomy is None
