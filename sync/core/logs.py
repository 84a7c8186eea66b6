"""Logging set-up with PII redaction.

Survey comments are never passed to a logger by our code; as a second line of defence every record
is redacted before it is written: :class:`RedactingFormatter` masks email addresses, anything with
an ``@`` that might be one, and anything that looks like a secret (``token=...``, ``password=...``,
bearer tokens) in the whole formatted record, traceback included, since exception messages carry
values (a failed lookup names the address it looked up).
"""

from __future__ import annotations

import logging
import re

# Anything around an ``@``, valid address or not (``bob@localhost``, ``a@b@c``, ``"x"@y.io``):
# the first character stays, as a hint for whoever reads the log.
_EMAIL = re.compile(
    r"(?<![^\s<>()\[\],;=])"  # starts a word
    r"([^\s<>()\[\],;=@])?[^\s<>()\[\],;=@]*"  # the local part; its first character kept
    r"""@[^\s'"<>()\[\],;]+"""  # the domain, valid or not
)
_SECRET = re.compile(
    r"(?i)\b(password|passwd|token|secret|api[_-]?key|session[_-]?id|authorization)"
    r"(\s*[=:]\s*|\s+)(bearer\s+)?[^\s,;&]+"
)


def redact(text: str) -> str:
    """Mask email addresses and secret-looking values in ``text``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1) or ''}***@***", text)
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RedactingFilter(logging.Filter):
    """Redacts a record's message (not its traceback) for handlers we do not format."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole text: message, traceback and stack."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO") -> None:
    """Plain, redacted logs on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "zenpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # APScheduler speaks of job stores and executors; the daemon says what an operator needs
    # (sync.app.scheduler) and lets only APScheduler's errors through.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
