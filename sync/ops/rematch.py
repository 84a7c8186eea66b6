"""``nps-sync unmatched rematch``: match the review list again and route what now matches.

After an admin fixed the config (an alias, the matching order) or the CRM (a contact's email, an
account's domain), the responses on the review list are matched again with the current settings,
in batches, under the route lock the daemon's routing takes too. A response that now matches is
routed through the normal route stage: its decision, action intents and write-back work are
stored together, and the drain stages then act on them and write its fields back. Action keys
are ``sha256(source, response id, rule, action)``, so an action already taken for the response
while it was unmatched is not taken again, and a second rematch finds nothing new to do.
Responses still unmatched keep their stored match and decision; one with a newer version waiting
to be routed is left to the next pass, which matches it anyway.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from more_itertools import chunked

from sync.app.engine import Engine, RunReport


@dataclass
class RematchResult:
    """What matching the review list again found."""

    reviewed: int = 0
    #: Responses that now match, by the step that matched them (email, alias, domain, ...).
    matched: Counter[str] = field(default_factory=Counter)
    still_unmatched: int = 0
    #: Responses with a newer version waiting: the next pass matches and routes them.
    waiting: int = 0
    #: Another worker held the route lock: nothing was matched (run again in a moment).
    busy: bool = False

    @property
    def now_matched(self) -> int:
        return sum(self.matched.values())


def rematch(engine: Engine) -> tuple[RematchResult, RunReport]:
    """Match the review list again, route what now matches, then act and write back.

    Recorded as a run of kind ``rematch`` (``nps-sync status`` lists it).
    """
    result = RematchResult()

    def stage(report: RunReport, started: datetime) -> None:
        store = engine.store
        with store.locks.singleton("route") as mine:
            if not mine:
                result.busy = True
                return
            ruleset = engine.refresh_rules()
            context = engine.resolve_task_queues(report)
            listed = store.inbox.unmatched()
            current = [row for row in listed if row.routed_version == row.version]
            result.reviewed = len(listed)
            result.waiting = len(listed) - len(current)
            for batch in chunked(current, engine.config.batch_size):
                matches = engine.match(batch)
                fixed = []
                for row in batch:
                    match = matches[(row.response.source, row.response.response_id)]
                    if match.status == "matched":
                        result.matched[match.method] += 1
                        fixed.append(row)
                    else:
                        result.still_unmatched += 1
                if fixed:
                    engine.route_matched(fixed, matches, ruleset, context, report, engine.clock())

    report = engine.run_stages("rematch", stage, drain=True)
    return result, report
