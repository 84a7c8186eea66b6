"""Executor of ``notify`` intents: Slack incoming webhooks and email over SMTP.

A sent message cannot be looked up afterwards, so a notification whose earlier attempt may have
gone out (a crash between sending and recording) is sent again: notifications are delivered at
least once, where tasks and tickets are created exactly once. Each email carries a Message-ID
derived from the action's idempotency key, so mail clients show such a repeat as one message.

The Slack webhook URL is a secret: the rules file names only the environment variable holding it
(``webhook_env``), read when the message is sent. Text is escaped for Slack (``&``, ``<``, ``>``)
so a comment containing ``<!channel>`` cannot ping anyone.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial
from typing import Any

import requests

from connectors.errors import RecordError, RetryableError
from sync.core.config import EmailConfig
from sync.core.errors import ConfigFileError
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded
from sync.state import ClaimedAction

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


SmtpFactory = Callable[[EmailConfig], smtplib.SMTP]


def connect_smtp(config: EmailConfig) -> smtplib.SMTP:
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
    """Sends one message per notification through the configured SMTP server."""

    config: EmailConfig
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
        try:
            secret = self.config.password
            password = secret.resolve("email.password") if secret is not None else ""
        except ConfigFileError as exc:
            raise RecordError(str(exc), system=EMAIL) from exc
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


@dataclass
class NotifyExecutor:
    slack: SlackSender
    email: EmailSender | None
    retry: RetryPolicy
    kind: str = "notify"
    batch_size: int = 20

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for action in actions:
            outcomes.extend(guarded([action], partial(self._send, action)))
        return outcomes

    def _send(self, action: ClaimedAction) -> list[Outcome]:
        payload: Mapping[str, Any] = action.payload
        channel = payload["channel"]
        if channel == SLACK:
            env = str(payload["webhook_env"])
            self.retry.call(lambda: self.slack.send(env, str(payload["text"])))
            return [Outcome(action.key, "done", external_id=f"slack:{env}")]
        if channel == EMAIL:
            if self.email is None:
                raise RecordError("email notifications need an `email:` section in the config")
            email = self.email
            to = [str(address) for address in payload["to"]]
            self.retry.call(
                lambda: email.send(action.key, to, str(payload["subject"]), str(payload["text"]))
            )
            return [Outcome(action.key, "done", external_id=f"email:{len(to)}")]
        raise RecordError(f"unknown notification channel {channel!r}")
