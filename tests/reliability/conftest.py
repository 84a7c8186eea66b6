"""Reliability fixtures: emulated worlds, config files, CLI subprocesses and final-state snapshots.

Every proof here compares what the emulated Salesforce and Zendesk hold at the end against a
clean run on a second world built from the same seed, keyed by our idempotency markers so that
record ids assigned in a different order do not matter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.zendesk.client import COMMENT_SEPARATOR
from emulators.world import LIVE_JOBS, EmulatedWorld
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.retry import RetryPolicy
from sync.stages.executors.task_links import link_key
from sync.state import StateStore
from tests.support import acting_on_the_seeded_year, nps_sync_command

MARKER = "NPS_Sync_Key__c"
TASK_FIELDS = (
    "Subject",
    "Description",
    "OwnerId",
    "WhoId",
    "WhatId",
    "ActivityDate",
    "Priority",
    "Status",
)
#: Short waits so fault scenarios stay fast; the policy itself is the production one.
FAST_RETRY = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=2.0)
#: Windows (days) that rolling metrics may use: seeds keep responses away from their edges.
METRIC_WINDOWS = (30, 60, 90, 180, 365)


def quiet_end(
    seed: int,
    accounts: int,
    responses: int,
    *,
    margin: timedelta = timedelta(minutes=20),
    windows: Sequence[timedelta] = (),
) -> datetime:
    """An ``end`` for the seed data that keeps every response ``margin`` away from the edge of any
    rolling window (and of the other ``windows``, settle delays say) for the next minutes, so
    two runs a minute apart compute the same metrics and hold back the same responses."""
    from emulators.seed import generate_seed

    now = datetime.now(UTC).replace(microsecond=0)
    spans = [*(timedelta(days=days) for days in METRIC_WINDOWS), *windows]
    for shift in range(48):
        end = now - timedelta(days=1, hours=shift)
        book = generate_seed(seed, accounts=accounts, responses=responses, end=end)
        edges = [now - span for span in spans]
        if all(abs(r.created_at - edge) > margin for r in book.responses for edge in edges):
            return end
    raise AssertionError("no quiet end found for the seed data")


#: The Zendesk settle window of the worlds here: longer than the emulator's two seconds per job.
ZENDESK_SETTLE_SECONDS = 3.0


def world_config(world: EmulatedWorld, state_url: str, **overrides: Any) -> dict[str, Any]:
    """The world's config as a plain mapping, with nested overrides merged in.

    Every seeded response is acted on (:func:`~tests.support.acting_on_the_seeded_year`): the
    proofs here compare what a year of actions leaves behind."""
    data = world.config_data(state_url=state_url, routing=acting_on_the_seeded_year())
    # The emulated org carries a create out before it answers, or never: none lands late, so a
    # create that got no answer is made again after a second, not the eleven minutes a real
    # org may take.
    data["salesforce"]["tasks"] = {"settle_seconds": 1.0}
    # The emulated Zendesk runs a bulk job at most two seconds after accepting it: a submit whose
    # answer was lost is sent again after a little more, not the hour a real queue may take.
    tickets = {**data["zendesk"].get("tickets", {}), "settle_seconds": ZENDESK_SETTLE_SECONDS}
    data["zendesk"]["tickets"] = tickets
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def write_config(path: Path, world: EmulatedWorld, state_url: str, **overrides: Any) -> Path:
    """A config file for a ``nps-sync`` subprocess (JSON is valid YAML)."""
    path.write_text(json.dumps(world_config(world, state_url, **overrides)), encoding="utf-8")
    return path


def spawn(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``nps-sync ARGS`` with this environment (the emulators' secrets are in it)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with log.open("ab") as sink:
        return subprocess.Popen(  # noqa: S603 - our own CLI with arguments from the test
            [*nps_sync_command(), *args], env=env, stdout=sink, stderr=sink
        )


def fast_engine(
    world: EmulatedWorld,
    state_url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> Engine:
    """An in-process engine on the world, with short retry waits (and a given clock)."""
    from sync.core.config import Config

    config = Config.model_validate(world_config(world, state_url, **overrides))
    store = open_store(config)
    ruleset = load_rules(config.rules)
    if clock is None:
        return Engine(config, store, connect_all(config), ruleset, retry=FAST_RETRY)
    return Engine(config, store, connect_all(config), ruleset, retry=FAST_RETRY, clock=clock)


# -- snapshots of the emulated systems ------------------------------------------------------------
#: Account fields an ``update_fields`` action may write, compared besides the NPS fields.
ACCOUNT_FIELDS = ("Description",)
#: What our ticket bodies, comments and Task descriptions add under the rendered text; it lists
#: the requester's open tickets at the moment it is written, so it is left out of the comparison.
CONTEXT_BLOCK = "-- Customer context (nps-sync) --"
COMMENT_MARKER = re.compile(r"\[nps-sync ([0-9a-f]+)\]")
TICKET_LINK = re.compile(r"^Zendesk ticket: \S+/agent/tickets/(\d+)$", re.MULTILINE)
TASK_LINK = re.compile(r"^Salesforce Task: \S+/lightning/r/Task/(\w+)/view", re.MULTILINE)


@dataclass(frozen=True)
class WorldState:
    """What the emulated systems hold, keyed so that two worlds can be compared.

    ``notifications`` are the distinct texts a webhook received: notifications are delivered at
    least once (a message cannot be looked up, so one whose sending may have been cut short is
    sent again), so a repeat is allowed and a missing or unexpected one is not.
    """

    tasks: dict[str, tuple[Any, ...]]
    tickets: dict[str, tuple[Any, ...]]
    fields: dict[tuple[str, str], dict[str, Any]]
    duplicate_tasks: list[str]
    duplicate_tickets: list[str]
    notifications: frozenset[str] = frozenset()
    #: Keys marking more than one comment (a response attached to an open ticket twice).
    duplicate_comments: tuple[str, ...] = ()
    #: The keys of the links found on Tasks: a ticket's link in the description of the Task of
    #: the same response.
    links: frozenset[str] = frozenset()

    @property
    def acted(self) -> set[str]:
        """Every action key found on what it made: a Task, a ticket, a comment on an open
        ticket (an action that attached its response to one), or a Task's link to a ticket."""
        comments = {key for ticket in self.tickets.values() for key, _ in ticket[-1] if key}
        return set(self.tasks) | set(self.tickets) | comments | set(self.links)

    def differences(self, other: WorldState, limit: int = 10) -> list[str]:
        """Human-readable differences from ``other`` (the expected state), at most ``limit``."""
        out: list[str] = []
        notes = (
            dict.fromkeys(self.notifications, "sent"),
            dict.fromkeys(other.notifications, "sent"),
        )
        for name, mine, theirs in (
            ("task", self.tasks, other.tasks),
            ("ticket", self.tickets, other.tickets),
            ("fields", self.fields, other.fields),
            ("notification", *notes),
        ):
            for key in sorted(set(mine) | set(theirs), key=str):
                if key not in mine:
                    out.append(f"missing {name} {key}")
                elif key not in theirs:
                    out.append(f"extra {name} {key}")
                elif mine[key] != theirs[key]:  # type: ignore[index]
                    out.append(f"{name} {key}: {mine[key]} != {theirs[key]}")  # type: ignore[index]
        return out[:limit]


