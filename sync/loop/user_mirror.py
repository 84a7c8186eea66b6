"""Keeping the mirror of Zendesk's users current, once a pass, from the incremental export.

``refresh_user_mirror`` reads Zendesk's cursor-based user export on from the stored cursor
(from the very first user on the first run), at most ``max_pages`` requests of 1,000 users, and
stores each page with the cursor after it (:class:`sync.state.ZendeskUsers`). A usual pass reads
one page: the users written since the last one. A first run on a large account reads its users
over several passes at the export's own limit (10 requests a minute); until the export reached
its end once, :class:`UserDirectory` is not ready and lookups search instead.

:class:`UserDirectory` answers lookups from the mirror while the export reached its end
recently (``zendesk.matching.user_mirror_max_age_minutes``): a respondent the mirror does not
hold is not in Zendesk, and costs no request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from connectors.models import ZendeskUser
from connectors.zendesk.records import ExportedUser
from sync.core.ports import UserExport
from sync.loop.export_mirror import MirrorStats, Page, follow_export
from sync.state import StateStore

log = logging.getLogger(__name__)


def refresh_user_mirror(
    store: StateStore, helpdesk: UserExport, now: datetime, *, max_pages: int = 10
) -> MirrorStats:
    """Read the export on from the stored cursor, ``max_pages`` requests at most (none while
    the exports were told to wait, :mod:`sync.loop.export_pause`)."""

    def read(cursor: str | None) -> Page[ExportedUser]:
        if cursor is not None:
            page = helpdesk.export_users(cursor=cursor)
        else:  # every user there is
            page = helpdesk.export_users(start_time=0)
        return Page(page.users, page.after_cursor, page.end_of_stream)

    stats = follow_export(store, store.zendesk_users, read, now, max_pages=max_pages)
    log.debug("user mirror: %d pages, %d users", stats.pages, stats.seen)
    return stats


class UserDirectory:
    """Zendesk users by email and by external id, from the mirror."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def ready(self, now: datetime, max_age: timedelta) -> bool:
        """Whether the export reached its end within ``max_age``: the mirror holds everyone."""
        caught_up = self.store.zendesk_users.caught_up_at()
        return caught_up is not None and now - caught_up <= max_age

    def by_emails(self, emails: Iterable[str]) -> dict[str, ZendeskUser]:
        return self.store.zendesk_users.by_emails(emails)

    def find_users_by_external_id(self, external_ids: Iterable[str]) -> dict[str, ZendeskUser]:
        return self.store.zendesk_users.by_external_ids(external_ids)

    def find_user_by_email(self, email: str) -> ZendeskUser | None:
        return self.by_emails([email]).get(email.lower())
