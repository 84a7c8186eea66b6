"""The closed-loop simulation: days of survey answers, owners and agents working the Tasks and
tickets in the emulators on a controlled clock, and nps-sync following every loop.

Every simulated day, customers answer (half of them detractors); each detractor gets a Task and
a ticket from the rules (``bench/loop_sim_rules.yaml``). Each loop's people are drawn once:
fast (they call and reply within hours), slow (within days) or never (they do nothing). Owners
complete Tasks in Salesforce (one in ten "Not reachable"), agents reply in public and solve
tickets in Zendesk, all at whole simulated minutes, through the emulators' own record updates.
An escalation (the SLA's ``overdue`` Task) nudges a slow owner and agent to act within the hour.
A resolved loop is resurveyed by the rules (Delighted is asked to survey the person again a day
later); four in ten of those customers answer within two days of the survey being sent, through
the emulator, as a new response that nps-sync pulls like any other and that carries the loop's
``NPS Loop`` property. nps-sync runs a full pass every ``pass_every`` of simulated time, with the
same clock.

The simulation keeps its own record of what everyone did (the ground truth) and :func:`check`
compares nps-sync's state with it: every loop's state and timestamps, every SLA breach escalated
within one pass of its escalation time (and no loop escalated that was reached more than a pass
before), the report's figures equal to the ones computed from the truth, and no Task, ticket,
link, escalation or resurvey made twice; every resolved loop resurveyed (unless its customer
answered again first or was resurveyed within the cooldown), none that closed without contact,
each survey sent a day after its loop ended; every resurvey answer tied to its loop, once.

``python -m bench.loop_sim --days 90`` runs it with escalations on and off and prints the share
of detractors contacted within their SLA under each, the resurveys' response rate and the score
recovery.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from connectors.backoff import Backoff
from connectors.zendesk.client import ZendeskConnector
from emulators.world import EmulatedWorld
from emulators.zendesk.clock import ManualClock
from rules import load_rules
from sync.app.engine import Engine
from sync.app.runtime import connect_all, open_store
from sync.core.config import Config
from sync.core.config.writeback import OrganizationFieldMap, UserFieldMap
from sync.core.retry import RetryPolicy
from sync.loop.calendar import BusinessHours
from sync.loop.escalation.plan import SLA_FIRST_CONTACT_STEP, SLA_RESOLUTION_STEP
from sync.loop.metrics import LoopMetrics, LoopRecord, loop_metrics
from sync.loop.sla import records
from sync.state import StateStore
from sync.state.loops import LOOP_PROPERTY

RULES = Path(__file__).resolve().parent / "loop_sim_rules.yaml"
FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=1.0)
OVERDUE = "Overdue NPS follow-up: "
#: The SLA of every detractor's loop: first contact within 4 business hours, resolution within
#: 24 (three working days); the escalation runs 2 hours ahead of the first-contact deadline.
FIRST_CONTACT = timedelta(hours=4)
RESOLUTION = timedelta(hours=24)
ESCALATE_BEFORE = timedelta(hours=2)
PROFILES = (("fast", 0.5), ("slow", 0.4), ("never", 0.1))
#: The rules' resurvey (``win_back``): sent this long after the loop ended, to nobody resurveyed
#: within the cooldown.
RESURVEY_AFTER = timedelta(days=1)
RESURVEY_COOLDOWN = timedelta(days=90)
#: The share of resurveyed customers who answer, and the scores they give.
RESURVEY_ANSWERS = 0.4
RESURVEY_SCORES = (2, 4, 5, 6, 7, 7, 8, 8, 9, 9, 10)


@dataclass(frozen=True)
class SimSettings:
    days: int = 90
    answers_per_day: int = 6
    pass_every: timedelta = timedelta(hours=1)
    escalations: bool = True
    seed: int = 5
    #: Mirror status both ways (``loop.mirror``): a solved ticket completes its Task, a
    #: completed Task notes its ticket.
    mirror: bool = True


@dataclass
class Loop:
    """What the simulation knows of one detractor's loop: the ground truth."""

    source: str
    response_id: str
    email: str
    score: int
    answered_at: datetime
    profile: str
    task_id: str | None = None
    ticket_id: int | None = None
    made_at: datetime | None = None
    task_done_at: datetime | None = None
    task_outcome: str | None = None
    replied_at: datetime | None = None
    solved_at: datetime | None = None
    nudged_at: datetime | None = None
    #: The Task was completed by the status mirror (its ticket was solved), not its owner.
    mirrored: bool = False
    #: Surveys Delighted was asked to send naming this loop; when the first was asked for and
    #: when it is sent.
    resurveys: int = 0
    resurvey_asked_at: datetime | None = None
    resurvey_send_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.response_id}"

    @property
    def contacted_at(self) -> datetime | None:
        moments = [self.replied_at] if self.replied_at else []
        if self.task_done_at and self.task_outcome != "Not reachable" and not self.mirrored:
            moments.append(self.task_done_at)
        return min(moments) if moments else None

    @property
    def ended_at(self) -> datetime | None:
        if self.task_done_at is None or self.solved_at is None:
            return None
        return max(self.task_done_at, self.solved_at)

    @property
    def state(self) -> str:
        if self.ended_at is not None:
            return "resolved" if self.contacted_at else "closed"
        return "contacted" if self.contacted_at else "open"


