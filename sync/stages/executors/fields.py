"""Executor of ``update_fields`` intents: values written to the records matched to a response.

Setting a field to a value twice has the same effect as once, so these need no marker lookup. The
payload names the system, the object (``Account``/``Contact``; ``user``/``organization``), the
record id and the rendered values. Writes are grouped per object into the connectors' batched
updates; one batch never names a record twice (two responses of one account in the same pass are
written in the order they were submitted, the later last), so each result maps back to exactly
one intent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from connectors.models import FieldUpdate, WriteResult
from sync.core.ports import HelpdeskUpdates, RecordUpdates
from sync.core.retry import RetryPolicy
from sync.stages.act import Outcome, guarded, outcome_of
from sync.state import ClaimedAction

Writer = Callable[[Sequence[FieldUpdate]], list[WriteResult]]


@dataclass
class FieldUpdateExecutor:
    crm: RecordUpdates
    helpdesk: HelpdeskUpdates
    retry: RetryPolicy
    kind: str = "update_fields"
    batch_size: int = 100

    def writer(self, system: str, object_type: str) -> Writer | None:
        """The connector call that updates this kind of record."""
        writers: dict[tuple[str, str], Writer] = {
            ("salesforce", "Account"): self.crm.update_records,
            ("salesforce", "Contact"): self.crm.update_records,
            ("zendesk", "user"): self.helpdesk.update_users,
            ("zendesk", "organization"): self.helpdesk.update_organizations,
        }
        return writers.get((system, object_type))

    def execute(self, actions: Sequence[ClaimedAction]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        groups: dict[tuple[str, str], list[ClaimedAction]] = {}
        for action in actions:
            target = (str(action.payload["system"]), str(action.payload["object"]))
            if self.writer(*target) is None:
                why = f"cannot update {target[0]} {target[1]} records"
                outcomes.append(Outcome(action.key, "dead", error=why))
                continue
            groups.setdefault(target, []).append(action)
        for (system, object_type), group in groups.items():
            writer = self.writer(system, object_type)
            assert writer is not None
            for round_ in _distinct_records(group):
                outcomes.extend(guarded(round_, partial(self._write, writer, object_type, round_)))
        return outcomes

    def _write(
        self, writer: Writer, object_type: str, actions: Sequence[ClaimedAction]
    ) -> list[Outcome]:
        by_record = {str(a.payload["record_id"]): a.key for a in actions}
        updates = [
            FieldUpdate(object_type, str(a.payload["record_id"]), dict(a.payload["values"]))
            for a in actions
        ]
        results = self.retry.call(partial(writer, updates))
        outcomes = []
        for result in results:
            outcome = outcome_of(result)
            outcomes.append(
                Outcome(
                    by_record[result.record_id],
                    outcome.result,
                    external_id=result.record_id if result.ok else "",
                    error=outcome.error,
                )
            )
        return outcomes


def _distinct_records(actions: Sequence[ClaimedAction]) -> list[list[ClaimedAction]]:
    """Split into rounds in which each record appears once, keeping the order per record."""
    rounds: list[list[ClaimedAction]] = []
    depth: dict[str, int] = {}
    for action in sorted(actions, key=lambda a: str(a.payload.get("submitted_at", ""))):
        record = str(action.payload["record_id"])
        level = depth.get(record, 0)
        depth[record] = level + 1
        if level == len(rounds):
            rounds.append([])
        rounds[level].append(action)
    return rounds
