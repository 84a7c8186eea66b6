"""How long to wait between polls of a background job (a Zendesk bulk job, a Bulk 2.0 job).

Short at first, so a small job is seen done soon after it is; growing by ``factor`` up to
``cap``, so a long job costs a handful of polls instead of one every couple of seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: The longest wait between two polls unless a caller says otherwise.
DEFAULT_CAP = 5.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays of ``first``, ``first * factor``, ... never more than ``cap`` seconds."""

    first: float = 0.5
    factor: float = 1.5
    cap: float = DEFAULT_CAP

    def __post_init__(self) -> None:
        if self.first < 0 or self.factor < 1 or self.cap < self.first:
            raise ValueError("a backoff needs first >= 0, factor >= 1 and cap >= first")

    def delays(self) -> Iterator[float]:
        """The waits before each poll, for as many polls as it takes."""
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)
