"""JSON shapes of Zendesk resources, key for key as in recorded traffic.

Keys the emulator has no behaviour behind (brand, forms, followers, photos, ...) are present
with the neutral values a plain account shows, so clients that read them see the same types.
"""

from __future__ import annotations

import html
from typing import Any

from .clock import iso
from .records import Brand, Comment, CustomField, Group, Organization, Ticket, User
from .store import Store

ACCOUNT_ID = 18525119
TICKET_FORM_ID = 360_000_000_010
# One custom status per status category, as an account without custom statuses has.
CUSTOM_STATUS_IDS = {
    "new": 360_000_000_101,
    "open": 360_000_000_102,
    "pending": 360_000_000_103,
    "hold": 360_000_000_104,
    "solved": 360_000_000_105,
    "closed": 360_000_000_105,
    "deleted": 360_000_000_105,
}


def via(channel: str) -> dict[str, Any]:
    return {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}


def user(record: User, base: str, store: Store) -> dict[str, Any]:
    staff = record.role in ("agent", "admin")
    return {
        "id": record.id,
        "url": f"{base}/api/v2/users/{record.id}.json",
        "name": record.name,
        "email": record.email,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "time_zone": record.time_zone,
        "iana_time_zone": record.time_zone,
        "phone": record.phone,
        "shared_phone_number": None,
        "photo": None,
        "locale_id": 1,
        "locale": record.locale,
        "organization_id": record.organization_id,
        "role": record.role,
        "verified": record.verified,
        "external_id": record.external_id,
        "tags": list(record.tags),
        "alias": None,
        "active": record.active,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": False,
        "signature": None,
        "details": record.details,
        "notes": record.notes,
        "role_type": None,
        "custom_role_id": None,
        "moderator": record.role == "admin",
        "ticket_restriction": None if staff else "requested",
        "only_private_comments": False,
        "restricted_agent": not staff,
        "suspended": False,
        "default_group_id": record.default_group_id,
        "report_csv": record.role == "admin",
        "user_fields": _named_values(record.user_fields, store.active_fields(store.user_fields)),
    }


def organization(record: Organization, base: str, store: Store) -> dict[str, Any]:
    return {
        "url": f"{base}/api/v2/organizations/{record.id}.json",
        "id": record.id,
        "name": record.name,
        "shared_tickets": False,
        "shared_comments": False,
        "external_id": record.external_id,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "domain_names": list(record.domain_names),
        "details": record.details,
        "notes": record.notes,
        "group_id": record.group_id,
        "tags": list(record.tags),
        "organization_fields": _named_values(
            record.organization_fields, store.active_fields(store.organization_fields)
        ),
    }


def ticket(
    record: Ticket,
    base: str,
    store: Store,
    *,
    with_fields: bool = True,
    generated_timestamp: bool = False,
) -> dict[str, Any]:
    """A ticket; cursor-paginated lists omit the ``fields`` alias, as Zendesk does."""
    custom = [
        {"id": definition.id, "value": record.custom_fields.get(definition.id)}
        for definition in store.active_fields(store.ticket_fields)
    ]
    first_public = record.comments[0].public if record.comments else True
    body: dict[str, Any] = {
        "url": f"{base}/api/v2/tickets/{record.id}.json",
        "id": record.id,
        "external_id": record.external_id,
        "via": via(record.via_channel),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "type": record.type,
        "subject": record.subject,
        "raw_subject": record.subject,
        "description": record.description,
        "priority": record.priority,
        "status": record.status,
        "recipient": None,
        "requester_id": record.requester_id,
        "submitter_id": record.submitter_id,
        "assignee_id": record.assignee_id,
        "organization_id": record.organization_id,
        "group_id": record.group_id,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": first_public,
        "due_at": None,
        "tags": list(record.tags),
        "custom_fields": custom,
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "custom_status_id": CUSTOM_STATUS_IDS[record.status],
        "fields": [dict(item) for item in custom],
        "followup_ids": [],
        "ticket_form_id": TICKET_FORM_ID,
        "brand_id": record.brand_id,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }
    if not with_fields:
        del body["fields"]
    if generated_timestamp:
        body["generated_timestamp"] = int(record.updated_at)
    return body


