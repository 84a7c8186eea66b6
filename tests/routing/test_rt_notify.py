"""``notify`` actions: Slack webhooks and email, against loopback servers started here."""

from __future__ import annotations

import email
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.notify import EmailSender, SlackSender, slack_escape
from sync.core.config import EmailConfig, Secret
from sync.core.retry import NO_RETRY
from sync.stages.executors.notify import NotifyExecutor, email_sender
from sync.state import ClaimedAction
from tests.routing.local_servers import Mailbox, Webhook, smtp_server, webhook_server


def notification(key: str, **payload: Any) -> ClaimedAction:
    return ClaimedAction(key, "notify", payload, 1, 0, "test", "1", "rule", None)


def slack(key: str, text: str = "hello", env: str = "CX_HOOK") -> ClaimedAction:
    return notification(key, channel="slack", webhook_env=env, text=text)


def mail(key: str, *to: str) -> ClaimedAction:
    return notification(
        key, channel="email", to=list(to), subject="NPS 2 from Acme", text="Please call back."
    )


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as server:
        yield server


def executor(hook: Webhook | None = None, box: Mailbox | None = None) -> NotifyExecutor:
    environ = {"CX_HOOK": hook.url} if hook else {}
    email_sender = (
        EmailSender(
            EmailConfig(host="127.0.0.1", port=box.port, security="none", sender="nps@acme.test")
        )
        if box
        else None
    )
    return NotifyExecutor(SlackSender(requests.Session(), environ), email_sender, NO_RETRY)


def test_slack_message_is_posted_with_data_escaped(hook: Webhook) -> None:
    (outcome,) = executor(hook).execute([slack("k1", "Ping <!channel> & <http://x|y>")])
    assert (outcome.key, outcome.result, outcome.external_id) == ("k1", "done", "slack:CX_HOOK")
    assert hook.posts == [{"text": "Ping &lt;!channel&gt; &amp; &lt;http://x|y&gt;"}]


@pytest.mark.parametrize(
    ("status", "headers", "result"),
    [
        (404, {}, "dead"),  # the webhook was removed
        (403, {}, "dead"),
        (500, {}, "retry"),
        (429, {"Retry-After": "3"}, "retry"),
    ],
)
def test_slack_refusals_map_to_outcomes(
    hook: Webhook, status: int, headers: dict[str, str], result: str
) -> None:
    hook.status, hook.headers = status, headers
    (outcome,) = executor(hook).execute([slack("k1")])
    assert outcome.result == result
    assert f"webhook answered {status}" in outcome.error


def test_a_long_retry_after_defers_the_message(hook: Webhook) -> None:
    hook.status, hook.headers = 429, {"Retry-After": "600"}
    (outcome,) = executor(hook).execute([slack("k1")])
    assert outcome.result == "defer"
    assert outcome.not_before is not None


def test_a_missing_webhook_variable_fails_only_that_message(hook: Webhook) -> None:
    outcomes = executor(hook).execute([slack("k1", env="NOT_SET"), slack("k2")])
    assert [(o.key, o.result) for o in outcomes] == [("k1", "dead"), ("k2", "done")]
    assert outcomes[0].error == "environment variable NOT_SET (Slack webhook URL) is not set"


def test_an_unreachable_webhook_is_retried() -> None:
    sender = SlackSender(requests.Session(), {"CX_HOOK": "http://127.0.0.1:9/hook"}, timeout=2)
    (outcome,) = NotifyExecutor(sender, None, NO_RETRY).execute([slack("k1")])
    assert outcome.result == "retry"


def test_email_is_sent_with_a_message_id_from_the_key(mailbox: Mailbox) -> None:
    (outcome,) = executor(box=mailbox).execute([mail("abc123", "cx@acme.test", "vp@acme.test")])
    assert (outcome.result, outcome.external_id) == ("done", "email:2")
    ((sender, recipients, data),) = mailbox.messages
    assert (sender, recipients) == ("nps@acme.test", ["cx@acme.test", "vp@acme.test"])
    message = email.message_from_string(data)
    assert message["Subject"] == "NPS 2 from Acme"
    assert message["To"] == "cx@acme.test, vp@acme.test"
    assert message["Message-ID"] == "<abc123@nps-sync>"
    assert str(message.get_payload()).strip() == "Please call back."


def test_email_refusals_map_to_outcomes(mailbox: Mailbox) -> None:
    outcomes = executor(box=mailbox).execute(
        [mail("k1", "nobody@refused.test"), mail("k2", "cx@acme.test", "x@refused.test")]
    )
    assert [o.result for o in outcomes] == ["dead", "done"]  # one good recipient is enough
    assert outcomes[0].error == "email: every recipient refused: nobody@refused.test"
    mailbox.data_reply = "451 try again later"
    (later,) = executor(box=mailbox).execute([mail("k3", "cx@acme.test")])
    assert (later.result, later.error) == ("retry", "email: server answered 451: try again later")


def test_email_without_a_server_configured_or_reachable() -> None:
    (unconfigured,) = executor().execute([mail("k1", "cx@acme.test")])
    assert unconfigured.result == "dead"
    assert "`email:` section" in unconfigured.error
    closed = EmailConfig(host="127.0.0.1", port=9, security="none", sender="n@acme.test")
    sender = NotifyExecutor(SlackSender(requests.Session()), EmailSender(closed), NO_RETRY)
    (unreachable,) = sender.execute([mail("k2", "cx@acme.test")])
    assert unreachable.result == "retry"


def test_slack_escape_leaves_plain_text_alone() -> None:
    assert slack_escape("Score 3: slow support") == "Score 3: slow support"


def test_an_unreadable_smtp_password_fails_only_that_message(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NPS_TEST_SMTP_PASSWORD", raising=False)
    config = EmailConfig(
        host="127.0.0.1",
        port=mailbox.port,
        security="none",
        sender="nps@acme.test",
        username="nps",
        password=Secret(env="NPS_TEST_SMTP_PASSWORD"),
    )
    sender = NotifyExecutor(SlackSender(requests.Session()), email_sender(config), NO_RETRY)
    (outcome,) = sender.execute([mail("k1", "cx@acme.test")])
    assert outcome.result == "dead"
    assert outcome.error == (
        "email: email.password: environment variable NPS_TEST_SMTP_PASSWORD is not set"
    )
    assert mailbox.messages == []
