"""Background jobs of bulk writes: waiting for a job status and reading its per-item results.

Zendesk runs ``create_many`` / ``update_many`` / ``create_or_update_many`` as jobs whether or not
anyone polls them, so a job that outlives our patience is reported as retryable: the records it
created are found by their idempotency keys on the next attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from connectors.errors import RetryableError
from connectors.models import WriteResult
from connectors.zendesk import errors

SYSTEM = "zendesk"
_RUNNING = ("queued", "working")


class JobWaiter:
    """Polls ``job_statuses/{id}`` with a growing interval until the job ends or time runs out."""

    def __init__(
        self,
        call: Callable[..., Any],
        client: Any,
        *,
        timeout: float = 120.0,
        interval: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._call = call
        self._client = client
        self.timeout = timeout
        self.interval = interval
        self._sleep = sleep

    def wait(self, job: Any) -> Any:
        """The finished job status; raises :class:`RetryableError` if it failed or timed out."""
        deadline = time.monotonic() + self.timeout
        delay = self.interval
        status = job
        while getattr(status, "status", None) in _RUNNING:
            if time.monotonic() > deadline:
                raise RetryableError(
                    f"job {job.id} still {status.status} after {self.timeout:.0f}s", system=SYSTEM
                )
            self._sleep(delay)
            delay = min(delay * 2, 2.0)
            status = self._call(lambda: self._client.job_status(id=job.id))
        if getattr(status, "status", None) != "completed":
            raise RetryableError(
                f"job {job.id} ended {getattr(status, 'status', '?')}: "
                f"{getattr(status, 'message', '')}",
                system=SYSTEM,
            )
        return status


def job_results(job: Any, keys: Sequence[str], *, by_id: bool = False) -> list[WriteResult]:
    """One result per key, from a finished job's ``results``.

    ``create_many`` results carry the ``index`` of each item; ``update_many`` results carry the
    record ``id`` instead, so updates are matched by id (``by_id``).
    """
    found: dict[str, Any] = {}
    for position, item in enumerate(job.results or []):
        if by_id:
            found[str(getattr(item, "id", ""))] = item
        else:
            index = getattr(item, "index", None)
            found[keys[int(index if index is not None else position)]] = item
    results: list[WriteResult] = []
    for key in keys:
        item = found.get(key)
        if item is None:
            results.append(
                WriteResult(
                    key,
                    False,
                    error="no result in job status",
                    code="missing",
                    tier=errors.record_tier("missing"),
                )
            )
            continue
        error = getattr(item, "error", None) or getattr(item, "details", None)
        success = getattr(item, "success", None)
        if error or success is False:
            results.append(
                WriteResult(
                    key,
                    False,
                    error=str(error or "failed"),
                    code="job",
                    tier=errors.record_tier("job"),
                )
            )
        else:
            results.append(WriteResult(key, True, external_id=str(getattr(item, "id", "") or "")))
    return results
