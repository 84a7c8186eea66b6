"""Logs never carry email addresses or secrets."""

from __future__ import annotations

import logging

import pytest

from sync.core.logs import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no match for jane.doe@example.com", "no match for j***@***"),
        ("token=abc123 and more", "token=*** and more"),
        ("Authorization: Bearer eyJhbGciOi", "Authorization: ***"),
        ("password: hunter2", "password: ***"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("nps-test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="nps-test"):
        logger.info("matched %s", "Bob@Example.org")
    assert "Example.org" not in caplog.text
    assert "B***@***" in caplog.text
