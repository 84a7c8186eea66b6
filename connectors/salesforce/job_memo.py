"""The finished Bulk query jobs of a lookup that failed part-way, kept for its retry.

A lookup of tens of thousands of values runs as several jobs, one after another. When one of
them fails for good (it ends ``Failed`` on a timeout, or its requests keep failing), the caller
retries the lookup, and the retry would otherwise run every job again, the finished ones too.
Their records are kept only for the same lookup asked again soon (the same job queries within
``max_age`` seconds of the first attempt), for a few lookups at most.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

Records = list[dict[str, Any]]


class FinishedJobs:
    """Runs a lookup's job queries in order, reusing what an earlier attempt finished."""

    def __init__(
        self,
        *,
        lookups: int = 4,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookups = lookups
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        #: Job queries of a failed lookup -> (when its first attempt began, records per query).
        self._kept: OrderedDict[tuple[str, ...], tuple[float, dict[str, Records]]] = OrderedDict()

    def run(self, queries: Sequence[str], job: Callable[[str], Records]) -> Records:
        """The records of every query, each run by ``job`` unless a recent attempt finished it;
        when a job fails, the ones finished are kept for the next attempt and the error raised."""
        key = tuple(queries)
        now = self._clock()
        with self._lock:
            kept = self._kept.pop(key, None)
        began, done = kept if kept and now - kept[0] <= self.max_age else (now, {})
        try:
            for query in queries:
                if query not in done:
                    done[query] = job(query)
        except BaseException:
            if done:
                with self._lock:
                    self._kept[key] = (began, done)
                    while len(self._kept) > self.lookups:
                        self._kept.popitem(last=False)
            raise
        return [record for query in queries for record in done[query]]
