"""Batched lookups in parts of one query each, each part retried on its own.

A lookup of thousands of values takes many queries (200 values each). Retried as one, every
try needs all of its queries to succeed in a row, which a steady fault rate denies: with 20% of
requests failing, the 14 queries of 2,800 emails all get through one try in 23, and when the
tries run out the pass stops. Here each part is one query's worth of values, retried on its
own (the caller's ``lookup`` holds the retry). A part whose tries run out leaves only its own
values *unanswered*, for the caller to ask again later, while the other parts are answered.

The system is taken for unavailable, and the error raised, only when nothing was answered: no
part of this lookup and no earlier lookup of the caller's pass. A deferral (a long
``Retry-After``) and a configuration error are raised at once. Values the system refuses on
their own are narrowed down by :func:`~sync.stages.isolate.isolate`, within their part.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from more_itertools import chunked

from connectors.errors import RetryableError
from sync.stages.isolate import isolate

T = TypeVar("T", bound=Hashable)


@dataclass
class PartedLookups(Generic[T]):
    """What the lookups of one pass to one system left: values refused and values unanswered.

    ``answered`` says whether any part of any lookup of the pass got its answer: once the
    system has answered, a part that keeps failing is bad luck, not an outage.
    """

    #: Values the system refused on their own (a 400 for that value), with why: for good.
    refused: dict[T, str] = field(default_factory=dict)
    #: Values whose part still failed after its retries, with the error: ask again later.
    unanswered: dict[T, RetryableError] = field(default_factory=dict)
    answered: bool = False

    def look_up(
        self, values: Sequence[T], lookup: Callable[[Sequence[T]], None], *, size: int
    ) -> None:
        """Run ``lookup`` (which keeps what it finds and retries on its own) on ``values``,
        ``size`` values per call; see the module's docstring for what a failure does."""
        failed: RetryableError | None = None
        for part in chunked(values, max(size, 1)):
            try:
                self.refused.update(isolate(part, lookup))
            except RetryableError as exc:
                failed = exc
                self.unanswered.update(dict.fromkeys(part, exc))
                continue
            self.answered = True
            for value in part:
                self.unanswered.pop(value, None)
        if failed is not None and not self.answered:
            raise failed
