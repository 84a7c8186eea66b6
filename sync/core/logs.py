"""Logging set-up with PII redaction.

Survey comments are never passed to a logger by our code; as a second line of defence every record
is redacted before it is written: :class:`RedactingFormatter` masks email addresses, anything with
an ``@`` that might be one, and anything that looks like a secret (``token=...``, ``password=...``,
bearer tokens) in the whole formatted record, traceback included, since exception messages carry
values (a failed lookup names the address it looked up).

Two formats: ``text`` (one line per record, for people) and ``json`` (one JSON object per line
with the stable keys ``ts``, ``level``, ``logger`` and ``message`` and the record's structured
extras such as ``source``, ``response_id``, ``action``, ``system``, for log pipelines). The JSON
path redacts the message, the traceback and every extra; an extra named like survey text or a
person's identity (:data:`PII_KEYS`) is masked whole, whatever it holds. ``--log-format`` on the
command line wins over ``logging.format`` in the config.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Literal

# Anything around an ``@``, valid address or not (``bob@localhost``, ``a@b@c``, ``"x"@y.io``):
# the first character stays, as a hint for whoever reads the log.
_EMAIL = re.compile(
    r"(?<![^\s<>()\[\],;=])"  # starts a word
    r"([^\s<>()\[\],;=@])?[^\s<>()\[\],;=@]*"  # the local part; its first character kept
    r"""@[^\s'"<>()\[\],;]+"""  # the domain, valid or not
)
_SECRET = re.compile(
    r"(?i)\b(password|passwd|token|secret|api[_-]?key|session[_-]?id|authorization)"
    r"(\s*[=:]\s*|\s+)(bearer\s+)?([^\s,;&]+)"
)
# After a bare space, a short word of letters is prose ("the token expired", "password
# reset"), not a value: a token or a session id has digits or marks, a password set by hand
# is rarely a lone lower-case word, and ``=``, ``:`` or "Bearer" always mask what follows.
_PROSE_WORD = re.compile(r"[a-z]{1,12}[.!?]?")


def _masked_secret(match: re.Match[str]) -> str:
    name, gap, bearer, value = match.groups()
    if not bearer and _PROSE_WORD.fullmatch(value):
        # "the token expired"; "sources.x.api_key: cannot read ...", a setting's path naming
        # where a problem is, not the value
        setting = match.start() > 0 and match.string[match.start() - 1] == "."
        if not gap.strip() or (setting and gap.strip() == ":"):
            return match.group(0)
    return f"{name}{gap}***"


def redact(text: str) -> str:
    """Mask email addresses and secret-looking values in ``text``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1) or ''}***@***", text)
    return _SECRET.sub(_masked_secret, text)


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


LogFormat = Literal["text", "json"]

#: Extras that carry survey text or who answered: masked whole in JSON records.
PII_KEYS = frozenset(
    {
        "comment",
        "email",
        "person_email",
        "name",
        "person_name",
        "first_name",
        "last_name",
        "full_name",
        "respondent",
        "properties",
        "answers",
    }
)
#: What every LogRecord has; anything else on a record is an extra given by the caller.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}
MASK = "***"


def _clean(key: str, value: object) -> object:
    """An extra's value fit for a log line: PII keys masked, text redacted, JSON types kept."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if key.lower() in PII_KEYS:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(key, item) for item in value]
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC, ISO-8601), ``level``, ``logger``, ``message``,
    then the record's extras, all redacted; ``exc`` holds a traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        document: dict[str, object] = {
            "ts": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in document:
                document[key] = _clean(key, value)
        if record.exc_info:
            document["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            document["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(document, ensure_ascii=False, default=str)


_chosen: LogFormat | None = None  # --log-format, which wins over the config
_configured: LogFormat | None = None  # logging.format of the config the command loaded


def _in_force() -> LogFormat:
    return _chosen or _configured or "text"


def choose_format(chosen: LogFormat | None) -> None:
    """Start of a command: its ``--log-format`` (None: not given, the config may choose)."""
    global _chosen, _configured
    _chosen, _configured = chosen, None


def adopt_config_format(configured: LogFormat) -> None:
    """The config's ``logging.format``: handlers :func:`configure` installed switch to it,
    unless the command line chose."""
    global _configured
    _configured = configured
    for handler in logging.getLogger().handlers:
        if getattr(handler, "nps_sync", False):
            handler.setFormatter(_formatter(_in_force()))


def json_error_line(messages: list[str], fix: str | None) -> str | None:
    """A command's closing error as one JSON log record when JSON logs are in force, else None
    (the text form is written by the command line)."""
    if _in_force() != "json":
        return None
    record = logging.makeLogRecord(
        {
            "name": "sync.cli",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "%s",
            "args": ("; ".join(messages),),
        }
    )
    if fix:
        record.fix = fix
    return JsonFormatter().format(record)


def _formatter(chosen: LogFormat) -> logging.Formatter:
    if chosen == "json":
        return JsonFormatter()
    return RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure(level: str = "INFO") -> None:
    """Redacted logs on stderr, as text or JSON (:func:`choose_format`)."""
    handler = logging.StreamHandler()
    handler.nps_sync = True  # type: ignore[attr-defined]  # marks the handler as ours
    handler.setFormatter(_formatter(_in_force()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "zenpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # APScheduler speaks of job stores and executors; the daemon says what an operator needs
    # (sync.app.scheduler) and lets only APScheduler's errors through.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