def answers(comments: Sequence[Mapping[str, Any]]) -> list[str]:
    """The answers these comments carry, in order: a comment that joins several answers of one
    person (:data:`~connectors.zendesk.client.COMMENT_SEPARATOR`) counts as each of them, so a
    world compares the same however its answers were batched."""
    ordered = sorted(comments, key=lambda c: c["id"])
    return [part for c in ordered for part in str(c["body"]).split(COMMENT_SEPARATOR)]


def comment_summary(body: str) -> tuple[str, str]:
    """The action key a comment's marker names ("" for none) and its text above the context."""
    found = COMMENT_MARKER.search(body)
    text = COMMENT_MARKER.sub("", body).split(CONTEXT_BLOCK)[0]
    return (found.group(1) if found else "", " ".join(text.split()))


def task_value(task: Mapping[str, Any], name: str) -> Any:
    """A Task's field as compared: the description without its customer context, which shows
    the respondent's open tickets and ticket links as they were when the Task was made."""
    value = task.get(name)
    if name == "Description" and isinstance(value, str):
        return value.split(CONTEXT_BLOCK)[0].rstrip()
    return value


def snapshot(world: EmulatedWorld, posts: Sequence[Mapping[str, Any]] = ()) -> WorldState:
    """The world's tasks, tickets (with their comments), fields and the ``posts`` a webhook had."""
    tasks = [t for t in world.salesforce.records("Task") if t.get(MARKER)]
    task_keys = Counter(t[MARKER] for t in tasks)
    emails = {u["id"]: (u.get("email") or "").lower() for u in world.zendesk.users()}
    tickets = [t for t in world.zendesk.tickets() if t.get("external_id")]
    ticket_keys = Counter(t["external_id"] for t in tickets)
    comments = {t["id"]: world.zendesk.comments(t["id"]) for t in tickets}
    comment_keys = Counter(
        key
        for bodies in comments.values()
        for body in answers(bodies)
        if (key := comment_summary(body)[0])
    )
    fields: dict[tuple[str, str], dict[str, Any]] = {}
    for obj, extra in (("Contact", ()), ("Account", ACCOUNT_FIELDS)):
        for rec in world.salesforce.records(obj):
            fields[(obj, rec["Id"])] = {
                k: v for k, v in rec.items() if k.startswith("NPS_") or k in extra
            }
    for user in world.zendesk.users():
        fields[("user", emails[user["id"]])] = dict(user.get("user_fields") or {})
    for org in world.zendesk.organizations():
        fields[("organization", str(org["id"]))] = dict(org.get("organization_fields") or {})
    return WorldState(
        tasks={t[MARKER]: tuple(task_value(t, f) for f in TASK_FIELDS) for t in tasks},
        tickets={
            t["external_id"]: (
                t["subject"],
                emails.get(t["requester_id"]),
                t.get("organization_id"),
                t.get("group_id"),
                t.get("priority"),
                tuple(sorted(t.get("tags") or [])),
                tuple(sorted((f["id"], f["value"]) for f in t.get("custom_fields") or [])),
                tuple(sorted(comment_summary(body) for body in answers(comments[t["id"]]))),
            )
            for t in tickets
        },
        fields=fields,
        duplicate_tasks=sorted(k for k, n in task_keys.items() if n > 1),
        duplicate_tickets=sorted(k for k, n in ticket_keys.items() if n > 1),
        duplicate_comments=tuple(sorted(k for k, n in comment_keys.items() if n > 1)),
        notifications=frozenset(str(post.get("text")) for post in posts),
        links=task_links(tasks, tickets, comments),
    )