def comment(record: Comment, channel: str = "api") -> dict[str, Any]:
    html_body = record.html_body or _paragraphs(record.body)
    return {
        "id": record.id,
        "type": "Comment",
        "author_id": record.author_id,
        "body": record.body,
        "html_body": html_body,
        "plain_body": record.body,
        "public": record.public,
        "attachments": [],
        "audit_id": record.audit_id,
        "via": via(channel),
        "created_at": iso(record.created_at),
        "metadata": _metadata(),
    }


def audit(
    ticket_id: int,
    audit_id: int,
    author_id: int,
    created_at: float,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "id": audit_id,
        "ticket_id": ticket_id,
        "created_at": iso(created_at),
        "author_id": author_id,
        "metadata": _metadata(),
        "events": events,
        "via": via("api"),
    }


def comment_event(record: Comment) -> dict[str, Any]:
    return {
        "id": record.id,
        "type": "Comment",
        "author_id": record.author_id,
        "body": record.body,
        "html_body": record.html_body or _paragraphs(record.body),
        "plain_body": record.body,
        "public": record.public,
        "attachments": [],
        "audit_id": record.audit_id,
    }


def brand(record: Brand, base: str) -> dict[str, Any]:
    return {
        "url": f"{base}/api/v2/brands/{record.id}.json",
        "id": record.id,
        "name": record.name,
        "brand_url": base,
        "subdomain": record.subdomain,
        "host_mapping": None,
        "has_help_center": False,
        "help_center_state": "disabled",
        "active": True,
        "default": record.default,
        "is_deleted": False,
        "logo": None,
        "ticket_form_ids": [TICKET_FORM_ID],
        "signature_template": "{{agent.signature}}",
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


def group(record: Group, base: str) -> dict[str, Any]:
    return {
        "url": f"{base}/api/v2/groups/{record.id}.json",
        "id": record.id,
        "is_public": record.is_public,
        "name": record.name,
        "description": record.description,
        "default": False,
        "deleted": False,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


def ticket_field(record: CustomField, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": f"{base}/api/v2/ticket_fields/{record.id}.json",
        "id": record.id,
        "type": record.type,
        "title": record.title,
        "raw_title": record.title,
        "description": record.description,
        "raw_description": record.description,
        "position": record.position,
        "active": record.active,
        "required": False,
        "collapsed_for_agents": False,
        "regexp_for_validation": None,
        "title_in_portal": record.title,
        "raw_title_in_portal": record.title,
        "visible_in_portal": record.system,
        "editable_in_portal": record.system,
        "required_in_portal": False,
        "tag": None,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.created_at),
        "removable": not record.system,
        "key": None,
        "agent_description": None,
    }
    if record.options:
        body["custom_field_options"] = _options(record, base, "ticket_fields")
    return body


def custom_field(record: CustomField, base: str, collection: str) -> dict[str, Any]:
    """A user or organization field; ``collection`` names the endpoint."""
    body: dict[str, Any] = {
        "url": f"{base}/api/v2/{collection}/{record.id}.json",
        "id": record.id,
        "type": record.type,
        "key": record.key,
        "title": record.title,
        "description": record.description,
        "raw_title": record.title,
        "raw_description": record.description,
        "position": record.position,
        "active": record.active,
        "system": record.system,
        "regexp_for_validation": None,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.created_at),
    }
    if record.options:
        body["custom_field_options"] = _options(record, base, collection)
    return body


def _options(record: CustomField, base: str, collection: str) -> list[dict[str, Any]]:
    return [
        {
            "id": option.id,
            "name": option.name,
            "raw_name": option.name,
            "value": option.value,
            "default": False,
            "url": f"{base}/api/v2/{collection}/{record.id}/options/{option.id}.json",
        }
        for option in record.options
    ]


def _named_values(values: dict[str, Any], definitions: list[CustomField]) -> dict[str, Any]:
    """Every active field's key, ``None`` when unset; removed fields disappear."""
    return {d.key: values.get(d.key) for d in definitions if d.key is not None}


def _metadata() -> dict[str, Any]:
    system = {
        "client": "nps-sync emulator",
        "ip_address": "127.0.0.1",
        "location": "Localhost",
        "latitude": 0.0,
        "longitude": 0.0,
    }
    return {"system": system, "custom": {}}


def _paragraphs(text: str) -> str:
    inner = "".join(f'<p dir="auto">{html.escape(part)}</p>' for part in text.split("\n\n") if part)
    return f'<div class="zd-comment" dir="auto">{inner}</div>'
