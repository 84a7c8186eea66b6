"""Executor of ``notify`` intents, through the Slack and email senders of
:mod:`connectors.notify`.

A sent message cannot be looked up afterwards, so a notification whose earlier attempt may have
gone out (a crash between sending and recording) is sent again: notifications are delivered at
least once, where tasks and tickets are created exactly once. Each email carries a Message-ID
derived from the action's idempotency key, so mail clients show such a repeat as one message.

The Slack webhook URL is a secret: the rules file names only the environment variable holding it
(``webhook_env``), read when the message is sent; so is the SMTP password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from connectors.errors import RecordError
from connectors.notify import EMAIL, SLACK, EmailSender, SlackSender
from sync.core.config import EmailConfig
from sync.core.errors import ConfigFileError
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded
from sync.state import ClaimedAction


def email_sender(config: EmailConfig) -> EmailSender:
    """The sender for the config's ``email`` section; the password is read at each message, and
    a secret that cannot be read fails that message (it goes to the dead-letter list)."""

    def password() -> str:
        try:
            secret = config.password
            return secret.resolve("email.password") if secret is not None else ""
        except ConfigFileError as exc:
            raise RecordError(str(exc), system=EMAIL) from exc

    return EmailSender(config, password)


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
