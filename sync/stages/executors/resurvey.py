"""Executor of ``resurvey`` intents: the survey tool surveys the person again after their loop.

A resurvey waits in the outbox until its response's loop ends. Once the loop is ``resolved``,
the survey tool is asked to send a survey ``after`` the loop's end (Delighted's ``delay``, so
the request is made at once and nps-sync need not wake up then), with the loop's key as the
``NPS Loop`` property: the answer comes back carrying it, which ties it to the loop. A loop that
closed without anyone reaching the customer is not resurveyed.

Nobody is surveyed too often: a person resurveyed within the action's ``cooldown`` (another
loop's resurvey that was sent), or who answered again on their own after the loop's response, is
not asked. A request that may have landed already (a crash before it was recorded) is not sent
again when the person has a survey pending. Such actions end as done without an external id;
a sent one records the survey tool's person id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sync.core.ports import SurveyScheduler
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded
from sync.state import ClaimedAction, StateStore
from sync.state.loops import LOOP_PROPERTY, RESURVEY_KIND

__all__ = ["KIND", "LOOP_PROPERTY", "ResurveyExecutor"]

log = logging.getLogger(__name__)

KIND = RESURVEY_KIND
#: How long a resurvey waits before it looks at its loop again.
RECHECK = timedelta(hours=6)


def utcnow() -> datetime:
    return datetime.now(UTC)


def loop_key(source: str, response_id: str) -> str:
    return f"{source}:{response_id}"


@dataclass
class ResurveyExecutor:
    #: The survey tools that can schedule surveys, by source name.
    tools: Mapping[str, SurveyScheduler]
    store: StateStore
    retry: RetryPolicy
    clock: Callable[[], datetime] = utcnow
    kind: str = KIND
    batch_size: int = 50
    recheck: timedelta = RECHECK

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        loops = self.store.loops.current([(a.source, a.response_id) for a in actions])
        emails = [str(a.payload.get("email") or "") for a in actions]
        answers = self.store.tickets.history(emails)
        now = self.clock()
        longest = max((_seconds(a, "cooldown_seconds") for a in actions), default=0)
        sent: dict[str, datetime] = {}
        for row in self.store.outbox.done_since(KIND, now - timedelta(seconds=longest)):
            email = str(row.payload.get("email") or "").lower()
            if row.created_at is not None and email:
                sent[email] = max(sent.get(email, row.created_at), row.created_at)
        outcomes: list[Outcome] = []
        for action in actions:
            loop = loops.get((action.source, action.response_id))
            if loop is None or loop.state in ("open", "contacted"):
                why = "waiting for the loop to be resolved"
                outcomes.append(
                    Outcome(action.key, "defer", error=why, not_before=now + self.recheck)
                )
                continue
            email = str(action.payload.get("email") or "").lower()
            reason = self._not_asked(action, loop.state, email, sent, answers, now)
            if reason:
                log.info(
                    "No resurvey for %s: %s", loop_key(action.source, action.response_id), reason
                )
                outcomes.append(Outcome(action.key, "done"))
                continue
            assert loop.ended_at is not None
            due = loop.ended_at + timedelta(seconds=_seconds(action, "after_seconds"))
            outcomes.extend(guarded([action], partial(self._ask, action, email, due, now)))
            sent[email] = now
        return outcomes

    def _not_asked(
        self,
        action: ClaimedAction,
        state: str,
        email: str,
        sent: Mapping[str, datetime],
        answers: Mapping[str, Sequence[object]],
        now: datetime,
    ) -> str:
        """Why this person is not to be asked again ("" when they are)."""
        if state != "resolved":
            return f"the loop ended {state} without reaching the customer"
        if not email:
            return "the response has no email"
        if action.source not in self.tools:
            return f"source {action.source!r} cannot schedule surveys"
        cooldown = timedelta(seconds=_seconds(action, "cooldown_seconds"))
        last = sent.get(email)
        if last is not None and last > now - cooldown:
            return f"resurveyed within the cooldown ({last:%Y-%m-%d})"
        answered = _answered_at(action)
        for past in answers.get(email, ()):
            created = getattr(past, "created_at", None)
            if answered is not None and created is not None and _aware(created) > answered:
                return "answered again since"
        return ""

    def _ask(
        self, action: ClaimedAction, email: str, due: datetime, now: datetime
    ) -> list[Outcome]:
        tool = self.tools[action.source]
        if action.attempts > 1:
            pending = self.retry.call(partial(tool.pending_survey, email))
            if pending is not None:
                return [
                    Outcome(action.key, "done", external_id=pending.person_id, found_existing=True)
                ]
        properties = {
            **{str(k): str(v) for k, v in (action.payload.get("properties") or {}).items()},
            LOOP_PROPERTY: loop_key(action.source, action.response_id),
        }
        delay = max(int((due - now).total_seconds()), 0)
        made = self.retry.call(
            partial(
                tool.schedule_survey,
                email,
                name=str(action.payload.get("person_name") or ""),
                delay_seconds=delay,
                properties=properties,
            )
        )
        return [Outcome(action.key, "done", external_id=made.person_id)]


def _seconds(action: ClaimedAction, name: str) -> int:
    value = action.payload.get(name)
    return int(value) if isinstance(value, int | float) else 0


def _answered_at(action: ClaimedAction) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(str(action.payload.get("submitted_at"))))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
