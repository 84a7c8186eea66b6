"""A backfill's history records, written while the import goes on.

The import is paced by reading the survey source one page after another, and most of what a
backfill writes is the per-response history object, whose records need only each response and
its match. So they are sent as each batch is recorded, in the write-out's own batches
(:class:`~sync.stages.writeback.send.BatchSender`, Bulk API 2.0 above the threshold), while the
next pages are read, instead of after the last page. They are planned from the responses and
matches the import has in hand, as it records them, not read back from the store. The write-out
at the end plans them again and sends only those that did not land or changed since.

Nothing here clears the write-back queue: a backfill killed while these are in flight (written or
not) has its re-run's write-out send whatever is not known to have landed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sync.core.catalogue import TEXT_HISTORY_FIELDS
from sync.core.config import Config
from sync.core.ports import WriteBackCrm
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import field_map
from sync.fields.history import history_records
from sync.stages.comment_text import stored_fields
from sync.stages.writeback import Plan, WriteBackStats, changes
from sync.stages.writeback.plan import whole_upserts
from sync.stages.writeback.send import BatchSender, Landed, writers_for
from sync.state import StateStore, StoredResponse


class EarlyHistory:
    """Writes the history records of recorded responses in the background, batch by batch."""

    def __init__(
        self,
        store: StateStore,
        config: Config,
        crm: WriteBackCrm,
        retry: RetryPolicy,
        now: datetime,
    ) -> None:
        self._store = store
        self._fmap = field_map(config)
        history = self._fmap.history
        self._texts = history is not None and bool(set(TEXT_HISTORY_FIELDS) & set(history.fields))
        #: The records that landed, for the write-out to leave alone unless they changed since.
        self.landed = Landed()
        self._sender = (
            BatchSender(writers_for(config, self._fmap, crm, None), store, retry, now, self.landed)
            if history is not None
            else None
        )

    def add(self, rows: Sequence[StoredResponse]) -> None:
        """Plan the history records of these responses, as just recorded routed, and send them
        once a batch is full; nothing more once Salesforce has deferred."""
        sender, history = self._sender, self._fmap.history
        if sender is None or history is None or not rows or sender.deferred():
            return
        comments = stored_fields(self._store, rows) if self._texts else None
        records = history_records(rows, history, comments)
        if not records:
            return
        plan = Plan({("salesforce", history.object): records})
        part, _ = changes(plan, sender.written)
        sender.add(whole_upserts(part, plan, self._fmap))

    def finish(self) -> WriteBackStats:
        """Send what is pending and wait for it; what was written and what failed."""
        if self._sender is None:
            return WriteBackStats()
        try:
            self._sender.flush()
        finally:
            self._sender.close()
        return self._sender.stats

    def close(self) -> None:
        """Stop without sending what is pending (the write-out plans it again)."""
        if self._sender is not None:
            self._sender.close()
