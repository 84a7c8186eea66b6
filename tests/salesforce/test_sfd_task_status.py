"""Escalation steps watch their Tasks: which are closed is read 200 Tasks a query, each query
retried on its own, against the emulator through the real connector."""

from __future__ import annotations

from datetime import date

from connectors.models import FieldUpdate, TaskSpec
from connectors.salesforce.client import SalesforceConnector
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import RetryPolicy
from sync.loop.escalation.resolution import Original, TaskStatusCheck
from tests.support import QueryCutter

RETRY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)


def test_a_flaky_link_does_not_stop_watched_tasks_being_read(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """450 watched Tasks take three queries. Every second query of the org is cut off: each
    query, retried on its own, gets through; retried as one read, every try met a cut."""
    specs = [
        TaskSpec(f"k{i}", "Call", "", org.default_user_id, date(2026, 1, 5)) for i in range(450)
    ]
    ids = [str(r.external_id) for r in crm.create_tasks(specs)]
    crm.update_records([FieldUpdate("Task", i, {"Status": "Completed"}) for i in ids[::3]])
    originals = [
        Original(f"key-{i}", "salesforce_task", task_id, "rule", "test", str(i))
        for i, task_id in enumerate(ids)
    ]
    every_second_query_cut = QueryCutter(every=2)
    org.observers.append(every_second_query_cut)
    resolved = TaskStatusCheck(crm, RETRY).resolved(originals)
    assert resolved == {f"key-{i}" for i in range(0, 450, 3)}
    assert every_second_query_cut.queries == 5  # three queries, the second and third cut once each
