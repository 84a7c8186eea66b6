"""The route table: method, path under ``/api/v2`` (``.json`` optional), counter name, handler.

Counter names are what ``EmulatorApp.calls`` counts and what fault injection matches on.
"""

from __future__ import annotations

from collections.abc import Callable

from emulators.base import Response

from . import bulk, catalog, incremental, organizations, search, tickets, users
from .context import Call, Context

Handler = Callable[[Context, Call], Response]

INCREMENTAL_TICKETS = "incremental_tickets"
INCREMENTAL_USERS = "incremental_users"
#: Every incremental export shares the exports' own budget (10 requests a minute).
INCREMENTAL_EXPORTS = frozenset(
    {
        INCREMENTAL_TICKETS,
        INCREMENTAL_USERS,
        "incremental_tickets_by_time",
        "incremental_users_by_time",
        "incremental_ticket_events",
    }
)
_ID = r"(?P<id>\d+)"

ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    # users
    ("GET", "users/me", "users_me", users.me),
    ("GET", "users/show_many", "users_show_many", users.show_many),
    ("GET", "users/search", "users_search", users.search),
    ("POST", "users/create_or_update", "users_create_or_update", users.create_or_update),
    (
        "POST",
        "users/create_or_update_many",
        "users_create_or_update_many",
        users.create_or_update_many,
    ),
    ("POST", "users/create_many", "users_create_many", users.create_many),
    ("PUT", "users/update_many", "users_update_many", users.update_many),
    ("GET", f"users/{_ID}/tickets/requested", "users_tickets_requested", tickets.requested),
    ("GET", f"users/{_ID}", "users_show", users.show),
    ("PUT", f"users/{_ID}", "users_update", users.update),
    ("DELETE", f"users/{_ID}", "users_delete", users.delete),
    ("GET", "users", "users_list", users.list_users),
    ("POST", "users", "users_create", users.create),
    # organizations
    ("GET", "organizations/show_many", "organizations_show_many", organizations.show_many),
    ("GET", "organizations/search", "organizations_search", organizations.search),
    ("POST", "organizations/create_many", "organizations_create_many", organizations.create_many),
    ("PUT", "organizations/update_many", "organizations_update_many", organizations.update_many),
    ("GET", f"organizations/{_ID}/tickets", "organizations_tickets", tickets.of_organization),
    ("GET", f"organizations/{_ID}", "organizations_show", organizations.show),
    ("PUT", f"organizations/{_ID}", "organizations_update", organizations.update),
    ("DELETE", f"organizations/{_ID}", "organizations_delete", organizations.delete),
    ("GET", "organizations", "organizations_list", organizations.list_organizations),
    ("POST", "organizations", "organizations_create", organizations.create),
    # tickets
    ("GET", "tickets/show_many", "tickets_show_many", tickets.show_many),
    ("POST", "tickets/create_many", "tickets_create_many", tickets.create_many),
    ("PUT", "tickets/update_many", "tickets_update_many", tickets.update_many),
    ("GET", f"tickets/{_ID}/comments", "tickets_comments", tickets.comments),
    ("GET", f"tickets/{_ID}/audits", "tickets_audits", tickets.audits),
    ("GET", f"tickets/{_ID}", "tickets_show", tickets.show),
    ("PUT", f"tickets/{_ID}", "tickets_update", tickets.update),
    ("DELETE", f"tickets/{_ID}", "tickets_delete", tickets.delete),
    ("GET", "tickets", "tickets_list", tickets.list_tickets),
    ("POST", "tickets", "tickets_create", tickets.create),
    ("GET", "incremental/tickets/cursor", INCREMENTAL_TICKETS, incremental.export),
    (
        "GET",
        "incremental/tickets",
        "incremental_tickets_by_time",
        incremental.export_tickets_by_time,
    ),
    (
        "GET",
        "incremental/ticket_events",
        "incremental_ticket_events",
        incremental.export_ticket_events,
    ),
    ("GET", "incremental/users/cursor", INCREMENTAL_USERS, incremental.export_users),
    ("GET", "incremental/users", "incremental_users_by_time", incremental.export_users_by_time),
    # search
    ("GET", "search", "search", search.search),
    # job statuses
    ("GET", "job_statuses/show_many", "job_statuses_show_many", bulk.show_many_jobs),
    ("GET", r"job_statuses/(?P<id>[A-Za-z0-9-]+)", "job_statuses", bulk.show_job),
    # catalogue
    ("GET", "brands", "brands_list", catalog.list_brands),
    ("GET", f"brands/{_ID}", "brands_show", catalog.show_brand),
    ("GET", "groups", "groups_list", catalog.list_groups),
    ("GET", f"groups/{_ID}", "groups_show", catalog.show_group),
    ("GET", "ticket_fields", "ticket_fields", catalog.list_ticket_fields),
    ("GET", f"ticket_fields/{_ID}", "ticket_fields_show", catalog.show_ticket_field),
    ("GET", "user_fields", "user_fields", catalog.list_user_fields),
    ("GET", f"user_fields/{_ID}", "user_fields_show", catalog.show_user_field),
    ("GET", "organization_fields", "organization_fields", catalog.list_organization_fields),
    (
        "GET",
        f"organization_fields/{_ID}",
        "organization_fields_show",
        catalog.show_organization_field,
    ),
)


def pattern(path: str) -> str:
    """The full path regex: ``/api/v2/<path>`` with or without ``.json``."""
    return rf"/api/v2/{path}(?:\.json)?"
