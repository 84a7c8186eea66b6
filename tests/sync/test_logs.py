"""Logs never carry email addresses or secrets."""

from __future__ import annotations

import logging
import sys

import pytest

from sync.core.logs import RedactingFilter, RedactingFormatter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no match for jane.doe@example.com", "no match for j***@***"),
        ("token=abc123 and more", "token=*** and more"),
        ("Authorization: Bearer eyJhbGciOi", "Authorization: ***"),
        ("password: hunter2", "password: ***"),
        ("nothing to hide", "nothing to hide"),
        ("bob@localhost failed", "b***@*** failed"),
        ("two at signs a@b@example.com", "two at signs a***@***"),
        ('"quoted"@example.io', '"***@***'),
        ("keys ('jane@x.com',)", "keys ('***@***',)"),
        ("<Jöhn.Dœ@exämple.de>", "<J***@***>"),
        ("email=jane@x.com", "email=j***@***"),
        ("wildcard *@acme.com", "wildcard ****@***"),
        ("a lone @ sign", "a lone @ sign"),
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


def test_tracebacks_are_redacted_too() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise LookupError("no user for jane.doe@example.com (token=s3cr3t)")
    except LookupError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "lookup failed", (), None)
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "Traceback" in text
    assert "LookupError: no user for j***@*** (token=***" in text
    assert "jane.doe" not in text
    assert "s3cr3t" not in text
