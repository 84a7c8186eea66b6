"""Executor of ``erase_records`` intents: the history records of forgotten answers, deleted.

``nps-sync forget`` queues one per history object (:mod:`sync.ops.forget`): the payload names
the object, its external id field and the records' external ids. Deleting what is gone already
is done, so a retry after an answer that was lost repeats nothing harmful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sync.core.ports import RecordEraser
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded, outcome_of
from sync.state import ClaimedAction

ERASE_KIND = "erase_records"
#: Fields set to nothing by ``nps-sync forget`` (carried out by a ``FieldUpdateExecutor``).
CLEAR_KIND = "clear_fields"


@dataclass
class RecordEraseExecutor:
    crm: RecordEraser
    retry: RetryPolicy
    kind: str = ERASE_KIND
    batch_size: int = 20

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        return [o for action in actions for o in guarded([action], partial(self._erase, action))]

    def _erase(self, action: ClaimedAction) -> list[Outcome]:
        payload = action.payload
        keys = [str(k) for k in payload["keys"]]
        call = partial(
            self.crm.delete_by_external_id,
            str(payload["object"]),
            str(payload["external_id_field"]),
            keys,
        )
        failed = [r for r in self.retry.call(call) if not r.ok]
        if not failed:
            return [Outcome(action.key, "done")]
        # Tried again as a whole (deleting the deleted ones again is done), or given up when
        # Salesforce refuses one for good (the dead-letter list then names it).
        worst = min((outcome_of(r) for r in failed), key=lambda o: _GRAVITY[o.result])
        error = f"{len(failed)} of {len(keys)} not deleted: {worst.key}: {worst.error}"
        return [Outcome(action.key, worst.result, error=error)]


#: Which outcome of one record decides the action's: given up before deferred before retried.
_GRAVITY = {"dead": 0, "defer": 1, "retry": 2, "done": 3}
