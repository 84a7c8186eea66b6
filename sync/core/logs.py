"""Logging set-up with PII redaction.

Survey comments are never passed to a logger by our code; as a second line of defence every record
goes through :class:`RedactingFilter`, which masks email addresses and anything that looks like a
secret (``token=...``, ``password=...``, bearer tokens) before it is written.
"""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+\.)+[\w-]+")
_SECRET = re.compile(
    r"(?i)\b(password|passwd|token|secret|api[_-]?key|session[_-]?id|authorization)"
    r"(\s*[=:]\s*|\s+)(bearer\s+)?[^\s,;&]+"
)


def redact(text: str) -> str:
    """Mask email addresses and secret-looking values in ``text``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***", text)
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str = "INFO") -> None:
    """Plain, redacted logs on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "apscheduler.executors", "zenpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
