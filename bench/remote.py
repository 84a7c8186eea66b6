"""The emulators in a process of their own, so that what the benchmark measures of nps-sync (its
peak RSS, its CPU time) is nps-sync's alone: the emulators hold the whole book of business.

:class:`RemoteWorld` starts an :class:`~emulators.world.EmulatedWorld` (the demo world, with its
realistic limits unless told otherwise) in a spawned process and talks to it over a pipe: the
config to reach it, then on request the calls each emulator served and the work found done in
them (:func:`census`), counted against a snapshot taken before the run.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class WorldSpec:
    """What to seed and how the emulators behave; plain data, sent to the other process."""

    responses: int
    accounts: int = 300
    seed: int = 7
    latency: float = 0.0
    #: :class:`ZendeskEmulator` options over the demo world's realistic ones.
    zendesk: JSON = field(default_factory=dict)
    #: Add the Zendesk user and organization fields of every NPS metric (the backfill's map).
    metric_fields: bool = False
    #: Seed the Delighted account with the responses (False: only the book of business, for a
    #: run that reads its responses from a file).
    delighted: bool = True


def _fingerprints(records: list[JSON], fields: str | None = None) -> dict[str, str]:
    """Per record id, the NPS values it holds (``NPS_*`` fields, or ``nps*`` keys of ``fields``)."""
    prints = {}
    for record in records:
        if fields is None:
            values = {k: v for k, v in record.items() if k.startswith("NPS_")}
        else:
            values = {k: v for k, v in (record.get(fields) or {}).items() if k.startswith("nps")}
        prints[str(record.get("Id", record.get("id")))] = repr(sorted(values.items()))
    return prints


def _changed(before: dict[str, str], after: dict[str, str]) -> int:
    return sum(before.get(key) != value for key, value in after.items())


class Census:
    """Snapshots of the records nps-sync writes to, and the work found done since."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.before = self._snapshot()

    def _snapshot(self) -> JSON:
        sf, zd = self.world.salesforce, self.world.zendesk
        return {
            "contacts": _fingerprints(sf.records("Contact")),
            "accounts": _fingerprints(sf.records("Account")),
            "tasks": len(sf.records("Task")),
            # Tasks whose description got the link to the ticket made after them
            "task_links": sum(
                "\nZendesk ticket: " in str(t.get("Description") or "") for t in sf.records("Task")
            ),
            "users": _fingerprints(zd.users(), "user_fields"),
            "organizations": _fingerprints(zd.organizations(), "organization_fields"),
            "totals": zd.totals(),
            "zendesk_users": len(zd.users()),
        }

    def work(self) -> JSON:
        """What the run did in Salesforce and Zendesk, and what the book asked of it."""
        now, then = self._snapshot(), self.before
        book = self.world.book
        sf, zd = self.world.salesforce, self.world.zendesk
        return {
            "responses": len(book.responses),
            "distinct_emails": len({r.email.strip().lower() for r in book.responses}),
            "tasks": now["tasks"] - then["tasks"],
            "task_links": now["task_links"] - then["task_links"],
            "contact_updates": _changed(then["contacts"], now["contacts"]),
            "account_updates": _changed(then["accounts"], now["accounts"]),
            "tickets": now["totals"]["tickets"] - then["totals"]["tickets"],
            # a new ticket carries its first comment; the rest were added to existing tickets
            "comments": (now["totals"]["comments"] - then["totals"]["comments"])
            - (now["totals"]["tickets"] - then["totals"]["tickets"]),
            "user_updates": _changed(then["users"], now["users"]),
            "organization_updates": _changed(then["organizations"], now["organizations"]),
            "jobs": now["totals"]["jobs"] - then["totals"]["jobs"],
            "zendesk_users": then["zendesk_users"],
            "zendesk_limit_per_minute": zd.rate_limit_per_minute,
            "salesforce_api_used": sf.api_used,
            "salesforce_daily_limit": sf.daily_limit,
        }


def serve(pipe: Connection, spec: JSON) -> None:
    """In the spawned process: run the world, answer ``figures`` until told to ``stop``."""
    from emulators.world import EmulatedWorld

    world_spec = WorldSpec(**spec)
    responses = world_spec.responses if world_spec.delighted else 0
    with EmulatedWorld(
        seed=world_spec.seed,
        accounts=world_spec.accounts,
        responses=responses,
        zendesk_options=world_spec.zendesk,
    ) as world:
        if world_spec.metric_fields:
            world.zendesk.add_metric_fields()
        apps = {"salesforce": world.salesforce, "zendesk": world.zendesk}
        apps["delighted"] = world.delighted
        census = Census(world)
        for app in apps.values():
            app.latency = world_spec.latency
            app.reset_counters()
        oldest = min((r.created_at for r in world.book.responses), default=None)
        seeded = _cpu_seconds()
        pipe.send(
            {
                "config": world.config_data(state_url=""),
                "oldest": oldest.isoformat() if oldest else None,
            }
        )
        while (message := pipe.recv()) != "stop":
            if message == "figures":
                pipe.send(
                    {
                        "calls": {name: dict(app.calls) for name, app in apps.items()},
                        "work": census.work(),
                        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        "cpu_seconds": _cpu_seconds() - seeded,
                    }
                )


def _cpu_seconds() -> float:
    """User + system time of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RemoteWorld:
    """``with RemoteWorld(spec) as world:`` the emulators run in another process until exit."""

    def __init__(self, spec: WorldSpec, *, start_timeout: float = 1800.0) -> None:
        self.spec = spec
        self._start_timeout = start_timeout
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process: BaseProcess = context.Process(
            target=serve, args=(theirs, asdict(spec)), daemon=True
        )
        self.config: JSON = {}
        self.oldest: str | None = None

    def __enter__(self) -> RemoteWorld:
        self._process.start()
        hello = self._receive(self._start_timeout)
        self.config, self.oldest = hello["config"], hello["oldest"]
        return self

    def figures(self) -> JSON:
        """Calls served per system and endpoint, the work done, the emulators' own peak RSS."""
        self._pipe.send("figures")
        figures: JSON = self._receive(600.0)
        return figures

    def _receive(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not self._pipe.poll(0.5):
            if not self._process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the emulators' process stopped (exit code {self._process.exitcode})"
                )
        return self._pipe.recv()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process.is_alive():
            self._pipe.send("stop")
            self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