@dataclass
class Answer:
    source: str
    response_id: str
    email: str
    score: int
    answered_at: datetime
    #: The loop this answers a resurvey of (``source:response id``).
    follows: str | None = None


@dataclass
class SimResult:
    settings: SimSettings
    loops: list[Loop]
    answers: list[Answer]
    now: datetime
    passes: int
    escalations_fired: int
    #: The report's figures from nps-sync's state, and the same figures from the ground truth.
    reported: LoopMetrics
    truth: LoopMetrics
    problems: list[str] = field(default_factory=list)

    @property
    def share_within_sla(self) -> float:
        return self.truth.share(self.truth.contacted_within_sla) or 0.0


class Simulation:
    """One run: a world of emulators on a manual clock, an engine, and the people."""

    def __init__(self, settings: SimSettings, directory: Path) -> None:
        self.settings = settings
        real_now = datetime.now(UTC).replace(second=0, microsecond=0)
        #: The Monday after today, midnight UTC: business hours start on day one.
        self.start = (real_now + timedelta(days=7 - real_now.weekday())).replace(hour=0, minute=0)
        self.now = self.start
        self.hours = BusinessHours()
        accounts = max(30, settings.days * settings.answers_per_day // 2)
        self.world = EmulatedWorld(seed=settings.seed, accounts=accounts, responses=0, end=real_now)
        self.world.salesforce.clock = lambda: self.now
        self.zd_clock = ManualClock(self.start.timestamp())
        self.world.zendesk.use_clock(self.zd_clock)
        self.world.delighted.clock = lambda: self.now.timestamp()
        self.directory = directory
        self.loops: dict[tuple[str, str], Loop] = {}
        self.answers: list[Answer] = []
        self.events: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.passes = 0
        self.fired = 0
        self._nudges_seen: set[str] = set()
        self._requests_seen = 0
        #: Resurveys that named no loop the simulation knows.
        self.stray_resurveys: list[str] = []
        with_user = {u.external_id for u in self.world.book.zendesk_users if u.external_id}
        self.people = [c for c in self.world.book.contacts if c.id in with_user]

    # -- the clock and the events --------------------------------------------------------------
    def at(self, moment: datetime, event: Callable[[], None]) -> None:
        heapq.heappush(self.events, (moment, next(self._order), event))

    def _advance(self, moment: datetime) -> None:
        step = (moment - self.now).total_seconds()
        if step > 0:
            self.zd_clock.advance(step)
            self.now = moment

    def _minutes(
        self, rng: random.Random, start: datetime, low: float, high: float, business: bool
    ) -> datetime:
        """``start`` plus a draw of whole minutes between ``low`` and ``high`` hours."""
        minutes = timedelta(minutes=rng.randint(int(low * 60), int(high * 60)))
        return self.hours.add(start, minutes) if business else start + minutes

    # -- the world -----------------------------------------------------------------------------
    def _schedule_answers(self) -> None:
        """Plan every answer up front, so that runs with and without escalations see the same
        customers: each day's answers from people who have not answered yet, half of them
        detractors, and three in ten detractors answering again 4 to 15 days later."""
        rng = random.Random(f"{self.settings.seed}:answers")
        people = iter(rng.sample(self.people, len(self.people)))
        end = self.start + timedelta(days=self.settings.days)
        for day in range(self.settings.days):
            midnight = self.start + timedelta(days=day)
            for _ in range(self.settings.answers_per_day):
                moment = midnight + timedelta(minutes=rng.randint(7 * 60, 21 * 60))
                email = next(people).email
                detractor = rng.random() < 0.5
                score = rng.randint(0, 6) if detractor else rng.randint(7, 10)
                self.at(moment, partial(self._answer, email, score))
                again = moment + timedelta(minutes=rng.randint(4 * 1440, 15 * 1440))
                if detractor and rng.random() < 0.3 and again < end:
                    self.at(again, partial(self._answer, email, rng.choice((5, 7, 8, 9, 10))))

    def _answer(self, email: str, score: int) -> None:
        response_id = self.world.delighted.add_response(
            email=email, score=score, comment="Simulated answer", created_at=self.now
        )
        self.answers.append(Answer("delighted", response_id, email, score, self.now))

    def _rng(self, loop: Loop, purpose: str) -> random.Random:
        """A draw of its own per loop and purpose: the same in every run of the seed."""
        return random.Random(f"{self.settings.seed}:{loop.response_id}:{purpose}")

    def _find_new_followups(self, store: StateStore) -> None:
        """Draw the people of each loop whose Task and ticket now exist, and plan their work."""
        followups = store.loops.followups(self.start)
        answers = {(a.source, a.response_id): a for a in self.answers}
        for key, items in followups.items():
            if key in self.loops or len(items) < 2 or key not in answers:
                continue
            answer = answers[key]
            loop = Loop(key[0], key[1], answer.email, answer.score, answer.answered_at, "")
            weights = [w for _, w in PROFILES]
            loop.profile = self._rng(loop, "profile").choices([p for p, _ in PROFILES], weights)[0]
            for item in items:
                if item.kind == "salesforce_task":
                    loop.task_id = item.external_id
                else:
                    loop.ticket_id = int(item.external_id)
            loop.made_at = max(item.created_at for item in items)
            self.loops[key] = loop
            self._plan_work(loop, loop.made_at)

    def _plan_work(self, loop: Loop, start: datetime, *, nudged: bool = False) -> None:
        if loop.profile == "never":
            return
        fast = loop.profile == "fast" or nudged
        rng = self._rng(loop, "nudged" if nudged else "work")
        minutes = partial(self._minutes, rng)
        if nudged:
            task_at = reply_at = minutes(start, 0.25, 0.75, business=False)
        elif fast:
            task_at = minutes(start, 0.5, 3, business=True)
            reply_at = minutes(start, 0.3, 2.5, business=True)
        else:
            task_at = minutes(start, 10, 30, business=True)
            reply_at = minutes(start, 8, 30, business=True)
        solve_at = minutes(reply_at, 2, 10 if fast else 16, business=True)
        outcome = "Not reachable" if self._rng(loop, "outcome").random() < 0.1 else None
        generation = loop.nudged_at

        def current() -> bool:
            return loop.nudged_at == generation

        def complete_task() -> None:
            if current() and loop.task_done_at is None and loop.task_id:
                fields: dict[str, Any] = {"Status": "Completed"}
                if outcome:
                    fields["NPS_Loop_Outcome__c"] = outcome
                self.world.salesforce.update_record("Task", loop.task_id, fields)
                loop.task_done_at, loop.task_outcome = self.now, outcome

        def reply() -> None:
            if current() and loop.replied_at is None and loop.ticket_id:
                self.world.zendesk.agent_replies(loop.ticket_id, "We are on it; I will call you.")
                loop.replied_at = self.now

        def solve() -> None:
            if current() and loop.solved_at is None and loop.replied_at and loop.ticket_id:
                self.world.zendesk.solve_ticket(loop.ticket_id)
                loop.solved_at = self.now

        if loop.task_done_at is None:
            self.at(task_at, complete_task)
        if loop.replied_at is None:
            self.at(reply_at, reply)
        if loop.solved_at is None:
            self.at(max(solve_at, reply_at), solve)

    def _see_mirrored_tasks(self) -> None:
        """A Task the status mirror completed is done: its owner has nothing left to do."""
        if not self.settings.mirror:
            return
        closed = {
            str(t["Id"]): str(t["CompletedDateTime"])
            for t in self.world.salesforce.records("Task")
            if t.get("IsClosed")
        }
        for loop in self.loops.values():
            if loop.task_done_at is None and loop.task_id in closed:
                loop.task_done_at = _sf_time(closed[loop.task_id])
                loop.mirrored = True

    def _see_resurveys(self) -> None:
        """Delighted was asked to survey someone again: some answer once it is sent."""
        requests = self.world.delighted.survey_requests()
        for request in requests[self._requests_seen :]:
            named = str(request["properties"].get(LOOP_PROPERTY, ""))
            source, _, response_id = named.partition(":")
            loop = self.loops.get((source, response_id))
            if loop is None:
                self.stray_resurveys.append(named)
                continue
            loop.resurveys += 1
            if loop.resurveys > 1:
                continue
            loop.resurvey_asked_at = datetime.fromtimestamp(request["requested_at"], UTC)
            loop.resurvey_send_at = datetime.fromtimestamp(request["send_at"], UTC)
            rng = self._rng(loop, "resurvey")
            if rng.random() < RESURVEY_ANSWERS:
                at = self._minutes(rng, loop.resurvey_send_at, 1, 48, business=False)
                self.at(at, partial(self._answer_resurvey, loop, rng.choice(RESURVEY_SCORES)))
        self._requests_seen = len(requests)

    def _answer_resurvey(self, loop: Loop, score: int) -> None:
        """The customer answers the survey their loop's resurvey sent, if it is still theirs."""
        pending = [
            s
            for s in self.world.delighted.scheduled_surveys()
            if s["email"].lower() == loop.email.lower()
        ]
        if not pending or pending[0]["properties"].get(LOOP_PROPERTY) != loop.key:
            return
        response_id = self.world.delighted.answer_scheduled(
            loop.email, score=score, comment="Simulated resurvey answer", created_at=self.now
        )
        self.answers.append(
            Answer("delighted", response_id, loop.email, score, self.now, follows=loop.key)
        )

    def _nudge(self) -> None:
        """An escalation Task reached its owner: the slow ones act within the hour."""
        by_email = {
            lp.email: lp
            for lp in sorted(self.loops.values(), key=lambda lp: lp.answered_at)
            if lp.ended_at is None
        }
        for task in self.world.salesforce.records("Task"):
            subject = str(task.get("Subject") or "")
            if not subject.startswith(OVERDUE) or task["Id"] in self._nudges_seen:
                continue
            self._nudges_seen.add(task["Id"])
            self.fired += 1
            loop = by_email.get(subject.removeprefix(OVERDUE))
            if loop is not None and loop.profile == "slow" and loop.contacted_at is None:
                loop.nudged_at = self.now
                self._plan_work(loop, self.now, nudged=True)

    # -- the run -------------------------------------------------------------------------------
    def config(self, state_url: str) -> Config:
        sla: dict[str, Any] = {
            "category": "detractor",
            "first_contact": "4h",
            "resolution": "24h",
        }
        if self.settings.escalations:
            sla |= {"escalate": "overdue", "escalate_before": "2h"}
        # Zendesk user and organization fields are written through bulk jobs that the client
        # waits on in real seconds; the loop does not need them.
        off = {
            "user": dict.fromkeys(UserFieldMap.model_fields, ""),
            "organization": dict.fromkeys(OrganizationFieldMap.model_fields, ""),
        }
        mirror = dict.fromkeys(
            ("ticket_solved_completes_task", "task_completed_notes_ticket"), self.settings.mirror
        )
        loop = {"sla": [sla], "mirror": mirror}
        data = self.world.config_data(
            state_url=state_url, rules=RULES, loop=loop, write_back={"zendesk": off}
        )
        return Config.model_validate(data)

    def run(self) -> SimResult:
        with self.world:
            config = self.config(f"sqlite:///{self.directory / 'state.db'}")
            store = open_store(config)
            try:
                connections = connect_all(config)
                helpdesk = connections.helpdesk
                if isinstance(helpdesk, ZendeskConnector):
                    # Poll Zendesk jobs at once: the simulation's time is its own, and the
                    # real seconds a client waits between polls say nothing about the loop.
                    helpdesk.jobs.backoff = Backoff(first=0.0, factor=1.0, cap=0.0)
                engine = Engine(
                    config,
                    store,
                    connections,
                    load_rules(config.rules),
                    clock=lambda: self.now,
                    retry=FAST_RETRY,
                )
                self._schedule_answers()
                end = self.start + timedelta(days=self.settings.days)
                next_pass = self.start
                while next_pass <= end:
                    while self.events and self.events[0][0] <= next_pass:
                        moment, _, event = heapq.heappop(self.events)
                        self._advance(moment)
                        event()
                    self._advance(next_pass)
                    report = engine.run_once()
                    if report.errors:
                        raise RuntimeError(f"pass at {self.now}: {report.errors[:3]}")
                    self.passes += 1
                    self._find_new_followups(store)
                    self._see_mirrored_tasks()
                    self._see_resurveys()
                    self._nudge()
                    next_pass += self.settings.pass_every
                return self._result(store, config)
            finally:
                store.close()

    def _result(self, store: StateStore, config: Config) -> SimResult:
        reported = loop_metrics(
            records(store.loops.facts(self.start), config.loop.sla, self.hours), self.now
        )
        truth = loop_metrics(self.truth_records(), self.now)
        result = SimResult(
            self.settings,
            list(self.loops.values()),
            self.answers,
            self.now,
            self.passes,
            self.fired,
            reported,
            truth,
        )
        result.problems = check(self, store, result)
        return result

    def truth_records(self) -> list[LoopRecord]:
        out: list[LoopRecord] = []
        for a in self.answers:
            loop = self.loops.get((a.source, a.response_id))
            due = self.deadlines(a) if a.score <= 6 else (None, None)
            out.append(
                LoopRecord(
                    source=a.source,
                    response_id=a.response_id,
                    email=a.email,
                    score=a.score,
                    answered_at=a.answered_at,
                    state=loop.state if loop else None,
                    contacted_at=loop.contacted_at if loop else None,
                    ended_at=loop.ended_at if loop else None,
                    contact_due=due[0],
                    resolution_due=due[1],
                    resurveyed=bool(loop and loop.resurveys),
                    follows=a.follows,
                )
            )
        return out

    def deadlines(self, answer: Answer | Loop) -> tuple[datetime, datetime]:
        return (
            self.hours.add(answer.answered_at, FIRST_CONTACT),
            self.hours.add(answer.answered_at, RESOLUTION),
        )


def check(sim: Simulation, store: StateStore, result: SimResult) -> list[str]:
    """Where nps-sync's state differs from the ground truth (empty: it never does)."""
    problems: list[str] = []
    stored = store.loops.current()
    detractors = [a for a in sim.answers if a.score <= 6]
    for a in detractors:
        key = (a.source, a.response_id)
        truth, mine = sim.loops.get(key), stored.get(key)
        if truth is None or mine is None:
            problems.append(f"{key}: a detractor without a loop (truth {truth}, state {mine})")
            continue
        seen = (mine.state, mine.contacted_at, mine.ended_at)
        want = (truth.state, truth.contacted_at, truth.ended_at)
        # the last pass may not have seen what happened after it
        if seen != want:
            problems.append(f"{key}: state {seen}, truth {want}")
    problems += _check_escalations(sim, store)
    problems += _check_resurveys(sim, store)
    if result.reported != result.truth:
        problems.append(f"report {result.reported} != truth {result.truth}")
    tasks = sim.world.salesforce.records("Task")
    markers = Counter(t["NPS_Sync_Key__c"] for t in tasks if t.get("NPS_Sync_Key__c"))
    problems += [f"Task key {k} made {n} times" for k, n in markers.items() if n > 1]
    tickets = Counter(t["external_id"] for t in sim.world.zendesk.tickets() if t["external_id"])
    problems += [f"ticket key {k} made {n} times" for k, n in tickets.items() if n > 1]
    for t in tasks:
        description = str(t.get("Description") or "")
        for line in ("Zendesk ticket:", "was solved on"):
            if description.count(line) > 1:
                problems.append(f"Task {t['Id']} has {line!r} {description.count(line)} times")
    for loop in sim.loops.values():
        if loop.ticket_id is None:
            continue
        notes = [
            c["body"]
            for c in sim.world.zendesk.comments(loop.ticket_id)
            if "Task of this NPS response was completed" in c["body"]
        ]
        if len(notes) > 1:
            problems.append(f"ticket {loop.ticket_id} got {len(notes)} Task notes")
        if notes and loop.mirrored:
            problems.append(f"ticket {loop.ticket_id} noted the Task its own solve completed")
    return problems


def _check_escalations(sim: Simulation, store: StateStore) -> list[str]:
    """Every loop not reached by its escalation time was escalated within one pass of it, once;
    none reached more than a pass before it was."""
    if not sim.settings.escalations:
        return []
    problems: list[str] = []
    step = sim.settings.pass_every
    fired = {(f.response_id, f.step): f for f in store.escalations.fired()}
    counts = Counter((f.response_id, f.step) for f in store.escalations.fired())
    problems += [f"step {k} fired {n} times" for k, n in counts.items() if n > 1]
    for loop in sim.loops.values():
        first_contact, resolution = sim.deadlines(loop)
        for number, deadline, met in (
            (SLA_FIRST_CONTACT_STEP, first_contact, loop.contacted_at),
            (SLA_RESOLUTION_STEP, resolution, loop.ended_at),
        ):
            fire_at = sim.hours.subtract(deadline, ESCALATE_BEFORE)  # business hours, as the SLA
            ended = loop.ended_at is not None and loop.ended_at <= fire_at
            breached = (met is None or met > fire_at) and not ended
            got = fired.get((loop.response_id, number))
            if breached and fire_at <= sim.now - step and got is None:
                problems.append(f"{loop.response_id} step {number}: not escalated at {fire_at}")
            if got is None:
                continue
            if not fire_at <= got.fired_at <= fire_at + step:
                problems.append(f"{loop.response_id}: escalated at {got.fired_at}, due {fire_at}")
            if met is not None and met < fire_at - step:
                problems.append(f"{loop.response_id}: escalated though met at {met}")
    return problems


def _check_resurveys(sim: Simulation, store: StateStore) -> list[str]:
    """Each resolved loop resurveyed once, a day after it ended, unless its customer answered
    again first or was resurveyed within the cooldown; none closed without contact; every
    resurvey answer tied to its loop and no other."""
    problems = [f"a resurvey names {named!r}, no loop" for named in sim.stray_resurveys]
    settle = 2 * sim.settings.pass_every
    requests = sim.world.delighted.survey_requests()
    for loop in sim.loops.values():
        if loop.resurveys > 1:
            problems.append(f"{loop.key}: resurveyed {loop.resurveys} times")
        if loop.resurveys and loop.state != "resolved":
            problems.append(f"{loop.key}: resurveyed though {loop.state}")
        if loop.resurvey_send_at is not None and loop.ended_at is not None:
            # a resurvey asked for late is sent at once
            due = max(loop.ended_at + RESURVEY_AFTER, loop.resurvey_asked_at or loop.ended_at)
            if loop.resurvey_send_at != due:
                problems.append(f"{loop.key}: survey sent {loop.resurvey_send_at}, due {due}")
        if loop.resurveys or loop.state != "resolved" or loop.ended_at is None:
            continue
        if loop.ended_at > sim.now - settle:
            continue
        answered_again = any(
            a.email == loop.email and loop.answered_at < a.answered_at <= loop.ended_at + settle
            for a in sim.answers
        )
        cooling = any(
            r["email"].lower() == loop.email.lower()
            and datetime.fromtimestamp(r["requested_at"], UTC) > loop.ended_at - RESURVEY_COOLDOWN
            for r in requests
        )
        if not answered_again and not cooling:
            problems.append(f"{loop.key}: resolved at {loop.ended_at}, never resurveyed")
    stored = {(f.source, f.response_id): f.follows for f in store.loops.facts(sim.start)}
    truth = {(a.source, a.response_id): a.follows for a in sim.answers}
    problems += [
        f"{key}: tied to loop {stored.get(key)}, truth {follows}"
        for key, follows in truth.items()
        if stored.get(key) != follows
    ]
    ties = Counter(follows for follows in stored.values() if follows)
    problems += [f"loop {k} has {n} resurvey answers" for k, n in ties.items() if n > 1]
    return problems


def _sf_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+0000", "+00:00"))


@contextmanager
def _directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="nps-loop-sim-") as name:
        yield Path(name)


