"""Tickets: create (honouring ``Idempotency-Key``), update with comments, bulk jobs, reads.

Validation follows Zendesk: a ticket needs a first comment (``comment.body`` or
``description``); status, priority and type must be known values; group and assignee must
exist (the assignee must be staff); a closed ticket cannot be changed. Unknown custom field ids
are ignored. A ``requester: {email, name}`` creates the end user when the email is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulators.base import Response

from . import bulk, render, sideloads
from .context import Call, Context, ok
from .errors import MAX_BATCH, Invalid, bad_request, too_many_values
from .fields import FieldValueError, coerce
from .paging import paginate
from .records import (
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    TICKET_TYPES,
    Comment,
    Ticket,
    normalize_tags,
)
from .store import Store
from .users import EMAIL, create_user

_CHOICES = {"status": TICKET_STATUSES, "priority": TICKET_PRIORITIES, "type": TICKET_TYPES}
_AUDITED = ("subject", "status", "priority", "type", "requester_id", "assignee_id")
_AUDITED_MORE = ("organization_id", "group_id", "external_id", "brand_id")


# -- reads ------------------------------------------------------------------------------------
def show(ctx: Context, call: Call) -> Response:
    ticket = ctx.store.ticket(call.int_param("id"))
    return ok({"ticket": render.ticket(ticket, call.base, ctx.store)})


def show_many(ctx: Context, call: Call) -> Response:
    ids = call.id_list("ids")
    if len(ids) > MAX_BATCH:
        raise too_many_values("Parameter ids cannot specify more than 100 values")
    wanted = {int(i) for i in ids if i.isdigit()}
    return listing(ctx, call, [t for t in ctx.store.tickets.values() if t.id in wanted])


def list_tickets(ctx: Context, call: Call) -> Response:
    """All tickets, or every ticket carrying ``?external_id=`` (not unique in Zendesk)."""
    external_id = call.request.arg("external_id")
    if external_id is not None:
        return listing(ctx, call, ctx.store.tickets_by_external_id(external_id))
    return listing(ctx, call, list(ctx.store.tickets.values()))


def requested(ctx: Context, call: Call) -> Response:
    user = ctx.store.user(call.int_param("id"))
    return listing(ctx, call, [t for t in ctx.store.tickets.values() if t.requester_id == user.id])


def of_organization(ctx: Context, call: Call) -> Response:
    org = ctx.store.organization(call.int_param("id"))
    owned = [t for t in ctx.store.tickets.values() if t.organization_id == org.id]
    return listing(ctx, call, owned)


def listing(ctx: Context, call: Call, tickets: list[Ticket]) -> Response:
    body = paginate(
        call.request,
        sorted(tickets, key=lambda t: t.id),
        "tickets",
        lambda t, cursor: render.ticket(t, call.base, ctx.store, with_fields=not cursor),
        lambda t: t.id,
    )
    body.update(sideloads.for_tickets(ctx.store, call.request, call.base, body["tickets"]))
    return ok(body)


def audits(ctx: Context, call: Call) -> Response:
    """Every change of one ticket, oldest first (a no-op update leaves no audit)."""
    ticket = ctx.store.ticket(call.int_param("id"))
    return ok(paginate(call.request, ticket.audits, "audits", lambda a, _c: dict(a), _audit_id))


def _audit_id(audit: dict[str, Any]) -> int:
    return int(audit["id"])


def comments(ctx: Context, call: Call) -> Response:
    ticket = ctx.store.ticket(call.int_param("id"))
    ordered = sorted(ticket.comments, key=lambda c: c.id)
    if call.request.arg("sort_order") == "desc":
        ordered.reverse()
    body = paginate(
        call.request,
        ordered,
        "comments",
        lambda c, _cursor: render.comment(c),
        lambda c: c.id,
    )
    return ok(body)


# -- single writes ----------------------------------------------------------------------------
def create(ctx: Context, call: Call) -> Response:
    key = call.request.header("idempotency-key")
    body = call.body()
    if key:
        remembered = ctx.idempotency.lookup(key, body, ctx.now())
        if remembered is not None:
            return remembered
    ticket, audit = create_ticket(ctx, call.member("ticket"), call.actor_id)
    location = f"{call.base}/api/v2/tickets/{ticket.id}.json"
    headers = {"Location": location}
    if key:
        headers["x-idempotency-lookup"] = "miss"
    response = ok(
        {"ticket": render.ticket(ticket, call.base, ctx.store), "audit": audit}, 201, headers
    )
    if key:
        ctx.idempotency.remember(key, body, response, ctx.now())
    return response


def update(ctx: Context, call: Call) -> Response:
    ticket = ctx.store.ticket(call.int_param("id"))
    audit = update_ticket(ctx, ticket, call.member("ticket"), call.actor_id)
    return ok({"ticket": render.ticket(ticket, call.base, ctx.store), "audit": audit})


def delete(ctx: Context, call: Call) -> Response:
    """Soft delete: 204, the ticket is gone from reads and shows as ``deleted`` in exports."""
    ctx.store.remove_ticket(ctx.store.ticket(call.int_param("id")))
    return Response.empty(204)


# -- bulk writes ------------------------------------------------------------------------------
def create_many(ctx: Context, call: Call) -> Response:
    batch = bulk.items(call, "tickets")

    def apply(index: int, data: dict[str, Any]) -> dict[str, Any]:
        ticket, _audit = create_ticket(ctx, data, call.actor_id)
        return {"index": index, "id": ticket.id, "account_id": render.ACCOUNT_ID}

    return bulk.run(ctx, call, "Creating ticket", batch, apply, bulk.failed("TicketCreateFailed"))


def update_many(ctx: Context, call: Call) -> Response:
    """``{"tickets": [...]}`` with ids, or one ``{"ticket": {...}}`` for ``?ids=``."""
    ids, body = call.id_list("ids"), call.body()
    if ids and isinstance(body.get("ticket"), dict):
        if len(ids) > MAX_BATCH:
            raise too_many_values()
        batch = [{**body["ticket"], "id": int(i)} for i in ids if i.isdigit()]
    else:
        batch = bulk.items(call, "tickets")

    def apply(_index: int, data: dict[str, Any]) -> dict[str, Any]:
        ticket_id = data.get("id")
        if not isinstance(ticket_id, int):
            raise bad_request("InvalidValue", "Each ticket needs an id")
        update_ticket(ctx, ctx.store.ticket(ticket_id), data, call.actor_id)
        return {"action": "update", "status": "Updated", "success": True, "id": ticket_id}

    return bulk.run(ctx, call, "Updating ticket", batch, apply, bulk.failed("TicketUpdateFailed"))


# -- write rules ------------------------------------------------------------------------------
@dataclass
class _NewRequester:
    email: str
    name: str | None


def create_ticket(
    ctx: Context, data: dict[str, Any], actor_id: int
) -> tuple[Ticket, dict[str, Any]]:
    """Validate and store a new ticket; answers the audit Zendesk returns alongside it."""
    store, now = ctx.store, ctx.now()
    invalid = Invalid()
    first = _comment_input(data.get("comment"))
    body = first.get("body") or first.get("html_body") or data.get("description")
    if not isinstance(body, str) or not body.strip():
        invalid.add("base", "Description: cannot be blank", "BlankValue")
    requester = _requester(store, data, actor_id, invalid)
    values = _checked_values(store, data, invalid)
    custom = _custom_values(store, data.get("custom_fields"), invalid)
    invalid.raise_if_any()

    if isinstance(requester, _NewRequester):
        requester_id = create_user(
            ctx, {"email": requester.email, "name": requester.name}, default_name=True
        ).id
    else:
        requester_id = requester
    requester_org = store.users[requester_id].organization_id
    # Zendesk: "the submitter always becomes the author of the first comment".
    submitter_id = data.get("submitter_id")
    if not isinstance(submitter_id, int) or not store.has(store.users, submitter_id):
        submitter_id = actor_id
    ticket = Ticket(
        id=store.new_ticket_id(),
        subject=str(data.get("subject") or ""),
        description=str(body),
        requester_id=requester_id,
        submitter_id=submitter_id,
        created_at=now,
        updated_at=now,
        organization_id=values.pop("organization_id", requester_org),
        tags=normalize_tags(data["tags"]) if isinstance(data.get("tags"), list) else [],
    )
    for attribute, value in values.items():
        setattr(ticket, attribute, value)
    _set_custom(store, ticket, custom)
    ticket.sequence = store.next_sequence()
    audit_id = store.new_id()
    comment = _new_comment(
        store, first, str(body), submitter_id, now, audit_id, public_default=True
    )
    ticket.comments.append(comment)
    store.index_ticket(ticket)
    events = [render.comment_event(comment)]
    for attribute in _AUDITED + _AUDITED_MORE:
        value = getattr(ticket, attribute)
        events.append(_event("Create", attribute, value, store))
    audit = render.audit(ticket.id, audit_id, actor_id, now, events)
    ticket.audits.append(audit)
    return ticket, audit


def update_ticket(
    ctx: Context, ticket: Ticket, data: dict[str, Any], actor_id: int
) -> dict[str, Any]:
    """Apply changes and an optional comment; answers the audit of this update."""
    store, now = ctx.store, ctx.now()
    invalid = Invalid()
    if ticket.status == "closed":
        invalid.add("status", "Status: closed prevents ticket update", "ClosedPreventsUpdate")
        invalid.raise_if_any()
    values = _checked_values(store, data, invalid)
    if "requester_id" in data:
        requester = _requester(store, data, actor_id, invalid)
        if isinstance(requester, int):
            values["requester_id"] = requester
    custom = _custom_values(store, data.get("custom_fields"), invalid)
    invalid.raise_if_any()

    audit_id = store.new_id()
    events: list[dict[str, Any]] = []
    incoming = _comment_input(data.get("comment"))
    text = incoming.get("body") or incoming.get("html_body")
    if isinstance(text, str) and text.strip():
        comment = _new_comment(store, incoming, text, actor_id, now, audit_id, public_default=True)
        ticket.comments.append(comment)
        events.append(render.comment_event(comment))
    if "subject" in data and data["subject"] is not None:
        values["subject"] = str(data["subject"])
    for attribute, value in values.items():
        previous = getattr(ticket, attribute)
        if previous != value:
            setattr(ticket, attribute, value)
            events.append(_event("Change", attribute, value, store, previous))
    tags = _next_tags(ticket.tags, data)
    if tags != ticket.tags:
        events.append(_event("Change", "tags", tags, store, ticket.tags))
        ticket.tags = tags
    if _set_custom(store, ticket, custom):
        events.append({"id": store.new_id(), "type": "Change", "field_name": "custom_fields"})
    audit = render.audit(ticket.id, audit_id, actor_id, now, events)
    if events:
        store.touch(ticket)
        store.index_ticket(ticket)
        ticket.audits.append(audit)
    return audit


def _checked_values(store: Store, data: dict[str, Any], invalid: Invalid) -> dict[str, Any]:
    """Validated scalar attributes present in ``data``."""
    values: dict[str, Any] = {}
    for attribute, allowed in _CHOICES.items():
        if attribute in data:
            value = data[attribute]
            if value is not None and value not in allowed:
                label = attribute.capitalize()
                invalid.add(attribute, f"{label}: {value} is not valid", "InvalidValue")
            elif value is not None or attribute != "status":
                values[attribute] = value
    if "group_id" in data:
        group_id = data["group_id"]
        if group_id is not None and not store.has(store.groups, group_id):
            invalid.add("group", "Group: is invalid", "InvalidValue")
        values["group_id"] = group_id
    if "assignee_id" in data:
        assignee_id = data["assignee_id"]
        assignee = store.users.get(assignee_id) if store.has(store.users, assignee_id) else None
        if assignee_id is not None and (assignee is None or assignee.role == "end-user"):
            invalid.add("assignee", "Assignee: is invalid", "InvalidValue")
        values["assignee_id"] = assignee_id
    if "organization_id" in data:
        org_id = data["organization_id"]
        if org_id is not None and not store.has(store.organizations, org_id):
            invalid.add("organization", "Organization: is invalid", "InvalidValue")
        values["organization_id"] = org_id
    if "brand_id" in data:
        brand_id = data["brand_id"]
        if brand_id is None or not store.has(store.brands, brand_id):
            invalid.add("brand", "Brand: is invalid", "InvalidValue")
        values["brand_id"] = brand_id
    if "external_id" in data:
        external_id = data["external_id"]
        values["external_id"] = None if external_id in (None, "") else str(external_id)
    return values


def _requester(
    store: Store, data: dict[str, Any], actor_id: int, invalid: Invalid
) -> int | _NewRequester:
    requester = data.get("requester")
    if isinstance(requester, dict):
        email = requester.get("email")
        if not isinstance(email, str) or not EMAIL.match(email.strip()):
            message = f"Requester: Email: {email} is not properly formatted"
            invalid.add("requester", message, "InvalidFormat")
            return actor_id
        known = store.user_by_email(email)
        if known is not None:
            return known.id
        name = requester.get("name")
        return _NewRequester(email.strip().lower(), name if isinstance(name, str) else None)
    requester_id = data.get("requester_id")
    if requester_id is None:
        return actor_id
    if not isinstance(requester_id, int) or not store.has(store.users, requester_id):
        invalid.add("requester", "Requester: is invalid", "InvalidValue")
        return actor_id
    return requester_id


def _custom_values(store: Store, raw: Any, invalid: Invalid) -> dict[int, Any]:
    """Coerced values by field id from ``[{id, value}]`` (or ``{id: value}``)."""
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [(item.get("id"), item.get("value")) for item in raw if isinstance(item, dict)]
    else:
        return {}
    values: dict[int, Any] = {}
    for raw_id, value in pairs:
        try:
            field_id = int(raw_id)
        except (TypeError, ValueError):
            continue
        definition = store.ticket_fields.get(field_id)
        if definition is None or definition.system or not definition.active:
            continue
        try:
            values[field_id] = coerce(definition, value)
        except FieldValueError as error:
            invalid.add(
                "base",
                f"{definition.title}: {error}",
                "InvalidValue",
                ticket_field_id=field_id,
                ticket_field_type=f"Field{definition.type.capitalize()}",
            )
    return values


def _set_custom(store: Store, ticket: Ticket, values: dict[int, Any]) -> bool:
    """Store custom values; a dropdown's value also lives in the ticket's tags."""
    changed = False
    for field_id, value in values.items():
        if ticket.custom_fields.get(field_id) == value:
            continue
        changed = True
        ticket.custom_fields[field_id] = value
        option_tags = {option.value for option in store.ticket_fields[field_id].options}
        if option_tags:
            ticket.tags = [tag for tag in ticket.tags if tag not in option_tags]
            if value is not None:
                ticket.tags.append(value)
    return changed


def _next_tags(current: list[str], data: dict[str, Any]) -> list[str]:
    tags = normalize_tags(data["tags"]) if isinstance(data.get("tags"), list) else list(current)
    if isinstance(data.get("additional_tags"), list):
        tags += [t for t in normalize_tags(data["additional_tags"]) if t not in tags]
    if isinstance(data.get("remove_tags"), list):
        removed = set(normalize_tags(data["remove_tags"]))
        tags = [t for t in tags if t not in removed]
    return tags


def _comment_input(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        return {"body": raw}
    return {}


def _new_comment(
    store: Store,
    data: dict[str, Any],
    body: str,
    actor_id: int,
    now: float,
    audit_id: int,
    *,
    public_default: bool,
) -> Comment:
    public = data.get("public", public_default)
    author_id = _int_or(data.get("author_id"), actor_id)
    html_body = data.get("html_body") if isinstance(data.get("html_body"), str) else None
    return Comment(
        id=store.new_id(),
        author_id=author_id if author_id in store.users else actor_id,
        body=body,
        public=bool(public),
        created_at=now,
        audit_id=audit_id,
        html_body=html_body,
    )


def _event(kind: str, field: str, value: Any, store: Store, previous: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": store.new_id(),
        "type": kind,
        "value": _event_value(value),
        "field_name": field,
    }
    if kind == "Change":
        event["previous_value"] = _event_value(previous)
    return event


def _event_value(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
