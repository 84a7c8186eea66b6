"""In-memory emulator of the Zendesk Support API subset nps-sync uses.

Covered (``/api/v2/<path>`` with or without ``.json``): users (show, show_many with the
``open_ticket_count`` sideload, list by external id, exact-email search, create, update,
create_or_update, create_many, create_or_update_many, update_many, requested tickets, delete),
organizations (show, show_many, search by external id, list, create, update, create_many,
update_many, tickets, delete), tickets (create with Idempotency-Key, create_many, show,
show_many, list by external id, update with comments, update_many, comments, audits, delete),
general search by exact terms, job statuses, brands, groups, ticket/user/organization fields,
the cursor incremental ticket export and the time-based ticket and user exports. Offset and
cursor pagination, rate limits with ``Retry-After``, and Zendesk's error bodies throughout: a
path no route serves is 404 ``InvalidEndpoint``, a missing record 404 ``RecordNotFound``.
"""

from .app import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator

__all__ = ["DEFAULT_AGENT_EMAIL", "DEFAULT_TOKEN", "ZendeskEmulator"]