def simulate(settings: SimSettings) -> SimResult:
    with _directory() as directory:
        return Simulation(settings, directory).run()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loop_sim",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--answers-per-day", type=int, default=6)
    parser.add_argument("--pass-every-minutes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    base = SimSettings(
        args.days, args.answers_per_day, timedelta(minutes=args.pass_every_minutes), True, args.seed
    )
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Closed-loop simulation, {args.days} days")
    for header in (
        "escalations",
        "detractors",
        "within SLA",
        "contacted",
        "resolved",
        "never reached",
        "escalated",
        "passes",
        "seconds",
        "problems",
    ):
        table.add_column(header)
    rows: list[tuple[bool, SimResult]] = []
    for on in (True, False):
        started = time.perf_counter()
        r = simulate(replace(base, escalations=on))
        seconds = time.perf_counter() - started
        rows.append((on, r))
        t = r.truth
        table.add_row(
            "on" if on else "off",
            str(t.detractors),
            f"{r.share_within_sla:.1%} ({t.contacted_within_sla})",
            str(t.contacted),
            str(t.resolved),
            str(t.never_contacted),
            str(r.escalations_fired),
            str(r.passes),
            f"{seconds:.0f}",
            str(len(r.problems)),
        )
        for problem in r.problems[:20]:
            print(problem)
    console = Console(width=120)
    console.print(table)
    console.print(_recovery_table(rows))


def _recovery_table(rows: list[tuple[bool, SimResult]]) -> Any:
    """Resurveys and score recovery per run, as ``loop report`` gives them (and whether they
    equal the ground truth)."""
    from rich.table import Table

    table = Table(title="Resurveys and score recovery (loop report)")
    for header in (
        "escalations",
        "resurveyed",
        "answered",
        "response rate",
        "before -> after",
        "came back at 7+",
        "answered again (all)",
        "before -> after",
        "equal to truth",
    ):
        table.add_column(header)
    for on, r in rows:
        rs, rec = r.reported.resurvey, r.reported.recovery
        rate = rs.response_rate
        table.add_row(
            "on" if on else "off",
            str(rs.sent),
            str(rs.answered),
            "-" if rate is None else f"{rate:.1%}",
            _before_after(rs.mean_before, rs.mean_after),
            str(rs.recovered),
            str(rec.pairs),
            _before_after(rec.mean_before, rec.mean_after),
            "yes" if (rs, rec) == (r.truth.resurvey, r.truth.recovery) else "NO",
        )
    return table


def _before_after(before: float | None, after: float | None) -> str:
    return "-" if before is None or after is None else f"{before:.2f} -> {after:.2f}"


if __name__ == "__main__":
    main()
