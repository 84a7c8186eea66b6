"""Logs never carry email addresses or secrets."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from sync.core.logs import JsonFormatter, RedactingFilter, RedactingFormatter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no match for jane.doe@example.com", "no match for j***@***"),
        ("token=abc123 and more", "token=*** and more"),
        ("Authorization: Bearer eyJhbGciOi", "Authorization: ***"),
        ("password: hunter2", "password: ***"),
        ("password hunter2", "password ***"),
        ("token 00Dxx0000001gPL!AQ4AQ", "token ***"),
        ("Authorization Bearer abc", "Authorization ***"),
        ("Password Secret", "Password ***"),
        ("the token expired, logging in again", "the token expired, logging in again"),
        ("password reset for j@x.io", "password reset for j***@***"),
        (
            "sources.delighted.api_key: cannot read /run/key: No such file",
            "sources.delighted.api_key: cannot read /run/key: No such file",
        ),
        ("sources.delighted.api_key: s3cr3t", "sources.delighted.api_key: ***"),
        ("api_key: cannot", "api_key: ***"),
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


def json_record(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("sync.stages.act", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_json_records_have_stable_keys_and_keep_structured_extras() -> None:
    parsed = json_record(
        "action %s failed", "k1", source="delighted", response_id="42", attempts=3, ok=False
    )
    assert parsed["level"] == "warning"
    assert parsed["logger"] == "sync.stages.act"
    assert parsed["message"] == "action k1 failed"
    assert str(parsed["ts"]).endswith("Z")
    assert (parsed["source"], parsed["response_id"], parsed["attempts"], parsed["ok"]) == (
        "delighted",
        "42",
        3,
        False,
    )
    assert not {"args", "msg", "levelno", "pathname", "exc_info"} & set(parsed)


def test_json_records_redact_the_message_and_mask_pii_extras_whole() -> None:
    parsed = json_record(
        "no user for %s",
        "jane.doe@example.com",
        comment="Jane Doe here: the export is broken",
        person_name="Jane Doe",
        person={"email": "jane.doe@example.com", "first_name": "Jane", "plan": "gold"},
        note="token=s3cr3t sent by jane.doe@example.com",
    )
    text = json.dumps(parsed)
    for secret in ("jane.doe", "Jane", "export is broken", "s3cr3t"):
        assert secret not in text
    assert parsed["comment"] == parsed["person_name"] == "***"
    assert parsed["person"] == {"email": "***", "first_name": "***", "plan": "gold"}
    assert parsed["message"] == "no user for j***@***"


def test_json_tracebacks_are_one_redacted_field() -> None:
    try:
        raise LookupError("no user for jane.doe@example.com")
    except LookupError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "lookup failed", (), None)
        record.exc_info = sys.exc_info()
    parsed = json.loads(JsonFormatter().format(record))
    assert "LookupError: no user for j***@***" in parsed["exc"]
    assert "jane.doe" not in json.dumps(parsed)
