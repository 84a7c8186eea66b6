"""The daemon sends the views on its schedule: the weekly digest and each owner's call list go
out once per period through the Slack webhook and SMTP, however often their job runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from emulators.world import EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.app.scheduler import Daemon
from sync.core.config import Config, ScheduleConfig
from tests.e2e.conftest import FAST_RETRY
from tests.routing.local_servers import Mailbox, Webhook, smtp_server, webhook_server
from tests.support import acting_on_the_seeded_year, wait_for

DIGEST_HOOK = "NPS_TEST_DIGEST_HOOK"
OWNER_HOOK = "NPS_TEST_OWNER_HOOK"


@pytest.fixture
def recent_world() -> Iterator[EmulatedWorld]:
    """A year of answers up to now, so this week has detractors."""
    with EmulatedWorld(seed=11, accounts=30, responses=240, end=datetime.now(UTC)) as w:
        yield w


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    with webhook_server() as server:
        monkeypatch.setenv(DIGEST_HOOK, server.url)
        monkeypatch.setenv(OWNER_HOOK, server.url)
        yield server


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as server:
        yield server


def runs_of(engine: Engine, kind: str) -> int:
    return sum(r["kind"] == kind and r["status"] != "running" for r in engine.store.runs.last(50))


def ran(engine: Engine, kind: str, times: int) -> bool:
    return runs_of(engine, kind) >= times


def sent(engine: Engine) -> int:
    return engine.store.outbox.summary(engine.clock())["notify"].done


def test_the_daemon_sends_the_digest_and_owner_lists_once_per_period(
    recent_world: EmulatedWorld, hook: Webhook, mailbox: Mailbox, tmp_path: Path
) -> None:
    users = {u.id: u.email for u in recent_world.book.users}
    owner = users[recent_world.book.accounts[0].owner_id]
    data = recent_world.config_data(
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        routing=acting_on_the_seeded_year(),
        email={"host": "127.0.0.1", "port": mailbox.port, "security": "none",
               "sender": "nps@acme.test"},
        views={
            "frontline": {"cron": "0 7 * * mon-fri", "days": 400,
                          "slack_webhook_envs": {owner: OWNER_HOOK}},
            "digest": {"cron": "0 8 * * mon", "slack_webhook_env": DIGEST_HOOK,
                       "email_to": ["leads@acme.test"]},
        },
    )  # fmt: skip
    config = Config.model_validate(data)
    store = open_store(config)
    engine = Engine(config, store, connect_all(config), load_rules(config.rules), retry=FAST_RETRY)
    assert engine.run_once().errors == []
    hook.posts.clear()
    mailbox.messages.clear()

    schedule = ScheduleConfig(
        poll_interval_seconds=3600, drain_interval_seconds=3600, reconcile_cron=""
    )
    daemon = Daemon(engine, schedule, views=config.views)
    daemon.start()
    try:
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert jobs["digest"].next_run_time.strftime("%a %H:%M") == "Mon 08:00"
        assert jobs["frontline"].next_run_time.strftime("%a %H:%M")[4:] == "07:00"
        assert jobs["frontline"].next_run_time.strftime("%a") not in ("Sat", "Sun")
        for job in ("digest", "frontline", "digest", "frontline"):  # twice in one period
            ran_once_more = runs_of(engine, job) + 1
            daemon.wake(job)
            assert wait_for(partial(ran, engine, job, ran_once_more), timeout=60)
        daemon.wake("drain")
        assert wait_for(lambda: sent(engine) >= 3, timeout=60)
        assert wait_for(lambda: runs_of(engine, "drain") >= 3, timeout=60)
    finally:
        daemon.stop()
        daemon.shut_down()
        store.close()

    digests = [p["text"] for p in hook.posts if p["text"].startswith("NPS digest")]
    lists = [p["text"] for p in hook.posts if "to call today" in p["text"]]
    assert len(digests) == 1
    assert "New detractors: " in digests[0]
    assert len(lists) == 1
    mails = [(rcpt, body) for _sender, rcpt, body in mailbox.messages]
    assert [rcpt for rcpt, body in mails if "Subject: NPS digest" in body] == [["leads@acme.test"]]
    owners_mailed = [rcpt for rcpt, body in mails if "to call today" in body]
    assert [owner] in owners_mailed
    assert len(owners_mailed) == len({tuple(r) for r in owners_mailed})  # one list per owner
    notify = json.dumps(hook.posts)
    assert "<!" not in notify  # Slack text is escaped