def task_links(
    tasks: Sequence[Mapping[str, Any]],
    tickets: Sequence[Mapping[str, Any]],
    comments: Mapping[int, Sequence[Mapping[str, Any]]],
) -> frozenset[str]:
    """The keys of the links both ways: a ticket's body or comment names a Task (its ticket
    action was made after that Task) and the Task's description names that ticket."""
    by_id = {str(t["Id"]): t for t in tasks}
    found: set[str] = set()
    for ticket in tickets:
        for index, body in enumerate(answers(comments[ticket["id"]])):
            key = comment_summary(body)[0] or (str(ticket["external_id"]) if index == 0 else "")
            for task_id in TASK_LINK.findall(body):
                task = by_id.get(task_id)
                description = str((task or {}).get("Description") or "")
                if key and task and str(ticket["id"]) in TICKET_LINK.findall(description):
                    found.add(link_key(key, str(task[MARKER])))
    return frozenset(found)


def unfinished(store: StateStore) -> dict[str, int]:
    """Work the store still holds: responses to route now (not those a settle delay holds back),
    actions not done, queued write-backs."""
    counts = {k: v for k, v in store.outbox.counts().items() if k != "done"}
    if store.inbox.pending(1, datetime.now(UTC)):
        counts["responses pending"] = store.inbox.counts().get("pending", 0)
    queued = store.write_backs.queued()
    if queued:
        counts["write-backs queued"] = len(queued.contacts) + len(queued.accounts)
    return counts


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def small_world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=21, accounts=30, responses=120, zendesk_options=LIVE_JOBS) as world:
        yield world
