"""Keeping the lease of a claimed batch while it runs, and fencing its writes with it.

A lease that runs out under a worker still acting (slowed by retries, backoff or a slow API) lets
another worker claim the same actions: both would act. So while a batch runs, its leases are
renewed every third of their length, and immediately before every request that writes to an
external system (:mod:`connectors.write_guard`) the worker renews them again, conditionally:
only while it still owns every one of them and none has run out. If it does not, the batch is
abandoned with :class:`LeaseLostError` before the request is sent; the new owner finds, by the
actions' markers, whatever effect the batch had before.

A renewal less than a tenth of the lease old is not repeated before a write: no other worker can
take over a lease before it runs out, so the batch still holds at least nine tenths of it. The
writes of one batch follow each other within seconds, and each renewal rewrote every action of
the batch (2,500 rows for a batch of tickets; 45 renewals in a first sync of 10,000).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from connectors.write_guard import guarding_writes
from sync.state import ClaimedAction, StateStore

log = logging.getLogger(__name__)


#: The share of the lease within which a renewal need not be repeated before a write.
FRESH = 0.1


class LeaseLostError(Exception):
    """The worker no longer holds the lease of (part of) its batch: it must stop acting on it."""


class BatchLease:
    """The leases of one claimed batch, renewed in the background and checked before writes."""

    def __init__(
        self,
        store: StateStore,
        owner: str,
        actions: Sequence[ClaimedAction],
        *,
        lease: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._owner = owner
        self.keys = [a.key for a in actions]
        self._lease = lease
        self._now = now
        self._lost: set[str] = set()
        #: When the leases were last renewed by this worker (by ``now``), if they were.
        self._renewed: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def held(self) -> list[str]:
        """The keys whose lease was not found lost."""
        with self._lock:
            return [k for k in self.keys if k not in self._lost]

    def check(self) -> None:
        """Renew every lease of the batch now (unless this worker did within the last tenth of
        the lease, by a clock that did not go back); raise :class:`LeaseLostError` if one is
        gone."""
        with self._lock:
            now = self._now()
            renewed = self._renewed
            fresh = renewed is not None and renewed <= now < renewed + self._lease * FRESH
            if not self._lost and not fresh:
                kept = self._store.outbox.renew(self._owner, self.keys, lease=self._lease, now=now)
                self._lost.update(set(self.keys) - kept)
                self._renewed = now
            if self._lost:
                raise LeaseLostError(
                    f"{len(self._lost)} of {len(self.keys)} leases of the batch lost"
                )

    def _keep(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.check()
            except LeaseLostError:
                return
            except Exception:  # the state store may be unreachable for a moment: try again
                log.warning("could not renew the leases of a running batch", exc_info=True)

    @contextmanager
    def kept(self) -> Iterator[BatchLease]:
        """Renew the leases in the background and check them before every write, meanwhile."""
        every = max(self._lease.total_seconds() / 3, 0.05)
        keeper = threading.Thread(target=self._keep, args=(every,), name="lease", daemon=True)
        keeper.start()
        try:
            with guarding_writes(self.check):
                yield self
        finally:
            self._stop.set()
            keeper.join()
