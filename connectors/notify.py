"""Notification channels: Slack incoming webhooks and email over SMTP.

Each sender raises a :mod:`connectors.errors` tier when the channel does not take a message:
a refusal for now (Slack's 429 or 5xx, an SMTP 4xx, an unreachable server) is retryable, anything
else fails this message only. Slack text is escaped (``&``, ``<``, ``>``) so a comment containing
``<!channel>`` cannot ping anyone; the webhook URL is a secret, read from the environment variable
the rules name when the message is sent.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import requests

from connectors.errors import RecordError, RetryableError

SLACK = "slack"
EMAIL = "email"


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: no mentions, links or markup from the data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class SlackSender:
    """Posts to incoming webhooks whose URLs are in environment variables."""

    session: requests.Session
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    timeout: float = 10.0

    def send(self, webhook_env: str, text: str) -> None:
        """Raise a :mod:`connectors.errors` tier when Slack does not take the message."""
        url = self.environ.get(webhook_env, "").strip()
        if not url:
            raise RecordError(f"environment variable {webhook_env} (Slack webhook URL) is not set")
        if not url.startswith(("https://", "http://")):
            raise RecordError(f"environment variable {webhook_env} does not hold an http(s) URL")
        try:
            answer = self.session.post(url, json={"text": slack_escape(text)}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RetryableError(
                f"webhook unreachable: {type(exc).__name__}", system=SLACK
            ) from exc
        if answer.status_code < 300:
            return
        detail = f"webhook answered {answer.status_code}: {answer.text[:200]}"
        if answer.status_code == 429:
            retry_after = _seconds(answer.headers.get("Retry-After"))
            raise RetryableError(detail, system=SLACK, retry_after=retry_after)
        if answer.status_code >= 500:
            raise RetryableError(detail, system=SLACK)
        raise RecordError(detail, system=SLACK)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class SmtpSettings(Protocol):
    """The SMTP server to send through (the config's ``email`` section is one)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    #: ``starttls``: upgrade a plain connection; ``tls``: TLS from the start; ``none``.
    @property
    def security(self) -> str: ...

    @property
    def sender(self) -> str: ...

    @property
    def username(self) -> str | None: ...

    @property
    def timeout_seconds(self) -> float: ...


SmtpFactory = Callable[[SmtpSettings], smtplib.SMTP]


def connect_smtp(config: SmtpSettings) -> smtplib.SMTP:
    """An SMTP connection as the config asks (STARTTLS, TLS from the start, or plain)."""
    if config.security == "tls":
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            timeout=config.timeout_seconds,
            context=ssl.create_default_context(),
        )
    smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
    if config.security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    return smtp


@dataclass
class EmailSender:
    """Sends one message per notification through an SMTP server.

    ``password`` is read when a message is sent (it may raise :class:`RecordError` when the
    secret cannot be read); without it no login is made unless ``username`` is set.
    """

    config: SmtpSettings
    password: Callable[[], str] = lambda: ""
    connect: SmtpFactory = connect_smtp

    def send(self, key: str, to: Sequence[str], subject: str, text: str) -> None:
        """Raise a :mod:`connectors.errors` tier when the server does not take the message."""
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{key}@nps-sync>"
        message.set_content(text)
        password = self.password()
        try:
            with self.connect(self.config) as smtp:
                if self.config.username:
                    smtp.login(self.config.username, password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise RecordError(f"every recipient refused: {refused}", system=EMAIL) from exc
        except smtplib.SMTPResponseException as exc:
            detail = f"server answered {exc.smtp_code}: {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise RetryableError(detail, system=EMAIL) from exc
            raise RecordError(detail, system=EMAIL) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"cannot send: {type(exc).__name__}: {exc}", system=EMAIL) from exc


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
